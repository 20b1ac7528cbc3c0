//! Trace diff: which nodes of two traces (two versions of a program, or
//! two runs of one) are the same computation, and what changed.
//!
//! Matching follows XLA's hlo_diff (GumTree for operation graphs) and
//! relies neither on ids nor on line numbers alone:
//!
//! 1. **Fingerprints.** Each node's upstream subgraph is hashed in row
//!    order (inputs come first): kind, name and value type, then per input
//!    its role, key and the input's fingerprint. Parameters and calls are
//!    transparent: an Argument stands for the value passed and a traced
//!    call for the value it returned, so arithmetic has one fingerprint
//!    whether or not it moved into a helper function. The *structural*
//!    fingerprint leaves values out; the *exact* one adds the recorded
//!    value.
//! 2. **Identical subgraphs, largest first** (by upstream size): a node
//!    whose exact fingerprint the other side has too is matched with its
//!    whole cone; then the same with structural fingerprints (a changed
//!    constant keeps its place). Equal fingerprints pair in order of
//!    occurrence: the k-th with the k-th.
//! 3. **Top-down along the call tree**: under each pair of matched calls
//!    (from the top level down), the calls made inside are paired first by
//!    their returned values (already matched), then by name in call order;
//!    a pair of calls matches its parameters by name.
//! 4. **Propagation**: a matched pair matches its unmatched inputs of the
//!    same role and key, and its users of the same kind and role when
//!    there is exactly one on each side.
//! 5. **Bottom-up similarity** for what is left: a node is matched to the
//!    node of the same kind and name among the users of its inputs'
//!    partners with the best Dice coefficient of matched inputs (at least
//!    one half), preferring one in the same traced function and line.
//!
//! Then each matched pair is the same or has a different value (within
//! `rel_tol` for floats); the rest is only in one trace. A *first
//! divergence* is a matched pair whose inputs all agree but whose value
//! differs: where to look; the differences downstream of it are its
//! consequences.
//!
//! Memory: per node a few integers (kind, interned name and type, a value
//! hash with a short text, fingerprints, inputs as positions), never the
//! recorded strings beyond [`SHORT`] characters.

use std::cmp::Reverse;

use hltpy_schema::{NodeKind, Role};
use serde::Serialize;

use crate::graph::{Node, Recorded};
use crate::interp::{IdMap, IdPositions};
use crate::stream::{RunError, TraceFiles};
use crate::text::Text;

/// No position: an input outside the trace, a top-level node's frame.
const NONE: u32 = u32::MAX;

/// The longest recorded text kept for the report.
pub const SHORT: usize = 40;

/// How two recorded values compare.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Compare structure only: no node differs by its value.
    pub ignore_values: bool,
    /// Lines neither break ties nor appear in the report.
    pub ignore_locations: bool,
    /// Floats within this relative tolerance are equal.
    pub rel_tol: Option<f64>,
}

/// A recorded value, as much of it as a diff needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A string or repr: its hash, and its first [`SHORT`] characters.
    Text {
        hash: u64,
        short: Box<str>,
    },
}

impl Val {
    fn of(recorded: &Recorded) -> Val {
        match recorded {
            Recorded::Absent => Val::Absent,
            Recorded::Int(v) => Val::Int(*v),
            Recorded::Float(v) => Val::Float(*v),
            Recorded::Bool(v) => Val::Bool(*v),
            Recorded::Str(_) | Recorded::Repr(_) => {
                let text = crate::eval::recorded_text(recorded);
                let short = match text.char_indices().nth(SHORT) {
                    Some((cut, _)) => format!("{}…", &text[..cut]),
                    None => text.clone(),
                };
                Val::Text {
                    hash: hash_str(&text),
                    short: short.into(),
                }
            }
        }
    }

    fn hash(&self) -> u64 {
        match self {
            Val::Absent => 0,
            Val::Int(v) => mix(1, *v as u64),
            Val::Float(v) => mix(2, v.to_bits()),
            Val::Bool(v) => mix(3, u64::from(*v)),
            Val::Text { hash, .. } => mix(4, *hash),
        }
    }

    /// The value as the trace prints it (cut at [`SHORT`] characters).
    pub fn text(&self) -> String {
        match self {
            Val::Absent => String::new(),
            Val::Int(v) => v.to_string(),
            Val::Float(v) => crate::value::float_repr(*v),
            Val::Bool(true) => "True".into(),
            Val::Bool(false) => "False".into(),
            Val::Text { short, .. } => short.to_string(),
        }
    }

    fn same(&self, other: &Val, rel_tol: Option<f64>) -> bool {
        match (self, other, rel_tol) {
            (Val::Float(a), Val::Float(b), _) if a.is_nan() && b.is_nan() => true,
            (Val::Float(a), Val::Float(b), Some(tol)) => {
                a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
            }
            (Val::Text { hash: a, .. }, Val::Text { hash: b, .. }, _) => a == b,
            _ => self == other,
        }
    }
}

fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(23) ^ x)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17)
        ^ (x >> 7)
}

fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn hash_opt(text: Option<&str>) -> u64 {
    text.map_or(0x5bd1_e995, hash_str)
}

/// One input of a node, by position; its key one of the side's texts.
#[derive(Clone, Copy, Debug)]
struct In {
    role: Role,
    key: u32,
    src: u32,
}

/// No text (a node without a name, an input without a key).
const NO_TEXT: u32 = u32::MAX;

/// The names, types, files and keys of one side, each held once and
/// referred to by number: four bytes a field instead of a [`Text`]'s
/// sixteen.
#[derive(Default)]
struct Texts {
    strings: Vec<Text>,
    /// By the string's address ([`Text::address`]): the decoder gives one
    /// string per distinct text, kept alive here, so an address is never
    /// reused.
    by_address: IdMap<u32>,
}

impl Texts {
    fn add(&mut self, text: &Option<Text>) -> u32 {
        let Some(text) = text else {
            return NO_TEXT;
        };
        let Texts {
            strings,
            by_address,
        } = self;
        let address = text.address() as u64;
        *by_address.entry(address).or_insert_with(|| {
            strings.push(text.clone());
            (strings.len() - 1) as u32
        })
    }

    fn get(&self, number: u32) -> Option<&str> {
        (number != NO_TEXT).then(|| &*self.strings[number as usize])
    }
}

/// One trace, compact: what matching and the report need.
pub struct Side {
    pub name: String,
    ids: Vec<u64>,
    kinds: Vec<NodeKind>,
    names: Vec<u32>,
    types: Vec<u32>,
    files: Vec<u32>,
    texts: Texts,
    lines: Vec<u32>,
    frames: Vec<u32>,
    values: Vec<Val>,
    input_start: Vec<u32>,
    inputs: Vec<In>,
    /// The node whose value a node stands for (an Argument's value, a
    /// traced call's returned value), else itself.
    through: Vec<u32>,
    label: Vec<u64>,
    structural: Vec<u64>,
    exact: Vec<u64>,
    size: Vec<u32>,
    /// The traced call a node ran in (through generator steps), or NONE.
    call: Vec<u32>,
    index: IdPositions,
}

impl Side {
    /// Reads a trace (streamed; only the compact form is kept).
    pub fn read(files: &TraceFiles) -> Result<Side, RunError> {
        let mut side = Side::empty(&files.name);
        files.each_node(|node| side.push(node))?;
        side.finish();
        Ok(side)
    }

    /// A side from nodes in row order (tests, small traces).
    pub fn from_nodes<'a>(name: &str, nodes: impl IntoIterator<Item = &'a Node>) -> Side {
        let mut side = Side::empty(name);
        for node in nodes {
            side.push(node);
        }
        side.finish();
        side
    }

    fn empty(name: &str) -> Side {
        Side {
            name: name.to_string(),
            ids: Vec::new(),
            kinds: Vec::new(),
            names: Vec::new(),
            types: Vec::new(),
            files: Vec::new(),
            texts: Texts::default(),
            lines: Vec::new(),
            frames: Vec::new(),
            values: Vec::new(),
            input_start: vec![0],
            inputs: Vec::new(),
            through: Vec::new(),
            label: Vec::new(),
            structural: Vec::new(),
            exact: Vec::new(),
            size: Vec::new(),
            call: Vec::new(),
            index: IdPositions::default(),
        }
    }

    fn push(&mut self, node: &Node) {
        let at = self.ids.len() as u32;
        self.index.insert(node.id, at);
        self.ids.push(node.id);
        self.kinds.push(node.kind);
        self.names.push(self.texts.add(&node.name));
        self.types.push(self.texts.add(&node.type_name));
        self.files.push(self.texts.add(&node.file));
        self.lines.push(node.line.unwrap_or(0));
        // Frames open before their body's rows are written, but their own
        // row comes after: resolved in `finish`.
        self.frames
            .push(node.frame.map_or(NONE, |f| f as u32 ^ NONE));
        self.values.push(Val::of(&node.recorded));
        for input in &node.inputs {
            let src = self.index.get(input.src).unwrap_or(NONE);
            self.inputs.push(In {
                role: input.role,
                key: self.texts.add(&input.key),
                src,
            });
        }
        self.input_start.push(self.inputs.len() as u32);
    }

    /// Frames to positions, then fingerprints in row order.
    fn finish(&mut self) {
        let n = self.ids.len();
        for at in 0..n {
            if self.frames[at] != NONE {
                let frame = u64::from(self.frames[at] ^ NONE);
                self.frames[at] = self.index.get(frame).unwrap_or(NONE);
            }
        }
        self.through = (0..n as u32).collect();
        self.label = vec![0; n];
        self.structural = vec![0; n];
        self.exact = vec![0; n];
        self.size = vec![1; n];
        for at in 0..n {
            let kind = self.kinds[at];
            let stands_for = match kind {
                NodeKind::Argument => self.input(at, Role::Value),
                NodeKind::Call | NodeKind::Dispatch => self.input(at, Role::Return),
                _ => None,
            };
            self.label[at] = mix(
                mix(hash_str(kind.as_str()), hash_opt(self.text(self.names[at]))),
                hash_opt(self.text(self.types[at])),
            );
            if let Some(value) = stands_for.filter(|v| (*v as usize) < at) {
                let to = self.through[value as usize];
                self.through[at] = to;
                self.structural[at] = self.structural[to as usize];
                self.exact[at] = self.exact[to as usize];
                self.size[at] = self.size[to as usize];
                continue;
            }
            let mut structural = self.label[at];
            let mut exact = mix(structural, self.values[at].hash());
            let mut size: u32 = 1;
            for input in self.ins(at) {
                if input.role.is_provenance() || input.src == NONE {
                    continue;
                }
                let src = self.through[input.src as usize] as usize;
                let edge = mix(
                    hash_str(input.role.as_str()),
                    hash_opt(self.text(input.key)),
                );
                structural = mix(mix(structural, edge), self.structural[src]);
                exact = mix(mix(exact, edge), self.exact[src]);
                size = size.saturating_add(self.size[src]);
            }
            self.structural[at] = structural;
            self.exact[at] = exact;
            self.size[at] = size;
        }
        self.call = (0..n).map(|at| self.call_of(self.frames[at])).collect();
    }

    /// The traced call a frame belongs to: the frame's node, or for a
    /// generator step (a coroutine's run) the generator's (coroutine's) call.
    fn call_of(&self, frame: u32) -> u32 {
        if frame == NONE {
            return NONE;
        }
        match self.kinds[frame as usize] {
            NodeKind::Generation => self.input(frame as usize, Role::Generator).unwrap_or(NONE),
            NodeKind::Awaited => self.input(frame as usize, Role::Coroutine).unwrap_or(NONE),
            _ => frame,
        }
    }

    fn text(&self, number: u32) -> Option<&str> {
        self.texts.get(number)
    }

    /// The values a node reads (through parameters and calls), in input
    /// order: what its users lists and a matched cone pairs.
    fn operands(&self, at: u32) -> impl Iterator<Item = u32> + '_ {
        self.ins(at as usize)
            .iter()
            .filter(|i| !i.role.is_provenance() && i.src != NONE)
            .map(|i| self.through[i.src as usize])
    }

    fn operand_sources(&self, at: u32) -> Vec<u32> {
        self.operands(at).collect()
    }

    fn ins(&self, at: usize) -> &[In] {
        &self.inputs[self.input_start[at] as usize..self.input_start[at + 1] as usize]
    }

    fn input(&self, at: usize, role: Role) -> Option<u32> {
        self.ins(at)
            .iter()
            .find(|i| i.role == role && i.src != NONE)
            .map(|i| i.src)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Does a node only stand for another's value (a parameter, a call
    /// standing for what it returned)?
    fn is_alias(&self, at: usize) -> bool {
        self.through[at] as usize != at
    }

    /// Who reads each node (through parameters and calls), in row order.
    fn users(&self) -> Users {
        // Two passes over the inputs (count, then place): one allocation
        // for all the lists instead of one per node read.
        let reads = |visit: &mut dyn FnMut(usize, u32)| {
            for at in 0..self.len() as u32 {
                for src in self.operands(at) {
                    visit(src as usize, at);
                }
            }
        };
        let mut start = vec![0u32; self.len() + 1];
        reads(&mut |src, _| start[src + 1] += 1);
        for at in 0..self.len() {
            start[at + 1] += start[at];
        }
        let mut filled = start.clone();
        let mut readers = vec![0u32; start[self.len()] as usize];
        reads(&mut |src, at| {
            let slot = &mut filled[src];
            // A node reading one value twice is one user (its slots stay
            // unused).
            if *slot == start[src] || readers[*slot as usize - 1] != at {
                readers[*slot as usize] = at;
                *slot += 1;
            }
        });
        Users {
            start,
            filled,
            readers,
        }
    }

    /// A node as the report shows it.
    pub fn describe(&self, at: u32, options: &Options) -> NodeInfo {
        let at = at as usize;
        let call = self.call[at];
        NodeInfo {
            id: self.ids[at],
            kind: self.kinds[at],
            name: self.text(self.names[at]).unwrap_or("").to_string(),
            value: self.values[at].text(),
            location: (!options.ignore_locations)
                .then(|| self.location(at))
                .flatten(),
            call: (call != NONE).then(|| self.ids[call as usize]),
        }
    }

    fn location(&self, at: usize) -> Option<String> {
        let file = self.text(self.files[at])?;
        let short = file.rsplit('/').next().unwrap_or(file);
        Some(format!("{short}:{}", self.lines[at]))
    }

    /// The name of the function a traced call ran: its callable's name
    /// (`pkg.f`), a method's `Class.method` key, or its own name.
    fn function_name(&self, call: usize) -> String {
        let callable = self.input(call, Role::Callable).and_then(|f| {
            let f = f as usize;
            let name = self.text(self.names[f])?;
            // A method looked up on an object: `Class.method`.
            match (self.kinds[f], self.input(f, Role::Object)) {
                (NodeKind::GetAttr, Some(object)) => match self.text(self.types[object as usize]) {
                    Some(class) => Some(format!("{class}.{name}")),
                    None => Some(name.to_string()),
                },
                _ => Some(name.to_string()),
            }
        });
        let method = self
            .ins(call)
            .iter()
            .find(|i| i.role == Role::SelfValue)
            .and_then(|i| self.text(i.key))
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        callable
            .or(method)
            .or_else(|| self.text(self.names[call]).map(str::to_string))
            .unwrap_or_default()
    }
}

/// Who reads each node: the readers of node `at` are
/// `readers[start[at]..filled[at]]`, in row order.
struct Users {
    start: Vec<u32>,
    filled: Vec<u32>,
    readers: Vec<u32>,
}

impl Users {
    fn of(&self, at: u32) -> &[u32] {
        &self.readers[self.start[at as usize] as usize..self.filled[at as usize] as usize]
    }
}

fn function_entry(
    table: &mut std::collections::BTreeMap<String, FunctionCounts>,
    name: String,
) -> &mut FunctionCounts {
    table.entry(name.clone()).or_insert(FunctionCounts {
        name,
        calls: (0, 0),
        operations: (0, 0),
        differing: 0,
    })
}

/// NEW's calls waiting for a partner, grouped by a key, each group in
/// call order with a cursor past those taken or matched since (a scan of
/// all of them per OLD call was quadratic in a loop's calls).
struct Waiting<K> {
    groups: std::collections::HashMap<K, (Vec<u32>, usize)>,
}

impl<K: Eq + std::hash::Hash> Waiting<K> {
    fn new(calls: impl Iterator<Item = (K, u32)>) -> Waiting<K> {
        let mut groups: std::collections::HashMap<K, (Vec<u32>, usize)> = Default::default();
        for (key, call) in calls {
            groups.entry(key).or_default().0.push(call);
        }
        Waiting { groups }
    }

    /// The first of `key`'s calls not matched yet (`new_to_old`), taken.
    fn take(&mut self, key: &K, new_to_old: &[u32]) -> Option<u32> {
        let (calls, cursor) = self.groups.get_mut(key)?;
        while *cursor < calls.len() && new_to_old[calls[*cursor] as usize] != NONE {
            *cursor += 1;
        }
        let call = calls.get(*cursor).copied()?;
        *cursor += 1;
        Some(call)
    }
}

/// `at` was matched: one more matched user for each value it reads (each
/// once, as [`Side::users`] lists readers).
fn count_matched_user(side: &Side, matched_users: &mut [u32], at: u32) {
    let mut counted: smallvec::SmallVec<[u32; 4]> = smallvec::SmallVec::new();
    for src in side.operands(at) {
        if !counted.contains(&src) {
            counted.push(src);
            matched_users[src as usize] += 1;
        }
    }
}

/// The old (`true`) or new half of a before/after pair.
fn pick(pair: &mut (usize, usize), old: bool) -> &mut usize {
    if old {
        &mut pair.0
    } else {
        &mut pair.1
    }
}

/// A node for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeInfo {
    pub id: u64,
    #[serde(serialize_with = "kind_name")]
    pub kind: NodeKind,
    pub name: String,
    pub value: String,
    pub location: Option<String>,
    /// The id of the traced call it ran in.
    pub call: Option<u64>,
}

impl NodeInfo {
    /// `Kind name = value`, for reports and drawings.
    pub fn text(&self) -> String {
        let mut text = self.kind.to_string();
        if !self.name.is_empty() {
            text.push(' ');
            text.push_str(&self.name);
        }
        if !self.value.is_empty() {
            text.push_str(" = ");
            text.push_str(&self.value);
        }
        text
    }
}

/// What a drawing of the changed regions shows: nodes (old side or not,
/// the node, its state), edges (side, from id, to id, role), and matched
/// pairs (old id, new id) among the drawn nodes.
#[derive(Clone, Debug, Default)]
pub struct Region {
    pub nodes: Vec<(bool, NodeInfo, Status)>,
    pub edges: Vec<(bool, u64, u64, String)>,
    pub matches: Vec<(u64, u64)>,
}

/// A row of the `diff` table.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffRow {
    pub old_id: Option<u64>,
    pub new_id: Option<u64>,
    pub status: Status,
    pub kind: NodeKind,
    pub name: String,
}

/// What became of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Same,
    /// Matched, with a different value.
    Changed,
    OnlyOld,
    OnlyNew,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Same => "same",
            Status::Changed => "changed",
            Status::OnlyOld => "only_old",
            Status::OnlyNew => "only_new",
        }
    }
}

/// Two traces matched.
pub struct Diff {
    pub old: Side,
    pub new: Side,
    pub options: Options,
    old_to_new: Vec<u32>,
    new_to_old: Vec<u32>,
    /// How many of each node's users (as [`Side::users`] lists them) are
    /// matched, OLD's and NEW's: what [`Diff::propagate`] remembers to
    /// know when looking at a node's users again would find nothing new.
    matched_users: (Vec<u32>, Vec<u32>),
    /// For each OLD node, the NEW node its users were last compared with
    /// and both sides' matched-user counts then.
    users_compared: Vec<(u32, u32, u32)>,
}

/// How many nodes are in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub matched: usize,
    pub same: usize,
    pub changed: usize,
    pub only_old: usize,
    pub only_new: usize,
}

/// Calls and operations of one traced function, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionCounts {
    pub name: String,
    pub calls: (usize, usize),
    pub operations: (usize, usize),
    /// Nodes run by its calls that differ (changed or only on one side).
    pub differing: usize,
}

/// One difference, for the report: a matched pair with a different value,
/// or a node of one side only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub status: Status,
    pub old: Option<NodeInfo>,
    pub new: Option<NodeInfo>,
    /// A first divergence: its inputs agree, its value does not (or, for a
    /// node of one side only, all its inputs are matched and agree).
    pub origin: bool,
}

/// A difference found, not yet described: its positions in OLD and NEW
/// (`NONE` on a side it is not on).
struct Found {
    status: Status,
    a: u32,
    b: u32,
    origin: bool,
}

impl Diff {
    /// Matches `new` against `old` (see the module doc).
    /// Reads two traces and matches them.
    pub fn of_traces(
        old: &TraceFiles,
        new: &TraceFiles,
        options: Options,
    ) -> Result<Diff, RunError> {
        Ok(Diff::new(Side::read(old)?, Side::read(new)?, options))
    }

    pub fn new(old: Side, new: Side, options: Options) -> Diff {
        let mut diff = Diff {
            old_to_new: vec![NONE; old.len()],
            new_to_old: vec![NONE; new.len()],
            matched_users: (vec![0; old.len()], vec![0; new.len()]),
            users_compared: vec![(NONE, 0, 0); old.len()],
            old,
            new,
            options,
        };
        if !options.ignore_values {
            diff.match_identical(|side, at| side.exact[at]);
        }
        diff.match_identical(|side, at| side.structural[at]);
        let old_users = diff.old.users();
        let new_users = diff.new.users();
        diff.match_calls();
        let pairs: Vec<(u32, u32)> = diff.pairs().collect();
        diff.propagate(pairs, &old_users, &new_users);
        diff.match_similar(&old_users, &new_users);
        diff.match_leaves();
        diff
    }

    fn pair(&mut self, a: u32, b: u32) -> bool {
        if self.old_to_new[a as usize] != NONE || self.new_to_old[b as usize] != NONE {
            return false;
        }
        self.old_to_new[a as usize] = b;
        self.new_to_old[b as usize] = a;
        count_matched_user(&self.old, &mut self.matched_users.0, a);
        count_matched_user(&self.new, &mut self.matched_users.1, b);
        true
    }

    fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.old_to_new
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != NONE)
            .map(|(a, b)| (a as u32, *b))
    }

    /// Phase 2: identical upstream subgraphs, largest first. Leaves (a
    /// constant, a function) start no match of their own: equal ones are
    /// many, and their users tell them apart (they are matched with their
    /// users' cones, or at the end by [`Diff::match_leaves`]).
    fn match_identical(&mut self, fingerprint: impl Fn(&Side, usize) -> u64) {
        self.match_by(fingerprint, |side, at| !side.kinds[at].is_leaf());
    }

    /// The last phase: leaves no user placed, by exact fingerprint (or
    /// structural with --ignore-values) in order of occurrence.
    fn match_leaves(&mut self) {
        let ignore_values = self.options.ignore_values;
        self.match_by(
            |side, at| {
                if ignore_values {
                    side.structural[at]
                } else {
                    side.exact[at]
                }
            },
            |side, at| side.kinds[at].is_leaf(),
        );
    }

    /// Pairs unmatched nodes that `starts` admits by equal fingerprints,
    /// OLD's largest upstream first, the k-th with the k-th; each pair
    /// matches its whole cone.
    fn match_by(
        &mut self,
        fingerprint: impl Fn(&Side, usize) -> u64,
        starts: impl Fn(&Side, usize) -> bool,
    ) {
        // NEW's candidates of each fingerprint as a chain in row order:
        // the map holds the next one not yet taken, `next` links them (no
        // vector per fingerprint: most fingerprints are one node's).
        let mut next = vec![NONE; self.new.len()];
        let mut chains: IdMap<u32> = IdMap::default();
        chains.reserve(self.new.len());
        for at in (0..self.new.len()).rev() {
            if !self.new.is_alias(at) && self.new_to_old[at] == NONE && starts(&self.new, at) {
                let head = chains.entry(fingerprint(&self.new, at)).or_insert(NONE);
                next[at] = *head;
                *head = at as u32;
            }
        }
        let mut order: Vec<u32> = (0..self.old.len() as u32)
            .filter(|a| {
                let a = *a as usize;
                !self.old.is_alias(a) && self.old_to_new[a] == NONE && starts(&self.old, a)
            })
            .collect();
        order.sort_by_key(|a| Reverse(self.old.size[*a as usize]));
        for a in order {
            if self.old_to_new[a as usize] != NONE {
                continue;
            }
            let Some(head) = chains.get_mut(&fingerprint(&self.old, a as usize)) else {
                continue;
            };
            while *head != NONE && self.new_to_old[*head as usize] != NONE {
                *head = next[*head as usize];
            }
            if *head != NONE {
                let b = *head;
                *head = next[b as usize];
                self.map_cone(a, b);
            }
        }
    }

    /// Matches two identical cones node for node.
    fn map_cone(&mut self, a: u32, b: u32) {
        let mut stack = vec![(a, b)];
        while let Some((a, b)) = stack.pop() {
            if !self.pair(a, b) {
                continue;
            }
            let ins_a: Vec<u32> = self.old.operand_sources(a);
            let ins_b: Vec<u32> = self.new.operand_sources(b);
            if ins_a.len() == ins_b.len() {
                stack.extend(ins_a.into_iter().zip(ins_b));
            }
        }
    }

    /// Phase 3: the call tree, top-down.
    fn match_calls(&mut self) {
        let children = |side: &Side| {
            let mut children: IdMap<Vec<u32>> = IdMap::default();
            for at in 0..side.len() {
                if side.kinds[at].is_traced_call() {
                    children
                        .entry(u64::from(side.call[at]))
                        .or_default()
                        .push(at as u32);
                }
            }
            // In the order the calls started (ids are given at the start;
            // a call's row is written when it ends).
            for list in children.values_mut() {
                list.sort_by_key(|c| side.ids[*c as usize]);
            }
            children
        };
        let old_children = children(&self.old);
        let new_children = children(&self.new);
        let mut work = vec![(NONE, NONE)];
        while let Some((a, b)) = work.pop() {
            let empty = Vec::new();
            let olds = old_children.get(&u64::from(a)).unwrap_or(&empty);
            let news = new_children.get(&u64::from(b)).unwrap_or(&empty);
            let mut paired = Vec::new();
            // NEW's calls by the value they returned and their label.
            let mut by_return = Waiting::new(news.iter().map(|&c| {
                let at = c as usize;
                ((self.new.through[at], self.new.label[at]), c)
            }));
            // Already matched (an untraced-result call by its fingerprint),
            // or matched through the value it returned.
            for &call in olds {
                let partner = self.old_to_new[call as usize];
                if partner != NONE {
                    paired.push((call, partner));
                    continue;
                }
                if !self.old.is_alias(call as usize) {
                    continue;
                }
                let returned = self.old_to_new[self.old.through[call as usize] as usize];
                if returned == NONE {
                    continue;
                }
                let key = (returned, self.old.label[call as usize]);
                let candidate = by_return.take(&key, &self.new_to_old);
                if let Some(partner) = candidate {
                    self.pair(call, partner);
                    paired.push((call, partner));
                }
            }
            // The rest by name, in call order.
            let mut by_label = Waiting::new(
                news.iter()
                    .filter(|&&c| self.new_to_old[c as usize] == NONE)
                    .map(|&c| (self.new.label[c as usize], c)),
            );
            for &call in olds {
                if self.old_to_new[call as usize] != NONE {
                    continue;
                }
                let key = self.old.label[call as usize];
                if let Some(partner) = by_label.take(&key, &self.new_to_old) {
                    self.pair(call, partner);
                    paired.push((call, partner));
                }
            }
            for (a, b) in paired {
                if self.new_to_old[b as usize] == a {
                    self.match_call_parts(a, b);
                    work.push((a, b));
                }
            }
        }
    }

    /// A pair of calls: their parameters by name, callables, new objects.
    fn match_call_parts(&mut self, a: u32, b: u32) {
        let ins_b: Vec<In> = self.new.ins(b as usize).to_vec();
        for input in self.old.ins(a as usize).to_vec() {
            if input.src == NONE || input.role == Role::Return {
                continue;
            }
            let name = self.old.text(self.old.names[input.src as usize]);
            let partner = ins_b.iter().find(|other| {
                other.role == input.role
                    && other.src != NONE
                    && (self.new.text(other.key) == self.old.text(input.key)
                        || input.role.is_argument())
                    && self.new.text(self.new.names[other.src as usize]) == name
                    && self.new.kinds[other.src as usize] == self.old.kinds[input.src as usize]
            });
            if let Some(partner) = partner {
                self.pair(input.src, partner.src);
            }
        }
    }

    /// Phase 4: from matched pairs to their inputs and users.
    fn propagate(&mut self, mut work: Vec<(u32, u32)>, old_users: &Users, new_users: &Users) {
        while let Some((a, b)) = work.pop() {
            // Inputs of the same role and key, and the same label.
            let ins_b: Vec<In> = self.new.ins(b as usize).to_vec();
            for input in self.old.ins(a as usize).to_vec() {
                if input.src == NONE || self.old_to_new[input.src as usize] != NONE {
                    continue;
                }
                let partner = ins_b.iter().find(|other| {
                    other.role == input.role
                        && self.new.text(other.key) == self.old.text(input.key)
                        && other.src != NONE
                        && self.new_to_old[other.src as usize] == NONE
                        && self.new.label[other.src as usize] == self.old.label[input.src as usize]
                });
                if let Some(partner) = partner {
                    if self.pair(input.src, partner.src) {
                        work.push((input.src, partner.src));
                    }
                }
            }
            // Users: one unmatched of a label on each side. Their unmatched
            // users only ever shrink: with as many matched as last time
            // (against the same node), they are the same, and pair nothing
            // again (a value passed to every call of a long loop is the
            // `through` of each call's parameter: comparing its users
            // anew for each was quadratic).
            let (ta, tb) = (self.old.through[a as usize], self.new.through[b as usize]);
            let stamp = (
                tb,
                self.matched_users.0[ta as usize],
                self.matched_users.1[tb as usize],
            );
            if self.users_compared[ta as usize] == stamp {
                continue;
            }
            self.users_compared[ta as usize] = stamp;
            let unmatched_old: Vec<u32> = old_users
                .of(ta)
                .iter()
                .copied()
                .filter(|u| self.old_to_new[*u as usize] == NONE)
                .collect();
            if unmatched_old.is_empty() {
                continue;
            }
            // Per label: how many on each side, and NEW's (the last one).
            let mut labels: IdMap<(u32, u32, u32)> = IdMap::default();
            for &n in new_users.of(tb) {
                if self.new_to_old[n as usize] == NONE {
                    let entry = labels.entry(self.new.label[n as usize]).or_default();
                    entry.1 += 1;
                    entry.2 = n;
                }
            }
            for &u in &unmatched_old {
                if let Some(entry) = labels.get_mut(&self.old.label[u as usize]) {
                    entry.0 += 1;
                }
            }
            for &u in &unmatched_old {
                if let Some(&(1, 1, v)) = labels.get(&self.old.label[u as usize]) {
                    if self.pair(u, v) {
                        work.push((u, v));
                    }
                }
            }
        }
    }

    /// Phase 5: bottom-up similarity for the nodes left.
    fn match_similar(&mut self, old_users: &Users, new_users: &Users) {
        const MOST_CANDIDATES: usize = 64;
        for a in 0..self.old.len() as u32 {
            if self.old_to_new[a as usize] != NONE || self.old.is_alias(a as usize) {
                continue;
            }
            let sources = self.old.operand_sources(a);
            let partners: Vec<u32> = sources
                .iter()
                .map(|s| self.old_to_new[*s as usize])
                .filter(|p| *p != NONE)
                .collect();
            if partners.is_empty() {
                continue;
            }
            let label = self.old.label[a as usize];
            let mut best: Option<(f64, u32)> = None;
            let candidates = partners
                .iter()
                .flat_map(|p| new_users.of(*p).iter().copied())
                .filter(|b| {
                    self.new_to_old[*b as usize] == NONE && self.new.label[*b as usize] == label
                })
                .take(MOST_CANDIDATES);
            for b in candidates {
                let theirs = self.new.operand_sources(b);
                let common = partners.iter().filter(|p| theirs.contains(p)).count();
                let dice = 2.0 * common as f64 / (sources.len() + theirs.len()) as f64;
                if dice < 0.5 {
                    continue;
                }
                let same_function = {
                    let (ca, cb) = (self.old.call[a as usize], self.new.call[b as usize]);
                    ca != NONE
                        && cb != NONE
                        && self.old.function_name(ca as usize)
                            == self.new.function_name(cb as usize)
                };
                let same_line = !self.options.ignore_locations
                    && self.old.lines[a as usize] == self.new.lines[b as usize];
                let score = dice
                    + if same_function { 0.25 } else { 0.0 }
                    + if same_line { 0.1 } else { 0.0 };
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, b));
                }
            }
            if let Some((_, b)) = best {
                if self.pair(a, b) {
                    self.propagate(vec![(a, b)], old_users, new_users);
                }
            }
        }
    }

    /// The state of a NEW node (matched or not).
    fn new_status(&self, b: usize) -> Status {
        match self.new_to_old[b] {
            NONE => Status::OnlyNew,
            a => {
                if self.options.ignore_values
                    || self.old.values[a as usize].same(&self.new.values[b], self.options.rel_tol)
                {
                    Status::Same
                } else {
                    Status::Changed
                }
            }
        }
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for b in 0..self.new.len() {
            match self.new_status(b) {
                Status::Same => counts.same += 1,
                Status::Changed => counts.changed += 1,
                Status::OnlyNew => counts.only_new += 1,
                Status::OnlyOld => {}
            }
        }
        counts.matched = counts.same + counts.changed;
        counts.only_old = self.old_to_new.iter().filter(|b| **b == NONE).count();
        counts
    }

    /// Same nodes, same values: nothing changed.
    pub fn equivalent(&self) -> bool {
        let counts = self.counts();
        counts.changed == 0 && counts.only_old == 0 && counts.only_new == 0
    }

    /// Do a matched pair's inputs all agree (each matched to the other's
    /// input in the same place, with the same value)?
    fn inputs_agree(&self, a: u32, b: u32) -> bool {
        // A parameter or call differs as the value it stands for does.
        if self.old.is_alias(a as usize) || self.new.is_alias(b as usize) {
            return false;
        }
        let ins_a = self.old.operand_sources(a);
        let ins_b = self.new.operand_sources(b);
        ins_a.len() == ins_b.len()
            && ins_a.iter().zip(&ins_b).all(|(x, y)| {
                self.old_to_new[*x as usize] == *y && self.new_status(*y as usize) == Status::Same
            })
    }

    /// Are an unmatched node's inputs all matched and the same?
    fn inputs_settled(&self, side: &Side, at: u32, is_old: bool) -> bool {
        side.operands(at).all(|s| {
            let partner = if is_old {
                self.old_to_new[s as usize]
            } else {
                self.new_to_old[s as usize]
            };
            partner != NONE && {
                let new = if is_old { partner } else { s };
                self.new_status(new as usize) == Status::Same
            }
        })
    }

    /// Every difference, NEW's in row order, then OLD's nodes of its own.
    pub fn differences(&self) -> Vec<Difference> {
        self.found().iter().map(|f| self.described(f)).collect()
    }

    /// Every difference as positions, in the order of [`Diff::differences`]:
    /// describing one (names, values and locations as text) costs more
    /// than finding it, and a report shows a few of each call's.
    fn found(&self) -> Vec<Found> {
        let mut out = Vec::new();
        for b in 0..self.new.len() as u32 {
            let status = self.new_status(b as usize);
            match status {
                Status::Same | Status::OnlyOld => {}
                Status::Changed => {
                    let a = self.new_to_old[b as usize];
                    let origin = self.inputs_agree(a, b);
                    out.push(Found {
                        status,
                        a,
                        b,
                        origin,
                    });
                }
                Status::OnlyNew => {
                    let origin = self.inputs_settled(&self.new, b, false);
                    out.push(Found {
                        status,
                        a: NONE,
                        b,
                        origin,
                    });
                }
            }
        }
        for a in 0..self.old.len() as u32 {
            if self.old_to_new[a as usize] == NONE {
                let origin = self.inputs_settled(&self.old, a, true);
                out.push(Found {
                    status: Status::OnlyOld,
                    a,
                    b: NONE,
                    origin,
                });
            }
        }
        out
    }

    fn described(&self, found: &Found) -> Difference {
        let describe =
            |side: &Side, at: u32| (at != NONE).then(|| side.describe(at, &self.options));
        Difference {
            status: found.status,
            old: describe(&self.old, found.a),
            new: describe(&self.new, found.b),
            origin: found.origin,
        }
    }

    /// The first divergence: the earliest matched pair (NEW's row order)
    /// whose inputs agree and whose value differs.
    pub fn first_divergence(&self) -> Option<Difference> {
        (0..self.new.len() as u32).find_map(|b| {
            let a = self.new_to_old[b as usize];
            (self.new_status(b as usize) == Status::Changed && self.inputs_agree(a, b)).then(|| {
                Difference {
                    status: Status::Changed,
                    old: Some(self.old.describe(a, &self.options)),
                    new: Some(self.new.describe(b, &self.options)),
                    origin: true,
                }
            })
        })
    }

    /// Calls and operations per traced function, before and after (the
    /// functions with a difference first).
    pub fn functions(&self) -> Vec<FunctionCounts> {
        let mut table: std::collections::BTreeMap<String, FunctionCounts> = Default::default();
        for (is_old, side) in [(true, &self.old), (false, &self.new)] {
            for at in 0..side.len() {
                let differs = if is_old {
                    self.old_to_new[at] == NONE
                } else {
                    self.new_status(at) != Status::Same
                };
                if side.kinds[at].is_traced_call() {
                    let counts = function_entry(&mut table, side.function_name(at));
                    *pick(&mut counts.calls, is_old) += 1;
                }
                let call = side.call[at];
                if call != NONE && !side.is_alias(at) && !side.kinds[at].is_leaf() {
                    let counts = function_entry(&mut table, side.function_name(call as usize));
                    *pick(&mut counts.operations, is_old) += 1;
                    if differs {
                        counts.differing += 1;
                    }
                }
            }
        }
        let mut functions: Vec<FunctionCounts> = table.into_values().collect();
        functions.sort_by_key(|f| {
            (
                f.differing == 0 && f.calls.0 == f.calls.1,
                Reverse(f.differing),
            )
        });
        functions
    }

    /// One row per node of either trace: NEW's in row order, then OLD's
    /// unmatched ones.
    pub fn rows(&self) -> Vec<DiffRow> {
        let row = |side: &Side, at: usize, old_id, new_id, status| DiffRow {
            old_id,
            new_id,
            status,
            kind: side.kinds[at],
            name: side.text(side.names[at]).unwrap_or("").to_string(),
        };
        let mut rows = Vec::with_capacity(self.new.len());
        for b in 0..self.new.len() {
            let a = self.new_to_old[b];
            let old_id = (a != NONE).then(|| self.old.ids[a as usize]);
            rows.push(row(
                &self.new,
                b,
                old_id,
                Some(self.new.ids[b]),
                self.new_status(b),
            ));
        }
        for a in 0..self.old.len() {
            if self.old_to_new[a] == NONE {
                rows.push(row(
                    &self.old,
                    a,
                    Some(self.old.ids[a]),
                    None,
                    Status::OnlyOld,
                ));
            }
        }
        rows
    }

    /// The changed regions of both traces, for a drawing: up to `most`
    /// differing nodes of each side (NEW's first in row order) with the
    /// nodes one step up and down from them, the edges among those, and
    /// the matches between the two sides' drawn nodes.
    pub fn region(&self, most: usize) -> Region {
        let mut region = Region::default();
        for (is_old, side) in [(true, &self.old), (false, &self.new)] {
            let differs = |at: usize| {
                if is_old {
                    self.old_to_new[at] == NONE
                        || self.new_status(self.old_to_new[at] as usize) == Status::Changed
                } else {
                    self.new_status(at) != Status::Same
                }
            };
            let centre: Vec<usize> = (0..side.len())
                .filter(|at| differs(*at))
                .take(most)
                .collect();
            let mut drawn: std::collections::BTreeSet<usize> = centre.iter().copied().collect();
            let users = side.users();
            for &at in &centre {
                drawn.extend(side.operands(at as u32).map(|s| s as usize));
                drawn.extend(users.of(side.through[at]).iter().map(|u| *u as usize));
            }
            for &at in &drawn {
                let status = match (is_old, differs(at)) {
                    (_, false) => Status::Same,
                    (true, true) if self.old_to_new[at] == NONE => Status::OnlyOld,
                    (false, true) if self.new_to_old[at] == NONE => Status::OnlyNew,
                    _ => Status::Changed,
                };
                region
                    .nodes
                    .push((is_old, side.describe(at as u32, &self.options), status));
                for input in side.ins(at) {
                    if input.src != NONE && drawn.contains(&(input.src as usize)) {
                        let label = match side.text(input.key) {
                            Some(key) if !key.is_empty() => format!("{}:{key}", input.role),
                            _ => input.role.to_string(),
                        };
                        region.edges.push((
                            is_old,
                            side.ids[input.src as usize],
                            side.ids[at],
                            label,
                        ));
                    }
                }
            }
            if is_old {
                region.matches = drawn
                    .iter()
                    .filter(|at| self.old_to_new[**at] != NONE)
                    .map(|at| (side.ids[*at], self.new.ids[self.old_to_new[*at] as usize]))
                    .collect();
            } else {
                let drawn_new: std::collections::HashSet<u64> =
                    drawn.iter().map(|at| side.ids[*at]).collect();
                region.matches.retain(|(_, new)| drawn_new.contains(new));
            }
        }
        region
    }

    /// The report of the matching: verdict, counts, traced functions
    /// before and after, the first divergence, and every difference
    /// grouped by the traced call it ran in. Text, JSON and the HTML page
    /// are formatted from it.
    pub fn report(&self) -> DiffReport {
        self.report_shown(usize::MAX)
    }

    /// [`Diff::report`] with at most `most` differences of each traced
    /// call described (the first in node order, and the first origins:
    /// what `diff` prints and serialises); the counts cover all. A diff
    /// of a long run has as many differences as nodes: describing all
    /// was a quarter of `diff`'s time on two 1M-node traces.
    pub fn report_shown(&self, most: usize) -> DiffReport {
        let mut found = self.found();
        let downstream = found
            .iter()
            .filter(|f| f.status == Status::Changed && !f.origin)
            .count();
        // Grouped in place (a stable sort by call, node order kept within
        // one): moving them into a vector per call held them twice at
        // the peak.
        found.sort_by_cached_key(|f| self.group_of(f));
        let mut differences = Vec::new();
        let mut spans: Vec<(String, std::ops::Range<usize>)> = Vec::new();
        let mut counts = Vec::new();
        let mut start = 0;
        while start < found.len() {
            let key = self.group_of(&found[start]);
            let members = found[start..]
                .iter()
                .take_while(|f| self.group_of(f) == key)
                .count();
            let first = differences.len();
            let mut origins = 0;
            for (index, member) in found[start..start + members].iter().enumerate() {
                let shown = index < most || (member.origin && origins < most);
                origins += usize::from(member.origin);
                if shown {
                    differences.push(self.described(member));
                }
            }
            spans.push((self.group_title(key), first..differences.len()));
            counts.push(members);
            start += members;
        }
        DiffReport {
            old: TraceSide {
                trace: self.old.name.clone(),
                nodes: self.old.len(),
            },
            new: TraceSide {
                trace: self.new.name.clone(),
                nodes: self.new.len(),
            },
            equivalent: self.equivalent(),
            counts: self.counts(),
            functions: self.functions(),
            first_divergence: self.first_divergence().map(|d| Divergence {
                old: d.old,
                new: d.new,
            }),
            downstream,
            groups: Grouped {
                differences,
                spans,
                counts,
                shown: most,
            },
        }
    }

    /// The traced call a difference is grouped under: NEW's call, or
    /// OLD's (by its partner in NEW when it has one).
    fn group_of(&self, found: &Found) -> (Option<u64>, Option<u64>) {
        let call_of = |side: &Side, at: u32| {
            let call = side.call[at as usize];
            (call != NONE).then(|| side.ids[call as usize])
        };
        if found.b != NONE {
            return (None, call_of(&self.new, found.b));
        }
        if found.a == NONE {
            return (None, None);
        }
        match call_of(&self.old, found.a) {
            Some(call) => match self.partner_of_old(call) {
                Some(partner) => (None, Some(partner)),
                None => (Some(call), None),
            },
            None => (None, None),
        }
    }

    fn group_title(&self, group: (Option<u64>, Option<u64>)) -> String {
        match group {
            (None, None) => "top level".into(),
            (Some(old_call), _) => match self.call_info(true, old_call) {
                Some((name, at)) => format!(
                    "{name} (only in old{})",
                    at.map(|a| format!(", at {a}")).unwrap_or_default()
                ),
                None => format!("call {old_call} of old"),
            },
            (None, Some(new_call)) => match self.call_info(false, new_call) {
                Some((name, at)) => format!(
                    "{name}{}",
                    at.map(|a| format!(" at {a}")).unwrap_or_default()
                ),
                None => format!("call {new_call}"),
            },
        }
    }

    /// The NEW id matched to an OLD id, if any.
    pub fn partner_of_old(&self, old_id: u64) -> Option<u64> {
        let a = self.old.index.get(old_id)?;
        let b = self.old_to_new[a as usize];
        (b != NONE).then(|| self.new.ids[b as usize])
    }

    /// The function name and location of a traced call, by id and side.
    pub fn call_info(&self, old: bool, id: u64) -> Option<(String, Option<String>)> {
        let side = if old { &self.old } else { &self.new };
        let at = side.index.get(id)? as usize;
        Some((
            side.function_name(at),
            (!self.options.ignore_locations)
                .then(|| side.location(at))
                .flatten(),
        ))
    }
}

/// One trace of a diff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSide {
    pub trace: String,
    pub nodes: usize,
}

/// The first divergence: a node whose inputs agree but whose value does
/// not, in both versions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Divergence {
    pub old: Option<NodeInfo>,
    pub new: Option<NodeInfo>,
}

/// The differences that ran in one traced call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallGroup<'r> {
    /// `name at file:line`, `top level`, or `name (only in old, at …)`.
    pub call: &'r str,
    /// How many differences ran in the call.
    pub count: usize,
    /// In node order: all, or those the report describes (see
    /// [`Diff::report_shown`]).
    pub differences: &'r [Difference],
}

/// Every difference, grouped by traced call: one vector, each call's a
/// span of it. Serialised as a list of `{call, count, differences}`,
/// at most `shown` differences each.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouped {
    /// The described differences of each call (see `report_shown`).
    differences: Vec<Difference>,
    spans: Vec<(String, std::ops::Range<usize>)>,
    /// Each call's number of differences, described or not.
    counts: Vec<usize>,
    shown: usize,
}

impl Serialize for Grouped {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let mut groups = out.serialize_seq(Some(self.spans.len()))?;
        for ((call, span), count) in self.spans.iter().zip(&self.counts) {
            let members = &self.differences[span.clone()];
            struct Group<'g>(&'g str, usize, &'g [Difference], usize);
            impl Serialize for Group<'_> {
                fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
                    let mut map = out.serialize_map(Some(3))?;
                    map.serialize_entry("call", self.0)?;
                    map.serialize_entry("count", &self.1)?;
                    // The first `shown` in node order (the described ones
                    // past them are origins the text report leads with).
                    map.serialize_entry("differences", &self.2[..self.2.len().min(self.3)])?;
                    map.end()
                }
            }
            groups.serialize_element(&Group(call, *count, members, self.shown))?;
        }
        groups.end()
    }
}

/// What [`Diff::report`] gives: everything a report of two traces says,
/// as data. Serialised, it is `diff --format json`'s document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffReport {
    pub old: TraceSide,
    pub new: TraceSide,
    pub equivalent: bool,
    pub counts: Counts,
    pub functions: Vec<FunctionCounts>,
    pub first_divergence: Option<Divergence>,
    /// Value differences that follow from the divergences (not origins).
    #[serde(skip)]
    pub downstream: usize,
    /// By traced call, in the order of the calls' ids (top level first).
    #[serde(rename = "differences")]
    groups: Grouped,
}

impl DiffReport {
    /// The differences by traced call, in the order of the calls' ids
    /// (top level first).
    pub fn groups(&self) -> impl ExactSizeIterator<Item = CallGroup<'_>> {
        let groups = &self.groups;
        groups
            .spans
            .iter()
            .zip(&groups.counts)
            .map(|((call, span), count)| CallGroup {
                call,
                count: *count,
                differences: &groups.differences[span.clone()],
            })
    }
}

fn kind_name<S: serde::Serializer>(kind: &NodeKind, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float node named `name` (the graph's test node, filled in).
    fn node(id: u64, kind: NodeKind, name: &str, value: f64, inputs: &[(Role, u64)]) -> Node {
        Node {
            name: (!name.is_empty()).then(|| name.into()),
            type_name: Some("float".into()),
            recorded: Recorded::Float(value),
            ..crate::graph::test_node(id, kind, inputs)
        }
    }

    /// `4.0 * 2.0`: two constants and their product.
    fn times_two() -> Vec<Node> {
        vec![
            node(0, NodeKind::Const, "", 4.0, &[]),
            node(1, NodeKind::Const, "", 2.0, &[]),
            node(
                2,
                NodeKind::UDispatch,
                "__mul__",
                8.0,
                &[(Role::SelfValue, 0), (Role::Arg, 1)],
            ),
        ]
    }

    /// Readers through parameters, each once, in row order: `a * x` reads
    /// one value twice (`a` stands for `x`) and is one user.
    #[test]
    fn users_lists_each_reader_once_through_parameters() {
        let nodes = vec![
            node(0, NodeKind::Const, "", 3.0, &[]),
            node(1, NodeKind::Argument, "a", 3.0, &[(Role::Value, 0)]),
            node(
                2,
                NodeKind::UDispatch,
                "__mul__",
                9.0,
                &[(Role::SelfValue, 1), (Role::Arg, 0)],
            ),
            node(
                3,
                NodeKind::UDispatch,
                "__add__",
                12.0,
                &[(Role::SelfValue, 0), (Role::Arg, 2)],
            ),
        ];
        let side = Side::from_nodes("t", &nodes);
        let users = side.users();
        assert_eq!(users.of(0), &[1, 2, 3]);
        assert_eq!(users.of(1), &[] as &[u32]);
        assert_eq!(users.of(2), &[3]);
        assert_eq!(users.of(3), &[] as &[u32]);
    }

    /// A side keeps each shared string once, by its address; equal texts
    /// from two files' decoders (two strings) read back alike.
    #[test]
    fn texts_keep_each_string_once() {
        let mut texts = Texts::default();
        let f: Text = "pkg.f".into();
        let other_f: Text = "pkg.f".into();
        let g: Text = "g".into();
        let numbers: Vec<u32> = [Some(f.clone()), None, Some(g), Some(f), Some(other_f)]
            .iter()
            .map(|t| texts.add(t))
            .collect();
        assert_eq!(numbers[1], NO_TEXT);
        assert_eq!(numbers[0], numbers[3]);
        assert_eq!(texts.strings.len(), 3);
        let read: Vec<Option<&str>> = numbers.iter().map(|n| texts.get(*n)).collect();
        assert_eq!(
            read,
            [Some("pkg.f"), None, Some("g"), Some("pkg.f"), Some("pkg.f")]
        );
    }

    /// Equal fingerprints pair in order of occurrence: three identical
    /// products on each side match the k-th with the k-th.
    #[test]
    fn equal_subgraphs_pair_in_order() {
        let trace = |offset: u64| {
            let mut nodes = Vec::new();
            for k in 0..3u64 {
                let at = offset + 3 * k;
                nodes.push(node(at, NodeKind::Const, "", 4.0, &[]));
                nodes.push(node(at + 1, NodeKind::Const, "", 2.0, &[]));
                nodes.push(node(
                    at + 2,
                    NodeKind::UDispatch,
                    "__mul__",
                    8.0,
                    &[(Role::SelfValue, at), (Role::Arg, at + 1)],
                ));
            }
            nodes
        };
        let diff = Diff::new(
            Side::from_nodes("old", &trace(0)),
            Side::from_nodes("new", &trace(100)),
            Options::default(),
        );
        assert_eq!(diff.partner_of_old(2), Some(102));
        assert_eq!(diff.partner_of_old(5), Some(105));
        assert_eq!(diff.partner_of_old(8), Some(108));
        assert_eq!(diff.partner_of_old(3), Some(103));
    }

    /// `(x * 2) + 1` written inline, and with `x * 2` passed through a
    /// parameter: the same fingerprint, so every operation matches.
    #[test]
    fn parameters_are_transparent_to_fingerprints() {
        let mut inline = times_two();
        inline.extend([
            node(3, NodeKind::Const, "", 1.0, &[]),
            node(
                4,
                NodeKind::UDispatch,
                "__add__",
                9.0,
                &[(Role::SelfValue, 2), (Role::Arg, 3)],
            ),
        ]);
        let mut through = inline.clone();
        through.insert(
            3,
            node(10, NodeKind::Argument, "a", 8.0, &[(Role::Value, 2)]),
        );
        through[5].inputs[0].src = 10;
        let diff = Diff::new(
            Side::from_nodes("inline", &inline),
            Side::from_nodes("helper", &through),
            Options::default(),
        );
        let counts = diff.counts();
        assert_eq!(
            (counts.matched, counts.only_old, counts.only_new),
            (5, 0, 1)
        );
        assert!(diff.first_divergence().is_none());
        assert_eq!(diff.partner_of_old(4), Some(4));
    }

    /// A changed constant: matched by structure, the first divergence, and
    /// what follows from it is not an origin.
    #[test]
    fn a_changed_constant_is_the_first_divergence() {
        let old = times_two();
        let mut new = old.clone();
        new[1].recorded = Recorded::Float(3.0);
        new[2].recorded = Recorded::Float(12.0);
        let diff = Diff::new(
            Side::from_nodes("old", &old),
            Side::from_nodes("new", &new),
            Options::default(),
        );
        let first = diff.first_divergence().expect("a divergence");
        assert_eq!(
            first.new.map(|n| (n.id, n.value)),
            Some((1, "3.0".to_string()))
        );
        let origins: Vec<(u64, bool)> = diff
            .differences()
            .iter()
            .map(|d| (d.new.as_ref().map_or(0, |n| n.id), d.origin))
            .collect();
        assert_eq!(origins, [(1, true), (2, false)]);
        let tolerant = Options {
            rel_tol: Some(0.6),
            ..Options::default()
        };
        let diff = Diff::new(
            Side::from_nodes("old", &old),
            Side::from_nodes("new", &new),
            tolerant,
        );
        assert!(diff.equivalent());
    }

    /// A report describing only `most` differences per call says what the
    /// whole report says: the same groups and counts, the same first
    /// `most` in node order (JSON), the same origins-first selection (the
    /// text report).
    #[test]
    fn a_report_shown_in_part_agrees_with_the_whole_report() {
        // 40 constants, each times a shared 2.0; NEW changes every third
        // constant (origins) and so its product (downstream), and has
        // two nodes of its own.
        let mut old = vec![node(0, NodeKind::Const, "", 2.0, &[])];
        for i in 0..40u64 {
            let value = i as f64;
            old.push(node(1 + 2 * i, NodeKind::Const, "", value, &[]));
            old.push(node(
                2 + 2 * i,
                NodeKind::UDispatch,
                "__mul__",
                value * 2.0,
                &[(Role::SelfValue, 1 + 2 * i), (Role::Arg, 0)],
            ));
        }
        let mut new = old.clone();
        for i in (0..40).step_by(3) {
            new[1 + 2 * i].recorded = Recorded::Float(100.0 + i as f64);
            new[2 + 2 * i].recorded = Recorded::Float(2.0 * (100.0 + i as f64));
        }
        new.push(node(81, NodeKind::Const, "", 7.5, &[]));
        new.push(node(82, NodeKind::Const, "", 8.5, &[]));
        let diff = Diff::new(
            Side::from_nodes("old", &old),
            Side::from_nodes("new", &new),
            Options::default(),
        );
        let whole = diff.report();
        let total: usize = whole.groups().map(|g| g.count).sum();
        assert_eq!(total, 14 * 2 + 2);
        let origins_first = |differences: &[Difference], most: usize| -> Vec<u64> {
            let mut members: Vec<&Difference> = differences.iter().collect();
            members.sort_by_key(|d| !d.origin);
            let ids = members.iter().take(most);
            ids.map(|d| d.new.as_ref().map_or(u64::MAX, |n| n.id))
                .collect()
        };
        for most in [0, 1, 2, 5, 15, 29, 100] {
            let part = diff.report_shown(most);
            assert_eq!(part.groups().len(), whole.groups().len(), "most {most}");
            for (shown, all) in part.groups().zip(whole.groups()) {
                assert_eq!((shown.call, shown.count), (all.call, all.count));
                assert_eq!(all.count, all.differences.len());
                let cut = most.min(all.count);
                assert_eq!(shown.differences[..cut], all.differences[..cut]);
                assert_eq!(
                    origins_first(shown.differences, most),
                    origins_first(all.differences, most),
                    "most {most}"
                );
            }
            let json = serde_json::to_value(&part).unwrap();
            let listed = json["differences"][0]["differences"].as_array().unwrap();
            assert_eq!(listed.len(), most.min(total), "most {most}");
            assert_eq!(json["differences"][0]["count"], total);
        }
    }
}
