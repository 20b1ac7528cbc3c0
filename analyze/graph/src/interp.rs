//! The `Interpreter` trait every pass implements (the shape of torch.fx's
//! `Interpreter` and of the seed's `Evaluator`): one method per node kind,
//! each with a default, and a runner that visits nodes in data order,
//! hands each the values of its inputs, and keeps a value only while some
//! node still has to read it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use hltpy_schema::{NodeKind, Role};
use smallvec::SmallVec;

use crate::graph::{Graph, GraphError, Node, NODE_COLUMNS};

/// An error of a pass, with the node it happened at.
#[derive(Debug, thiserror::Error)]
pub enum InterpretError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{message} (while evaluating node {id} ({kind}, {location}))")]
    AtNode {
        message: String,
        id: u64,
        kind: NodeKind,
        location: String,
    },
}

impl InterpretError {
    pub fn at(node: &Node, message: impl Into<String>) -> InterpretError {
        InterpretError::AtNode {
            message: message.into(),
            id: node.id,
            kind: node.kind,
            location: node.location(),
        }
    }
}

/// The values of a node's inputs, in the order of `node.inputs`; `None`
/// for an input whose node is not there (outside a cone, or dangling).
pub struct Args<'a, V> {
    pub node: &'a Node,
    pub values: SmallVec<[Option<&'a V>; 4]>,
}

impl<'a, V> Args<'a, V> {
    /// The value of the first input with `role`.
    pub fn get(&self, role: Role) -> Option<&'a V> {
        self.node
            .inputs
            .iter()
            .position(|i| i.role == role)
            .and_then(|i| self.values[i])
    }

    /// The value of the input with `role` and `key`.
    pub fn keyed(&self, role: Role, key: &str) -> Option<&'a V> {
        self.node
            .inputs
            .iter()
            .position(|i| i.role == role && i.key.as_deref() == Some(key))
            .and_then(|i| self.values[i])
    }

    /// Positional arguments (`arg` inputs) in position order; `None` when
    /// one is missing or the positions are not 0, 1, 2, …
    pub fn positional(&self) -> Option<Vec<&'a V>> {
        let mut found: Vec<(usize, &'a V)> = Vec::new();
        for (input, value) in self.node.inputs.iter().zip(&self.values) {
            if input.role == Role::Arg {
                let position = input.key.as_deref()?.parse().ok()?;
                found.push((position, (*value)?));
            }
        }
        found.sort_by_key(|(p, _)| *p);
        found
            .iter()
            .enumerate()
            .all(|(i, (p, _))| i == *p)
            .then(|| found.into_iter().map(|(_, v)| v).collect())
    }

    /// Keyword arguments (`kwarg` inputs) with their names.
    pub fn keywords(&self) -> Option<Vec<(&'a str, &'a V)>> {
        self.node
            .inputs
            .iter()
            .zip(&self.values)
            .filter(|(input, _)| input.role == Role::Kwarg)
            .map(|(input, value)| Some((input.key.as_deref()?, (*value)?)))
            .collect()
    }
}

/// A pass over a trace. `visit` dispatches on the node's kind to one
/// method per kind; each defaults to [`Interpreter::fallback`], so a pass
/// overrides only the kinds it cares about, and a new kind added to the
/// format fails to build here (the `match` has no catch-all arm).
pub trait Interpreter {
    type Value;

    /// What a kind that the pass does not override gives.
    fn fallback(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError>;

    /// Called with every node's value once it is known, with how many
    /// nodes read it (0: a result no one used), before the runner drops
    /// values no one needs: the place to compare or collect.
    fn observe(
        &mut self,
        _node: &Node,
        _value: &Self::Value,
        _readers: u32,
    ) -> Result<(), InterpretError> {
        Ok(())
    }

    /// The columns of a node the pass reads when it streams a trace
    /// (`TraceFiles::run`): the others' pages are not decoded, and read as
    /// null. Every column a [`Node`] holds unless the pass says less.
    fn columns(&self) -> &'static [&'static str] {
        NODE_COLUMNS
    }

    fn visit(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        match args.node.kind {
            NodeKind::Const => self.constant(args),
            NodeKind::Deep => self.deep(args),
            NodeKind::Function => self.function(args),
            NodeKind::Class => self.class(args),
            NodeKind::Obj => self.obj(args),
            NodeKind::NewInit => self.new_init(args),
            NodeKind::SetAttr => self.set_attr(args),
            NodeKind::GetAttr => self.get_attr(args),
            NodeKind::GetItem => self.get_item(args),
            NodeKind::SetItem => self.set_item(args),
            NodeKind::DelItem => self.del_item(args),
            NodeKind::Argument => self.argument(args),
            NodeKind::Call => self.call(args),
            NodeKind::Dispatch => self.dispatch(args),
            NodeKind::UCall => self.ucall(args),
            NodeKind::UDispatch => self.udispatch(args),
            NodeKind::Iterator => self.iterator(args),
            NodeKind::Iteration => self.iteration(args),
            NodeKind::Generator => self.generator(args),
            NodeKind::Generation => self.generation(args),
            NodeKind::Coroutine => self.coroutine(args),
            NodeKind::Awaited => self.awaited(args),
        }
    }

    fn constant(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn deep(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn function(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn class(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn obj(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn new_init(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn set_attr(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn get_attr(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn get_item(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn set_item(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn del_item(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn argument(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn call(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn dispatch(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn ucall(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn udispatch(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn iterator(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn iteration(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn generator(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn generation(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn coroutine(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
    fn awaited(&mut self, args: &Args<Self::Value>) -> Result<Self::Value, InterpretError> {
        self.fallback(args)
    }
}

/// A hasher for node ids: ids are already well spread integers, so one
/// multiply does what SipHash does at a fraction of the cost (the live
/// table is touched several times per node).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (id ^ (id >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by node id.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Node ids to positions (rows of a trace, places in a graph): a vector
/// while ids stay below [`dense_limit`] of the positions given so far
/// (hltpy numbers nodes 0..n), a map for the rest (foreign or damaged
/// traces, a cone's far ids). A lookup by index instead of hashing: the
/// graph's passes look ids up for every input they follow.
#[derive(Clone, Debug, Default)]
pub struct IdPositions {
    dense: Vec<u32>,
    sparse: IdMap<u32>,
}

/// No position.
const ABSENT: u32 = u32::MAX;

impl IdPositions {
    /// Records that `id` is at `at` (a later record of an id wins).
    pub fn insert(&mut self, id: u64, at: u32) {
        if id < dense_limit(u64::from(at)) {
            let index = id as usize;
            if index >= self.dense.len() {
                self.dense.resize(index + 1, ABSENT);
            }
            self.dense[index] = at;
        } else {
            self.sparse.insert(id, at);
        }
    }

    pub fn get(&self, id: u64) -> Option<u32> {
        match usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            Some(&at) if at != ABSENT => Some(at),
            _ => self.sparse.get(&id).copied(),
        }
    }
}

/// A set of node ids.
pub type IdSet = std::collections::HashSet<u64, BuildHasherDefault<IdHasher>>;

/// How many nodes read each node: what lets the runner drop a value as
/// soon as its last reader has run. Dense by id (ids start at 0 and are
/// consecutive in hltpy's traces), a byte per id: most nodes are read a
/// few times, and a 100M-node trace's counts took 400 MB as `u32`s.
/// Counts from [`MANY`] up, and ids beyond the dense range, go to a map.
pub struct UseCounts {
    dense: Vec<u8>,
    sparse: HashMap<u64, u32>,
    /// Ids below this are counted in `dense`: about twice the trace's
    /// nodes, so a crafted id (4,000,000,000 in a 56-node trace) is one
    /// map entry, not gigabytes of zeros.
    dense_limit: u64,
}

/// Ids below this are kept in tables indexed by id (vectors, bitmaps) by
/// the passes over a trace of `nodes` nodes, larger ones in maps: hltpy
/// numbers nodes 0..n (the slack covers traces numbered from elsewhere),
/// and no crafted id may allocate more than the trace holds.
pub fn dense_limit(nodes: u64) -> u64 {
    nodes.saturating_mul(2).saturating_add(1 << 20)
}

/// A dense count that says "in the map".
const MANY: u8 = u8::MAX;

impl UseCounts {
    /// Empty counts for a trace of `nodes` nodes.
    pub fn for_trace(nodes: u64) -> UseCounts {
        UseCounts {
            dense: Vec::new(),
            sparse: HashMap::new(),
            dense_limit: dense_limit(nodes),
        }
    }

    pub fn add(&mut self, src: u64) {
        if src >= self.dense_limit {
            *self.sparse.entry(src).or_default() += 1;
            return;
        }
        let index = src as usize;
        if index >= self.dense.len() {
            self.dense.resize(index + 1, 0);
        }
        match self.dense[index] {
            MANY => {
                let count = self.sparse.entry(src).or_default();
                *count = count.saturating_add(1);
            }
            count if count + 1 == MANY => {
                self.dense[index] = MANY;
                self.sparse.insert(src, u32::from(MANY));
            }
            count => self.dense[index] = count + 1,
        }
    }

    /// Adds the counts of another part of the same trace (the light pass
    /// counts row groups on two threads).
    pub fn merge(&mut self, other: UseCounts) {
        debug_assert_eq!(self.dense_limit, other.dense_limit, "parts of one trace");
        if other.dense.len() > self.dense.len() {
            self.dense.resize(other.dense.len(), 0);
        }
        for (index, &theirs) in other.dense.iter().enumerate() {
            let mine = self.dense[index];
            match mine.checked_add(theirs) {
                Some(sum) if sum < MANY => self.dense[index] = sum,
                _ => {
                    let id = index as u64;
                    let total = self.get(id).saturating_add(other.get(id));
                    self.dense[index] = MANY;
                    self.sparse.insert(id, total);
                }
            }
        }
        for (id, count) in other.sparse {
            if id >= self.dense_limit {
                let mine = self.sparse.entry(id).or_default();
                *mine = mine.saturating_add(count);
            }
        }
    }

    pub fn of(nodes: &[Node]) -> UseCounts {
        let mut counts = UseCounts::for_trace(nodes.len() as u64);
        for node in nodes {
            for input in &node.inputs {
                counts.add(input.src);
            }
        }
        counts
    }

    /// Every id read at least once, with its count: dense ids in order,
    /// then the rest.
    pub fn read_ids(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let dense = self.dense.iter().enumerate().filter(|(_, c)| **c > 0);
        let dense = dense.map(|(id, _)| (id as u64, self.get(id as u64)));
        let sparse = self
            .sparse
            .iter()
            .filter(|(id, _)| **id >= self.dense_limit);
        dense.chain(sparse.map(|(id, count)| (*id, *count)))
    }

    fn get(&self, id: u64) -> u32 {
        match self.dense_count(id) {
            Some(MANY) | None => self.sparse.get(&id).copied().unwrap_or(0),
            Some(count) => u32::from(count),
        }
    }

    fn dense_count(&self, id: u64) -> Option<u8> {
        if id < self.dense_limit {
            Some(self.dense.get(id as usize).copied().unwrap_or(0))
        } else {
            None
        }
    }

    /// One use of `id` happened; true when it was the last.
    fn used(&mut self, id: u64) -> bool {
        if id < self.dense_limit {
            let Some(count) = self.dense.get_mut(id as usize) else {
                return true;
            };
            match *count {
                0 => return true,
                MANY => {}
                _ => {
                    *count -= 1;
                    return *count == 0;
                }
            }
        }
        match self.sparse.get_mut(&id) {
            Some(count) if *count > 0 => {
                *count -= 1;
                *count == 0
            }
            _ => true,
        }
    }
}

/// Feeds nodes, in data order, to an interpreter, and keeps the values
/// still to be read. Nodes may come from a whole file (streamed batch by
/// batch) or from a graph.
pub struct Runner<'i, I: Interpreter> {
    interpreter: &'i mut I,
    uses: UseCounts,
    live: IdMap<I::Value>,
    /// The most values held at once: what bounds the pass's memory.
    pub peak_live: usize,
    /// Ids already visited: an input naming one that is no longer held was
    /// read more often than counted (a foreign or damaged trace).
    seen_before: IdBits,
}

/// A set of node ids: a bit per id below the limit each insertion gives
/// (the trace's [`dense_limit`]), a hash set beyond, so a crafted id costs
/// one entry, not a bitmap up to it.
#[derive(Default)]
pub struct IdBits {
    dense: Vec<u64>,
    sparse: IdSet,
    len: usize,
}

impl IdBits {
    /// Adds `id`, as a bit when it is below `dense_below`; false when it
    /// was there.
    pub fn insert(&mut self, id: u64, dense_below: u64) -> bool {
        if self.contains(id) {
            return false;
        }
        if id < dense_below {
            let (word, bit) = ((id / 64) as usize, id % 64);
            if word >= self.dense.len() {
                self.dense.resize(word + 1, 0);
            }
            self.dense[word] |= 1 << bit;
        } else {
            self.sparse.insert(id);
        }
        self.len += 1;
        true
    }

    pub fn contains(&self, id: u64) -> bool {
        usize::try_from(id / 64)
            .ok()
            .and_then(|word| self.dense.get(word))
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
            || self.sparse.contains(&id)
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'i, I: Interpreter> Runner<'i, I> {
    /// A runner that will see exactly the nodes whose inputs `uses` counted.
    pub fn new(interpreter: &'i mut I, uses: UseCounts) -> Self {
        Runner {
            interpreter,
            live: IdMap::default(),
            peak_live: 0,
            seen_before: IdBits::default(),
            uses,
        }
    }

    /// Visits one node. Every input must have been fed already (it is an
    /// error to read a node that comes later: that is a cycle or a
    /// misordered file); an input that is never fed is `None` for the pass.
    pub fn feed(&mut self, node: &Node, strict_order: bool) -> Result<(), InterpretError> {
        if !self.seen_before.insert(node.id, self.uses.dense_limit) {
            return Err(GraphError::DuplicateId { id: node.id }.into());
        }
        let value = {
            let mut values = SmallVec::with_capacity(node.inputs.len());
            for input in &node.inputs {
                let value = self.live.get(&input.src);
                if value.is_none() && strict_order && !self.seen_before.contains(input.src) {
                    return Err(GraphError::InputNotBefore {
                        id: node.id,
                        src: input.src,
                        role: input.role,
                    }
                    .into());
                }
                values.push(value);
            }
            let args = Args { node, values };
            self.interpreter.visit(&args)?
        };
        let readers = self.uses.get(node.id);
        self.interpreter.observe(node, &value, readers)?;
        for input in &node.inputs {
            if self.uses.used(input.src) {
                self.live.remove(&input.src);
            }
        }
        if readers > 0 {
            self.live.insert(node.id, value);
            self.peak_live = self.peak_live.max(self.live.len());
        }
        Ok(())
    }
}

/// Runs `interpreter` over a graph in data order. Inputs outside the graph
/// (a cone's border) are `None` to the pass.
pub fn run<I: Interpreter>(graph: &Graph, interpreter: &mut I) -> Result<usize, InterpretError> {
    let order = graph.data_order()?;
    let uses = UseCounts::of(graph.nodes());
    let mut runner = Runner::new(interpreter, uses);
    for index in order {
        runner.feed(&graph.nodes()[index], false)?;
    }
    Ok(runner.peak_live)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts around the byte's limit, and ids past the dense range, give
    /// what a plain map of counts gives: `get`, and `used` true exactly
    /// at each id's last use.
    #[test]
    fn use_counts_agree_with_a_map_across_the_byte_limit() {
        let reads: Vec<(u64, u32)> = vec![
            (0, 1),
            (3, 253),
            (4, 254),
            (5, 255),
            (6, 256),
            (7, 1000),
            (dense_limit(8) + 9, 300),
            (1 << 40, 2),
        ];
        let mut counts = UseCounts::for_trace(8);
        // Interleaved, as a trace's inputs come.
        for round in 0..1000 {
            for (id, times) in &reads {
                if round < *times {
                    counts.add(*id);
                }
            }
        }
        let mut read: Vec<(u64, u32)> = counts.read_ids().collect();
        read.sort_unstable();
        assert_eq!(read, reads);
        for (id, times) in &reads {
            assert_eq!(counts.get(*id), *times, "id {id}");
            for used in 1..=*times {
                assert_eq!(counts.used(*id), used == *times, "id {id} use {used}");
            }
            assert_eq!(counts.get(*id), 0, "id {id}");
        }
        assert_eq!(counts.get(1), 0);
        assert!(counts.used(2), "an id never read is done at once");
    }

    /// Counts of two parts merged are the counts of the whole, across the
    /// byte's limit (a part's count at or past it, or only the sum) and
    /// for ids past the dense range.
    #[test]
    fn merged_use_counts_are_the_whole_counts() {
        let far = dense_limit(8) + 9;
        // (id, reads in the first part, reads in the second part)
        let reads: [(u64, u32, u32); 9] = [
            (0, 1, 0),
            (1, 0, 1),
            (2, 3, 4),
            (3, 200, 54),
            (4, 200, 55),
            (5, 300, 1),
            (6, 1, 300),
            (7, 400, 400),
            (far, 2, 3),
        ];
        let count = |part: fn(&(u64, u32, u32)) -> u32| {
            let mut counts = UseCounts::for_trace(8);
            for read in &reads {
                (0..part(read)).for_each(|_| counts.add(read.0));
            }
            counts
        };
        let mut whole = count(|read| read.1);
        whole.merge(count(|read| read.2));
        let mut read: Vec<(u64, u32)> = whole.read_ids().collect();
        read.sort_unstable();
        let expected: Vec<(u64, u32)> = reads.iter().map(|r| (r.0, r.1 + r.2)).collect();
        assert_eq!(read, expected);
        for (id, first, second) in reads {
            for used in 1..=first + second {
                assert_eq!(whole.used(id), used == first + second, "id {id} use {used}");
            }
        }
    }

    /// Ids far beyond the nodes read (a foreign or damaged trace) are
    /// found as well as hltpy's dense ones, without a vector that long.
    #[test]
    fn id_positions_of_sparse_ids() {
        let mut positions = IdPositions::default();
        let ids = [0, 5, 1 << 40, 7, u64::MAX - 1, 3];
        for (at, id) in ids.iter().enumerate() {
            positions.insert(*id, at as u32);
        }
        for (at, id) in ids.iter().enumerate() {
            assert_eq!(positions.get(*id), Some(at as u32), "id {id}");
        }
        assert_eq!(positions.get(1), None);
        assert_eq!(positions.get(1 << 39), None);
        assert_eq!(positions.get(u64::MAX), None);
        assert!(positions.dense.len() <= 8);
    }

    /// Ids below the limit given are bits, the rest a set; each is new
    /// once, wherever it went, even when the limit has grown past it.
    #[test]
    fn id_bits_hold_near_and_far_ids() {
        let mut bits = IdBits::default();
        // (id, limit, new?): 100 and 3 again once the limit has grown.
        let inserts = [
            (3, 64, true),
            (1 << 40, 64, true),
            (100, 64, true),
            (100, 1000, false),
            (3, 1000, false),
        ];
        for (id, below, fresh) in inserts {
            assert_eq!(bits.insert(id, below), fresh, "{id} below {below}");
        }
        assert_eq!(bits.len(), 3);
        for id in [3, 100, 1 << 40] {
            assert!(bits.contains(id), "{id}");
        }
        assert!(!bits.contains(4) && !bits.contains(u64::MAX));
        assert!(bits.dense.len() <= 1, "no bitmap up to a far id");
    }
}
