//! A trace as a Python module — one function per requested result, whose
//! parameters are the computation's inputs and whose body is the recorded
//! computation as straight-line Python (traced calls inlined, operators as
//! operators, objects of traced classes made by calling their class,
//! untraced callables imported by module and name). The function is
//! specialised to the path the run took: comparisons whose answer steered
//! it become guards that raise `hltpy.GuardFailed` on another answer.
//! A [`Compilation`] holds what is known of the whole graph and compiles
//! one result per [`Compilation::function`]; [`module`] assembles the
//! file; the `compile` command loads the trace, prints and runs `--check`.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;
use std::fmt::Write as _;

use hltpy_schema::{NodeKind, Operator, Role};

use crate::eval::recorded_text;
use crate::expr::{binary_form, call_arguments, first_argument, ATOM, CMP, UNARY};
use crate::interp::{IdMap, IdSet};
use crate::pysource::{self, attribute, comment, inert, is_dotted_name, is_identifier};
use crate::{literal, python, Graph, Input, Node, Recorded, Value};

/// What compile knows of a whole graph, whichever node it compiles:
/// built once and shared by every function compiled from the graph. (Each
/// function built them again: passes over the whole graph per function,
/// compiling pyflate's 26 first calls took 140 s.)
pub struct Compilation<'g> {
    graph: &'g Graph,
    /// The traced modules (to tell `pkg.mod` from `pkg.mod.Class`).
    modules: &'g [String],
    allow_constants: bool,
    /// The nodes made inside each frame, in row order.
    bodies: Bodies<'g>,
    /// The item taken from the same iterator just before each Iteration
    /// node, by the node's row (one link, not the list: a loop's last item
    /// would otherwise push all the others, n² pushes for the loop).
    previous_item: Vec<u32>,
    /// Every node a traced operation read directly.
    direct_reads: RowSet<'g>,
    /// What changes objects in place (made on first use).
    changes: OnceCell<Changes>,
    /// The attributes the run read from objects that entered the trace as
    /// values, by object: the first read of each name that no traced write
    /// explains (made on first use).
    attribute_reads: OnceCell<IdMap<Vec<(String, u64)>>>,
    /// `object_of`'s answers so far (a function of the graph alone): a
    /// value handed along a whole run (richards' tasks, stored, read and
    /// passed on) makes chains as long as the run, walked again by every
    /// node on them otherwise.
    objects: RefCell<Remembered>,
}

impl<'g> Compilation<'g> {
    /// `modules` are the trace's traced modules; with `allow_constants`, a
    /// value Python cannot write becomes a parameter instead of a refusal.
    pub fn new(graph: &'g Graph, modules: &'g [String], allow_constants: bool) -> Compilation<'g> {
        Compilation {
            graph,
            modules,
            allow_constants,
            bodies: Bodies::of(graph),
            previous_item: previous_items(graph),
            direct_reads: graph_reads(graph),
            changes: OnceCell::new(),
            attribute_reads: OnceCell::new(),
            objects: RefCell::default(),
        }
    }

    /// Compiles the computation of node `root` into a function `name`.
    /// The refusal says what cannot be written, quoting the trace.
    pub fn function(&self, root: u64, name: &str) -> Result<Compiled, String> {
        Compiler::new(self).function(root, name)
    }

    /// The node that is the object a node's value is: through parameters,
    /// reads of stored values, inlined calls, and from a new object's
    /// NewInit to the object its `__init__` saw.
    fn object_of(&self, id: u64) -> u64 {
        let step = |node: &Node| match node.kind {
            NodeKind::GetAttr | NodeKind::GetItem => node.input(Role::Source),
            NodeKind::NewInit => node.input(Role::Object),
            // Not through `passes_through`'s NewInit case: what a node is
            // must not depend on what the function builds in place.
            _ => value_behind(node).or_else(|| Compiler::yielded_by_a_value(self.graph, node)),
        };
        walk_remembered(self.graph, &self.objects, id, step)
    }

    /// The nodes that change an object in place, by the object's origin:
    /// attribute and item writes, deletions, in-place methods of builtin
    /// containers.
    fn changes(&self) -> &Changes {
        self.changes.get_or_init(|| {
            let mut changes = Changes::default();
            for node in self.graph.nodes() {
                if let (NodeKind::NewInit, Some(object)) = (node.kind, node.input(Role::Object)) {
                    changes.made_by.insert(object, node.id);
                }
                let object = match node.kind {
                    NodeKind::SetAttr => node.input(Role::Object),
                    NodeKind::SetItem | NodeKind::DelItem => node.input(Role::Op1),
                    // `xs.append(x)`: the receiver, or the object the bound
                    // method was read from.
                    NodeKind::UDispatch if python::IN_PLACE_METHODS.contains(&node.name()) => {
                        node.input(Role::SelfValue).or_else(|| {
                            let method = self.graph.get(node.input(Role::Callable)?)?;
                            method.input(Role::Object)
                        })
                    }
                    _ => None,
                };
                if let Some(object) = object {
                    let object = self.object_of(object);
                    changes.by_object.entry(object).or_default().push(node.id);
                }
            }
            changes
        })
    }

    /// The attributes the run read from an object that entered the trace
    /// as a value (first read per name, unless a traced write to it came
    /// first). A read may have a source, the traced operation that made
    /// the value, though the write itself was not traced (geographiclib's
    /// `Geodesic.WGS84`, built at import by code given raw values): what
    /// it read is what the object held.
    fn reads_of(&self, object: u64) -> Vec<(String, u64)> {
        let reads = self.attribute_reads.get_or_init(|| {
            let mut reads: IdMap<Vec<(String, u64)>> = IdMap::default();
            let mut written: IdMap<Vec<&str>> = IdMap::default();
            for node in self.graph.nodes() {
                let Some(of) = node.input(Role::Object) else {
                    continue;
                };
                match node.kind {
                    NodeKind::SetAttr => {
                        written
                            .entry(self.object_of(of))
                            .or_default()
                            .push(node.name());
                        continue;
                    }
                    NodeKind::GetAttr => {}
                    _ => continue,
                }
                let method = matches!(
                    node.type_name.as_deref(),
                    Some("method" | "builtin_function_or_method" | "method-wrapper")
                );
                let of = self.object_of(of);
                if method
                    || written
                        .get(&of)
                        .is_some_and(|names| names.contains(&node.name()))
                {
                    continue;
                }
                let entry = reads.entry(of).or_default();
                if !entry.iter().any(|(name, _)| name == node.name()) {
                    entry.push((node.name().to_string(), node.id));
                }
            }
            reads
        });
        reads.get(&object).cloned().unwrap_or_default()
    }
}

/// Every node some traced operation read directly (a traced call's own
/// Arguments excepted: binding them is no use).
fn graph_reads(graph: &Graph) -> RowSet<'_> {
    let mut reads = RowSet::new(graph);
    for node in graph.nodes() {
        for input in operands(node) {
            if !(node.kind.is_traced_call() && input.role.is_argument()) {
                reads.insert(input.src);
            }
        }
    }
    reads
}

/// A module of compiled functions, ready to write.
pub struct Module {
    pub text: String,
    /// Every module the functions import.
    pub imports: BTreeSet<String>,
}

/// The module holding `functions`, compiled from nodes `roots` of the
/// trace `trace` recorded with Python `python`: a docstring naming them,
/// the imports, `GuardFailed` when a function has guards, the functions.
pub fn module(trace: &str, python: &str, roots: &[u64], functions: &[Compiled]) -> Module {
    let imports: BTreeSet<String> = functions
        .iter()
        .flat_map(|f| f.imports.iter().cloned())
        .collect();
    let mut text = format!(
        // The trace's path on a line of its own: a long path is one word,
        // which line-length checks (ruff's E501) let through.
        "\"\"\"Compiled by hltpy-analyze from node{} {} of the trace\n{}\n\n\
         Recorded with Python {}. Specialised to the path the recorded run\n\
         took: an input that would take another path raises\n\
         hltpy.GuardFailed where the paths part.\n\"\"\"\n",
        if roots.len() == 1 { "" } else { "s" },
        roots
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        inert(trace, true),
        inert(python, true)
    );
    if !imports.is_empty() {
        text.push('\n');
        for import in &imports {
            let _ = writeln!(text, "import {import}");
        }
    }
    if functions.iter().any(|f| f.guards) {
        // hltpy's error when hltpy is installed; the same error otherwise,
        // so the module runs on its own.
        text.push_str(
            "\ntry:\n    from hltpy import GuardFailed\nexcept ImportError:\n\n    \
             class GuardFailed(Exception):\n        \
             \"\"\"An input took another path than the recorded run.\"\"\"\n",
        );
    }
    for function in functions {
        let _ = write!(text, "\n\n{}", function.text);
    }
    Module { text, imports }
}

/// Where the program's modules were: the directories of its files, and
/// above a package's files the directory holding the package
/// (`geographiclib.geodesic` is imported from where `geographiclib/` is);
/// not one whose name would split PYTHONPATH (`:`, NUL).
pub fn source_dirs(graph: &Graph) -> BTreeSet<String> {
    // A run's nodes come in long stretches of one file: each stretch
    // inserted once (a string comparison per node and tree level was 2% of
    // compile's time).
    let mut files: BTreeSet<&str> = BTreeSet::new();
    let mut previous = None;
    for file in graph.nodes().iter().filter_map(|n| n.file.as_ref()) {
        let identity = (file.address(), file.len());
        if previous != Some(identity) {
            previous = Some(identity);
            files.insert(file);
        }
    }
    files
        .into_iter()
        .filter_map(|f| std::path::Path::new(f).parent())
        .flat_map(|dir| {
            let mut root = dir;
            while root.join("__init__.py").is_file() {
                match root.parent() {
                    Some(parent) => root = parent,
                    None => break,
                }
            }
            [dir, root]
        })
        .map(|d| d.display().to_string())
        .filter(|d| !d.contains([':', '\0']))
        .collect()
}

/// Builtin functions a UCall may name without a callable input.
const PYTHON_BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "bin",
    "bool",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "hash",
    "hex",
    "int",
    "isinstance",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "oct",
    "ord",
    "pow",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
];

/// A compiled function: its text, the modules it imports, and the printed
/// result the recording expects.
pub struct Compiled {
    pub text: String,
    pub imports: BTreeSet<String>,
    pub expected: String,
    /// Does it check the recorded path (raise `GuardFailed`)?
    pub guards: bool,
}

/// Kinds whose node is a statement in its place (an effect, or a value
/// that depends on state: iteration, a call of unknown code).
fn has_effect(node: &Node) -> bool {
    match node.kind {
        NodeKind::SetAttr
        | NodeKind::SetItem
        | NodeKind::DelItem
        | NodeKind::Iterator
        | NodeKind::Iteration
        | NodeKind::Generation
        | NodeKind::Awaited
        | NodeKind::UCall
        | NodeKind::NewInit
        | NodeKind::Call
        | NodeKind::Dispatch => true,
        NodeKind::UDispatch => node.input(Role::Callable).is_some(),
        NodeKind::Const
        | NodeKind::Deep
        | NodeKind::Function
        | NodeKind::Class
        | NodeKind::Obj
        | NodeKind::GetAttr
        | NodeKind::GetItem
        | NodeKind::Argument
        | NodeKind::Generator
        | NodeKind::Coroutine => false,
    }
}

/// The inputs whose values the node's Python reads: not where a value came
/// from (a read's source, a default, a call's returned body value, which
/// the call stands for), nor a NewInit's new object (made by the call).
fn operands(node: &Node) -> impl Iterator<Item = &Input> {
    node.inputs.iter().filter(move |input| {
        let made_by_the_call = node.kind == NodeKind::NewInit && input.role == Role::Object;
        !(input.role.is_provenance() || made_by_the_call)
    })
}

/// A traced call's arguments as parameters (each with its Python text and
/// default), and the arguments computed in the function instead.
type Parameters = (Vec<(u64, String, String)>, IdSet);

/// What changes objects in place (`Compilation::changes`).
#[derive(Default)]
struct Changes {
    /// The changes of each object, in row order.
    by_object: IdMap<Vec<u64>>,
    /// The NewInit that made each object of a traced class.
    made_by: IdMap<u64>,
}

/// One function being compiled.
struct Compiler<'g> {
    graph: &'g Graph,
    /// What is known of the whole graph.
    shared: &'g Compilation<'g>,
    /// What the function computes, in row order.
    emitted: Vec<u64>,
    names: IdMap<String>,
    /// Precedence of the expressions inlined in place of a name.
    precedence: IdMap<u8>,
    params: Vec<(String, String)>,
    imports: BTreeSet<String>,
    lines: Vec<String>,
    /// The precedence of the last expression built.
    last_precedence: u8,
    /// Does the function check the recorded path?
    guards: bool,
    /// Names `t1`, `t2`, … given so far.
    temporaries: usize,
    /// NewInits written as the seed's new_init does (`cls.__new__(cls)`,
    /// then their `__init__` body), by their new object: an argument they
    /// were given cannot be written (a generator expression).
    built_in_place: IdMap<u64>,
    /// How many items the function takes from each iterator (counted on
    /// first use).
    items_taken: Option<IdMap<usize>>,
    /// `resolve`'s answers so far: a value returned and passed on along a
    /// whole loop (float's `maximize`) makes chains as long as the run.
    /// Valid while names and objects built in place stay as they were:
    /// emptied when a parameter is named or an object is built in place
    /// (nodes named later are ones a chain ends at anyway).
    resolved: RefCell<Remembered>,
}

/// No row (of a graph with fewer than 2^32 - 1 nodes).
const NO_ROW: u32 = u32::MAX;

/// The nodes made inside each frame (a traced call's body), in row order,
/// as one list by the frame's row: a vector per frame grown node by node
/// and found by id was a reallocation per doubling and a hash lookup per
/// node (a fifth of compile's time with the other maps by id).
struct Bodies<'g> {
    graph: &'g Graph,
    /// Frame row `r`'s members are `members[start[r]..start[r + 1]]`.
    start: Vec<u32>,
    members: Vec<u64>,
    /// Frames that are not nodes of the graph (a foreign trace).
    outside: IdMap<Vec<u64>>,
}

impl<'g> Bodies<'g> {
    fn of(graph: &'g Graph) -> Bodies<'g> {
        let mut start = vec![0u32; graph.len() + 1];
        let mut outside: IdMap<Vec<u64>> = IdMap::default();
        let frame_rows = graph.nodes().iter().filter_map(|node| {
            let frame = node.frame?;
            let row = graph.position(frame);
            if row.is_none() {
                outside.entry(frame).or_default().push(node.id);
            }
            row
        });
        for row in frame_rows {
            start[row + 1] += 1;
        }
        for row in 0..graph.len() {
            start[row + 1] += start[row];
        }
        let mut next = start.clone();
        let mut members = vec![0; start[graph.len()] as usize];
        for node in graph.nodes() {
            if let Some(row) = node.frame.and_then(|frame| graph.position(frame)) {
                members[next[row] as usize] = node.id;
                next[row] += 1;
            }
        }
        Bodies {
            graph,
            start,
            members,
            outside,
        }
    }

    fn of_frame(&self, frame: u64) -> &[u64] {
        match self.graph.position(frame) {
            Some(row) => &self.members[self.start[row] as usize..self.start[row + 1] as usize],
            None => self.outside.get(&frame).map_or(&[], Vec::as_slice),
        }
    }
}

/// For each Iteration node's row, the row of the item taken from the
/// same iterator just before it, or [`NO_ROW`].
fn previous_items(graph: &Graph) -> Vec<u32> {
    let mut previous = vec![NO_ROW; graph.len()];
    let mut last_item: IdMap<u32> = IdMap::default();
    for (row, node) in graph.nodes().iter().enumerate() {
        if let (NodeKind::Iteration, Some(iterator)) = (node.kind, node.input(Role::Iterator)) {
            if let Some(before) = last_item.insert(iterator, row as u32) {
                previous[row] = before;
            }
        }
    }
    previous
}

/// A set of nodes (the function's cone) by their rows in the graph: a
/// bit per row, iterated in row order, so visiting the cone walks the
/// nodes as they lie in memory (a hash set's order was a cache miss per
/// node, a sixth of compile's time). Ids the graph lacks are kept aside.
struct RowSet<'g> {
    graph: &'g Graph,
    rows: Vec<u64>,
    outside: IdSet,
}

impl<'g> RowSet<'g> {
    fn new(graph: &'g Graph) -> RowSet<'g> {
        RowSet {
            graph,
            rows: vec![0; graph.len().div_ceil(64)],
            outside: IdSet::default(),
        }
    }

    /// Adds `id`; false when it was there.
    fn insert(&mut self, id: u64) -> bool {
        match self.graph.position(id) {
            Some(row) => {
                let (word, bit) = (row / 64, 1u64 << (row % 64));
                let fresh = self.rows[word] & bit == 0;
                self.rows[word] |= bit;
                fresh
            }
            None => self.outside.insert(id),
        }
    }

    fn contains(&self, id: u64) -> bool {
        match self.graph.position(id) {
            Some(row) => self.rows[row / 64] & (1 << (row % 64)) != 0,
            None => self.outside.contains(&id),
        }
    }

    /// The rows of the graph in the set, in order.
    fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows.iter().enumerate().flat_map(|(word, bits)| {
            let mut bits = *bits;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    word * 64 + bit
                })
            })
        })
    }

    /// Every id in the set: the graph's in row order, then the others.
    fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        let nodes = self.graph.nodes();
        self.rows()
            .map(|row| nodes[row].id)
            .chain(self.outside.iter().copied())
    }
}

impl<'g> Compiler<'g> {
    fn new(shared: &'g Compilation<'g>) -> Compiler<'g> {
        Compiler {
            graph: shared.graph,
            shared,
            emitted: Vec::new(),
            names: IdMap::default(),
            precedence: IdMap::default(),
            params: Vec::new(),
            imports: BTreeSet::new(),
            lines: Vec::new(),
            last_precedence: ATOM,
            guards: false,
            temporaries: 0,
            built_in_place: IdMap::default(),
            items_taken: None,
            resolved: RefCell::default(),
        }
    }

    fn node(&self, id: u64) -> Result<&'g Node, String> {
        self.graph
            .get(id)
            .ok_or_else(|| format!("node {id} is read but not in the trace"))
    }

    /// A traced call whose body is inlined: it returned a traced value.
    fn inlined(node: &Node) -> bool {
        matches!(node.kind, NodeKind::Call | NodeKind::Dispatch)
            && node.input(Role::Return).is_some()
    }

    /// The nodes the function computes: the data cone of the root, with
    /// the bodies of inlined calls and of generator steps.
    fn collect(&mut self, root: u64, computed: &IdSet) -> Result<(), String> {
        // The compiled call's own Argument nodes are its parameters: what
        // they were given is not part of the function, unless it is
        // computed in it.
        let root_node = self.node(root)?;
        let parameters: IdSet = if root_node.kind.is_traced_call() {
            root_node
                .inputs
                .iter()
                .filter(|i| i.role.is_argument() && !computed.contains(&i.src))
                .map(|i| i.src)
                .collect()
        } else {
            IdSet::default()
        };
        let mut seen = RowSet::new(self.graph);
        self.grow(&mut seen, vec![root], &parameters)?;
        // State the cone reads that code outside it changed (a method that
        // set an attribute, an append to a list): those effects run too,
        // until nothing more is missing.
        let changes = self.shared.changes();
        loop {
            let missed = self.missed_changes(&seen, changes);
            if missed.is_empty() {
                break;
            }
            self.grow(&mut seen, missed, &parameters)?;
        }
        self.emitted = seen.rows().map(|row| self.graph.nodes()[row].id).collect();
        Ok(())
    }

    /// Adds to `seen` the nodes `work` needs: their operands, the bodies
    /// of inlined calls and generator steps, objects built in place.
    fn grow(
        &mut self,
        seen: &mut RowSet<'g>,
        mut work: Vec<u64>,
        parameters: &IdSet,
    ) -> Result<(), String> {
        while let Some(id) = work.pop() {
            if !seen.insert(id) {
                continue;
            }
            if parameters.contains(&id) {
                continue;
            }
            let node = self.node(id)?;
            if node.kind == NodeKind::NewInit && self.needs_parts(node) {
                if let Some(object) = node.input(Role::Object) {
                    self.built_in_place.insert(id, object);
                    self.resolved.get_mut().clear();
                    work.push(object);
                    work.extend(self.shared.bodies.of_frame(id));
                    continue;
                }
            }
            if let Some(item) = Self::yielded_by_a_value(self.graph, node) {
                work.push(item);
                continue;
            }
            work.extend(operands(node).map(|input| input.src));
            // An item is the next one only after those before it.
            let previous = self
                .graph
                .position(id)
                .map_or(NO_ROW, |row| self.shared.previous_item[row]);
            if previous != NO_ROW {
                work.push(self.graph.nodes()[previous as usize].id);
            }
            // An inlined call computes what its body returned.
            work.extend(node.input(Role::Return));
            // Awaiting a coroutine is a call whose body ran in steps:
            // computed as one, synchronously.
            if Self::inlined(node) || matches!(node.kind, NodeKind::Generation | NodeKind::Awaited)
            {
                work.extend(self.shared.bodies.of_frame(id));
            }
        }
        Ok(())
    }

    /// A call the function makes (rather than writes out) must compute
    /// from what it is given: its body reading a value the run made that
    /// reaches it another way (a module global, a closure, a default set
    /// by untraced code: deltablue's `planner`) would read what the
    /// compiled module has there instead. Refused, naming the call, the
    /// read and where the value was made.
    fn refuse_hidden_inputs(&self) -> Result<(), String> {
        let called: IdSet = self
            .emitted
            .iter()
            .copied()
            .filter(|id| {
                self.graph.get(*id).is_some_and(|node| match node.kind {
                    NodeKind::NewInit => !self.built_in_place.contains_key(id),
                    NodeKind::Call | NodeKind::Dispatch => !Self::inlined(node),
                    _ => false,
                })
            })
            .collect();
        if called.is_empty() {
            return Ok(());
        }
        // The outermost called call around each frame (memoised).
        let mut outermost: IdMap<Option<u64>> = IdMap::default();
        let mut around = |frame: Option<u64>| -> Option<u64> {
            // Up to the top or a frame already known, then back down.
            let mut chain = Vec::new();
            let mut above = None;
            let mut at = frame;
            while let Some(call) = at {
                if let Some(known) = outermost.get(&call) {
                    above = *known;
                    break;
                }
                chain.push(call);
                at = self.graph.get(call).and_then(|node| node.frame);
            }
            for &call in chain.iter().rev() {
                if above.is_none() && called.contains(&call) {
                    above = Some(call);
                }
                outermost.insert(call, above);
            }
            match chain.first() {
                Some(call) => outermost[call],
                None => above,
            }
        };
        // Only nodes inside a called call can read what it was not given:
        // the bodies of the called calls, nested frames included, in row
        // order (the whole graph, walked once per function compiled, was
        // most of compiling many first calls of a long run).
        let mut inside = Vec::new();
        let mut frames: Vec<u64> = called.iter().copied().collect();
        let mut entered = RowSet::new(self.graph);
        while let Some(frame) = frames.pop() {
            if !entered.insert(frame) {
                continue;
            }
            for &member in self.shared.bodies.of_frame(frame) {
                inside.extend(self.graph.position(member));
                frames.push(member);
            }
        }
        inside.sort_unstable();
        inside.dedup();
        for node in inside.into_iter().map(|row| &self.graph.nodes()[row]) {
            if node.kind == NodeKind::Argument || node.frame.is_none() {
                continue;
            }
            let Some(call) = around(node.frame) else {
                continue;
            };
            let call_node = self.node(call)?;
            // What the call is given: its inputs, and the object a bound
            // method was read from.
            let given = |id: u64| {
                let object = self.object_of(id);
                call_node.inputs.iter().any(|input| {
                    let receiver = self
                        .graph
                        .get(input.src)
                        .filter(|_| input.role == Role::Callable)
                        .and_then(|method| method.input(Role::Object));
                    [Some(input.src), receiver]
                        .into_iter()
                        .flatten()
                        .any(|src| src == id || self.object_of(src) == object)
                })
            };
            for input in operands(node) {
                let Some(read) = self.graph.get(input.src) else {
                    continue;
                };
                if read.kind.is_leaf() || read.id == call || given(read.id) {
                    continue;
                }
                if around(read.frame) == Some(call) {
                    continue;
                }
                return Err(format!(
                    "{} at {} (called, not written out) reads at {} a value the run made at \
                     {} ({} {}) without being given it (a module global, a closure or a \
                     default set by code the trace does not see): the compiled module \
                     would not have it",
                    call_node.name(),
                    short_location(call_node),
                    short_location(node),
                    short_location(read),
                    read.kind,
                    recorded_text(&read.recorded)
                        .chars()
                        .take(60)
                        .collect::<String>(),
                ));
            }
        }
        Ok(())
    }

    fn object_of(&self, id: u64) -> u64 {
        self.shared.object_of(id)
    }

    /// Changes the function would miss: made to an object the function
    /// builds, after it was made and before the function's last use of
    /// it, by code the function does not run (neither the change nor a
    /// call around it is in the cone). Each is run as the program ran it:
    /// the outermost call around it made where the function's code runs
    /// (`scene.lookAt(p)` for the `self.lookingAt = p` it does).
    fn missed_changes(&self, seen: &RowSet, changes: &Changes) -> Vec<u64> {
        let row = |id: u64| self.graph.position(id).unwrap_or(usize::MAX);
        let frame_of = |id: u64| self.graph.get(id).and_then(|node| node.frame);
        // The frames the function's code runs in, and the calls around them.
        let mut frames = RowSet::new(self.graph);
        for id in seen.ids() {
            let mut frame = frame_of(id);
            while let Some(call) = frame {
                if !frames.insert(call) {
                    break;
                }
                frame = frame_of(call);
            }
        }
        // Does the function run a node: it or a call around it is in the cone?
        let runs = |id: u64| {
            let mut around = Some(id);
            while let Some(id) = around {
                if seen.contains(id) {
                    return true;
                }
                around = frame_of(id);
            }
            false
        };
        // The last row at which the function uses each object it builds,
        // by the object's row, plus one (0: not used). Objects that are
        // not nodes of the graph have no changes before their last use.
        // (Zeroed memory, touched where used; the rows used listed: a
        // function of a small part of a large graph pays for that part.)
        let mut last_use = vec![0u32; self.graph.len()];
        let mut used_rows = Vec::new();
        for id in seen.ids() {
            let Some(node) = self.graph.get(id) else {
                continue;
            };
            for input in operands(node) {
                let object = self.object_of(input.src);
                let Some(made) = self.graph.position(object) else {
                    continue;
                };
                let built = runs(object)
                    || changes
                        .made_by
                        .get(&object)
                        .is_some_and(|new| seen.contains(*new));
                if built {
                    if last_use[made] == 0 {
                        used_rows.push(made);
                    }
                    last_use[made] = last_use[made].max(row(id) as u32 + 1);
                }
            }
        }
        let (mut missed, mut listed) = (Vec::new(), IdSet::default());
        used_rows.sort_unstable();
        for made in used_rows {
            let (object, last) = (self.graph.nodes()[made].id, last_use[made] as usize - 1);
            for &change in changes.by_object.get(&object).into_iter().flatten() {
                let at = row(change);
                if at <= made || at >= last {
                    continue;
                }
                if runs(change) {
                    continue;
                }
                // The innermost node around the change whose frame the
                // function's code runs in (or top level).
                let mut outermost = change;
                while let Some(frame) = frame_of(outermost) {
                    if frames.contains(frame) {
                        break;
                    }
                    outermost = frame;
                }
                if listed.insert(outermost) {
                    missed.push(outermost);
                }
            }
        }
        missed
    }

    fn function(mut self, root: u64, name: &str) -> Result<Compiled, String> {
        let root_node = self.node(root)?;
        if matches!(root_node.kind, NodeKind::Coroutine | NodeKind::Awaited) {
            return Err(format!(
                "node {root} ({} {} at {}) is a coroutine's: compile writes synchronous \
                 functions, not async ones; compile a synchronous call of the trace",
                root_node.kind,
                root_node.name(),
                root_node.location()
            ));
        }
        self.collect(root, &IdSet::default())?;
        let root_node = self.node(root)?;
        // The parameters: the traced call's arguments, by name; those made
        // by the run are computed as the run did.
        let (arguments, computed) = if root_node.kind.is_traced_call() {
            self.parameters(root_node)?
        } else {
            Default::default()
        };
        if !computed.is_empty() {
            self.collect(root, &computed)?;
        }
        // Otherwise the values that entered at top level (`hltpy.trace(3)`,
        // a raw operand) are the parameters, in0, in1, …
        if !root_node.kind.is_traced_call() {
            for id in self.emitted.clone() {
                let node = self.node(id)?;
                if node.kind != NodeKind::Const || node.frame.is_some() {
                    continue;
                }
                if let Some(default) = pysource::literal_of(&recorded_text(&node.recorded)) {
                    let parameter = format!("in{}", self.params.len());
                    self.names.insert(id, parameter.clone());
                    self.params.push((parameter, default));
                }
            }
        }
        let readers = self.readers();
        for (argument, _, _) in &arguments {
            self.unread_argument(root_node, *argument)?;
        }
        if matches!(root_node.kind, NodeKind::Call | NodeKind::Dispatch)
            && !Self::inlined(root_node)
        {
            self.lines.push(comment(&format!(
                "{} returned a value made by code the trace does not see: it is called",
                root_node.name()
            )));
        }
        self.refuse_hidden_inputs()?;
        // The node whose value the function returns.
        let original_root = root;
        let root = self.resolve(root);
        let mutates = self.emitted.iter().any(|id| {
            self.graph.get(*id).is_some_and(|n| {
                has_effect(n)
                    && !matches!(
                        n.kind,
                        NodeKind::Iterator | NodeKind::Iteration | NodeKind::NewInit
                    )
                    && !Self::inlined(n)
                    && !self.initialises(n)
            })
        });
        for id in self.emitted.clone() {
            let node = self.node(id)?;
            if self.names.contains_key(&id)
                || node.kind.is_leaf()
                || node.kind == NodeKind::Argument
            {
                continue;
            }
            // A call inlined here: a parameter its body never read may
            // have steered code the trace does not see.
            if (Self::inlined(node)
                || matches!(node.kind, NodeKind::Generator | NodeKind::Coroutine))
                && id != original_root
            {
                for input in node.inputs.iter().filter(|i| i.role.is_argument()) {
                    self.unread_argument(node, input.src)?;
                }
            }
            // Stands for another node's value: printed where that is.
            if node.kind != NodeKind::SetAttr && self.passes_through(node).is_some() {
                continue;
            }
            if node.kind == NodeKind::Obj && self.built_in_place.values().any(|o| *o == id) {
                let class = node.input(Role::Class).ok_or("an Obj without its class")?;
                let class = self.value(class)?;
                let variable = self.fresh_name();
                self.lines
                    .push(format!("{variable} = {class}.__new__({class})"));
                self.names.insert(id, variable);
                continue;
            }
            if matches!(
                node.kind,
                NodeKind::Obj | NodeKind::Generator | NodeKind::Coroutine
            ) {
                continue;
            }
            // A method looked up is printed where it is called.
            if node.kind == NodeKind::GetAttr
                && matches!(
                    node.type_name.as_deref(),
                    Some("method" | "builtin_function_or_method" | "method-wrapper")
                )
            {
                continue;
            }
            let count = self.graph.position(id).map_or(0, |row| readers[row]);
            // A value no traced code read that answered a question the
            // path depended on: a comparison's bool, a conversion's number.
            let path_value = match &node.recorded {
                _ if count > 0 || id == root => None,
                Recorded::Bool(expected) => Some(*expected),
                _ if is_conversion(node) => None,
                _ => {
                    // A value without traced readers and without effect.
                    if !has_effect(node) {
                        continue;
                    }
                    None
                }
            };
            let converted = count == 0 && id != root && is_conversion(node);
            if node.kind == NodeKind::Iterator {
                self.iteration_guard(node)?;
            }
            let expression = self.expression(node)?;
            match node.kind {
                NodeKind::SetAttr | NodeKind::SetItem | NodeKind::DelItem => {
                    self.lines.push(expression);
                    continue;
                }
                _ => {}
            }
            if let Some(expected) = path_value {
                let expected = if expected { "True" } else { "False" };
                self.guard(
                    &format!("bool({expression}) is not {expected}"),
                    &format!(
                        "{} was {expected} when recorded; this input takes another path",
                        short_location(node)
                    ),
                );
                continue;
            }
            if converted {
                let recorded = recorded_text(&node.recorded);
                if let Some(Written::Literal(literal)) = literal_or_reference(&recorded) {
                    if recorded != "nan" {
                        self.guard(
                            &format!("{expression} != {literal}"),
                            &format!(
                                "{}: {expression} was {recorded} when recorded; untraced code used it",
                                short_location(node)
                            ),
                        );
                        continue;
                    }
                }
                self.lines.push(comment(&format!(
                    "{}: {expression} went to code the trace does not see",
                    short_location(node)
                )));
                continue;
            }
            if count == 0 && id != root && !has_effect(node) {
                continue;
            }
            // Inlined only while short: a loop's chain of single-use values
            // would otherwise grow one expression as long as the run (its
            // copies quadratic in memory, too deep for Python's parser).
            let pure_single =
                count == 1 && !has_effect(node) && !mutates && expression.len() <= INLINED_LENGTH;
            if pure_single || (id == root && !has_effect(node)) {
                self.precedence.insert(id, self.last_precedence);
                self.names.insert(id, expression);
                continue;
            }
            let variable = self.fresh_name();
            if count == 0 && id != root {
                self.lines.push(expression);
            } else {
                self.lines.push(format!("{variable} = {expression}"));
                self.names.insert(id, variable);
            }
        }
        let result = self.value(root)?;
        let mut text = String::new();
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, default)| match default.as_str() {
                "" => name.clone(),
                default => format!("{name}={default}"),
            })
            .collect();
        let _ = writeln!(
            text,
            "{}",
            wrap(&format!("def {name}({}):", params.join(", ")))
        );
        for statement in self.lines.iter().chain([&format!("return {result}")]) {
            for line in statement.lines() {
                let line = prefer_double_quotes(line);
                let _ = writeln!(text, "{}", wrap(&format!("    {line}")));
            }
        }
        let expected = recorded_text(&root_node.recorded);
        Ok(Compiled {
            text,
            imports: self.imports,
            expected,
            guards: self.guards,
        })
    }

    /// The traced call's arguments as the function's parameters, with
    /// their recorded values as defaults; entries of `*args` and
    /// `**kwargs` (the trace names them `args[0]`, `kwargs[key]`) as those
    /// parameters, guarded to the count the recorded call passed. Returns
    /// each argument with its Python text and default.
    fn parameters(&mut self, call: &Node) -> Result<Parameters, String> {
        let mut arguments = Vec::new();
        let mut computed = IdSet::default();
        let mut keyword_only = Vec::new();
        let mut positional_rest: Option<(String, Vec<String>)> = None;
        let mut keyword_rest: Option<(String, Vec<String>)> = None;
        let mut rest_setup = Vec::new();
        for input in call.inputs.iter().filter(|i| i.role.is_argument()) {
            let name = self.node(input.src)?.name().to_string();
            let mut setup = Vec::new();
            // An object changed after it was made is not what its
            // constructor call makes: made as the run made it, changes too.
            let written = if self.changed_before(input.src) {
                Err(String::new())
            } else {
                self.default_of(input.src, &mut setup, 0)
            };
            let default = match written {
                Ok(default) => default,
                // A value the run made (a vector two calls up computed, an
                // item of a list it built) is made the same way here.
                Err(_) if self.made_by_the_run(input.src) && !name.contains('[') => {
                    let made = self.node(self.recorded_origin(input.src))?;
                    self.lines.push(comment(&format!(
                        "{name}: the value the run made at {} ({}), made here the same way",
                        short_location(made),
                        made.kind
                    )));
                    computed.insert(input.src);
                    continue;
                }
                Err(_) if self.shared.allow_constants => "None".into(),
                Err(why) => {
                    return Err(format!(
                        "parameter {name}'s recorded value cannot be written as a default: {why}; \
                         --allow-constants makes its default None"
                    ))
                }
            };
            let text = match name.split_once('[') {
                Some((rest, key)) => {
                    let key = key.strip_suffix(']').unwrap_or(key);
                    if !is_identifier(rest) {
                        return Err(format!("its parameter {name:?} is not a Python name"));
                    }
                    rest_setup.append(&mut setup);
                    if key.parse::<usize>().is_ok() {
                        let group =
                            positional_rest.get_or_insert_with(|| (rest.to_string(), Vec::new()));
                        group.1.push(default.clone());
                        format!("{rest}[{key}]")
                    } else {
                        let key = Value::Str(key.into()).repr();
                        let group =
                            keyword_rest.get_or_insert_with(|| (rest.to_string(), Vec::new()));
                        group.1.push(format!("{key}: {default}"));
                        format!("{rest}[{key}]")
                    }
                }
                None => {
                    if !is_identifier(&name) {
                        return Err(format!("its parameter {name:?} is not a Python name"));
                    }
                    // A list, dict, set or object is made afresh for each
                    // call (a shared default would carry one call's writes
                    // into the next).
                    let immutable = literal::parse(&default).is_some_and(|v| {
                        pysource::literal(&v).is_some()
                            && !matches!(v, Value::List(_) | Value::Dict(_) | Value::Set(_))
                    });
                    let parameter = if immutable || default == "None" {
                        (name.clone(), default.clone())
                    } else {
                        let mut block = format!("if {name} is None:\n");
                        for line in setup.iter().chain([&format!("{name} = {default}")]) {
                            let _ = writeln!(block, "    {line}");
                        }
                        self.lines.push(block.trim_end().to_string());
                        (name.clone(), "None".into())
                    };
                    // After a `*args` entry, a parameter is keyword-only.
                    if positional_rest.is_some() {
                        keyword_only.push(parameter);
                    } else {
                        self.params.push(parameter);
                    }
                    name.clone()
                }
            };
            self.names.insert(input.src, text.clone());
            self.resolved.get_mut().clear();
            arguments.push((input.src, text, default));
        }
        if let Some((rest, defaults)) = &positional_rest {
            self.params.push((format!("*{rest}"), String::new()));
            let tuple = match defaults.as_slice() {
                [one] => format!("({one},)"),
                many => format!("({})", many.join(", ")),
            };
            self.rest_parameter(
                rest,
                &tuple,
                &rest_setup,
                defaults.len(),
                "extra positional argument",
            );
        }
        self.params.append(&mut keyword_only);
        if let Some((rest, entries)) = &keyword_rest {
            self.params.push((format!("**{rest}"), String::new()));
            let dict = format!("{{{}}}", entries.join(", "));
            let setup = if positional_rest.is_some() {
                &[][..]
            } else {
                &rest_setup[..]
            };
            self.rest_parameter(rest, &dict, setup, entries.len(), "extra keyword argument");
        }
        Ok((arguments, computed))
    }

    /// Was the object an argument was given changed in place between
    /// when it was made and the call?
    fn changed_before(&self, argument: u64) -> bool {
        let row = |id: u64| self.graph.position(id).unwrap_or(usize::MAX);
        let object = self.object_of(argument);
        let changes = self.shared.changes();
        // Made when its NewInit returned (its `__init__` writes are no change).
        let made = row(changes.made_by.get(&object).copied().unwrap_or(object));
        let call = row(argument);
        changes
            .by_object
            .get(&object)
            .into_iter()
            .flatten()
            .any(|change| (made..call).contains(&row(*change)))
    }

    /// Was a value made by traced code (not one that entered the trace)?
    fn made_by_the_run(&self, id: u64) -> bool {
        self.graph
            .get(self.recorded_origin(id))
            .is_some_and(|node| !node.kind.is_leaf())
    }

    /// A `*args` or `**kwargs` parameter: the recorded entries when the
    /// call gives none, and a guard on how many the recorded call passed
    /// (the traced code read that many; the untraced may read them all).
    fn rest_parameter(
        &mut self,
        rest: &str,
        recorded: &str,
        setup: &[String],
        count: usize,
        what: &str,
    ) {
        let mut block = format!("if not {rest}:\n");
        for line in setup.iter().chain([&format!("{rest} = {recorded}")]) {
            let _ = writeln!(block, "    {line}");
        }
        self.lines.push(block.trim_end().to_string());
        self.guards = true;
        self.lines.push(format!(
            "if len({rest}) != {count}:\n    raise GuardFailed({})",
            pysource::string(&format!(
                "the recorded call passed {count} {what}{}; this one takes another path",
                if count == 1 { "" } else { "s" }
            ))
        ));
    }

    /// `if condition: raise GuardFailed(message)`.
    fn guard(&mut self, condition: &str, message: &str) {
        self.guards = true;
        self.lines.push(format!(
            "if {condition}:\n    raise GuardFailed({})",
            pysource::string(message)
        ));
    }

    /// A parameter no traced operation read may still have steered code
    /// the trace does not see (`range(steps)`): its recorded value is part
    /// of the path, checked by a guard (or, for a value that cannot be
    /// compared as a literal, noted in a comment). Constants passed need
    /// no check.
    fn unread_argument(&mut self, call: &Node, argument: u64) -> Result<(), String> {
        if self.shared.direct_reads.contains(argument) {
            return Ok(());
        }
        let passed = self.resolve(argument);
        if self.node(passed)?.kind.is_leaf() && !self.names.contains_key(&passed) {
            return Ok(());
        }
        let parameter = self.node(argument)?.name().to_string();
        let value = self.value(argument)?;
        let recorded = recorded_text(&self.node(argument)?.recorded);
        let what = format!("{}: {}'s {parameter}", short_location(call), call.name());
        match literal_or_reference(&recorded) {
            Some(Written::Literal(literal)) if recorded != "nan" => self.guard(
                &format!("{value} != {literal}"),
                &format!("{what} was {recorded} when recorded; untraced code may use it"),
            ),
            _ => self.lines.push(comment(&format!(
                "{what} is not read by traced code; code the trace does not see may depend on it"
            ))),
        }
        Ok(())
    }

    /// Before `iter(x)`: the recorded run took some items from it. When
    /// that was all of them (x's recorded value has that many), another
    /// length takes another path: a guard; otherwise a comment says so.
    fn iteration_guard(&mut self, iterator: &Node) -> Result<(), String> {
        let Some(iterable) = iterator.input(Role::Iterable) else {
            return Ok(());
        };
        if self.items_taken.is_none() {
            let mut taken = IdMap::default();
            for node in self.emitted.iter().filter_map(|id| self.graph.get(*id)) {
                if let (NodeKind::Iteration, Some(of)) = (node.kind, node.input(Role::Iterator)) {
                    *taken.entry(of).or_default() += 1;
                }
            }
            self.items_taken = Some(taken);
        }
        let taken = self
            .items_taken
            .as_ref()
            .and_then(|taken| taken.get(&iterator.id).copied())
            .unwrap_or(0);
        let source = self.node(self.graph.through(iterable))?;
        let length =
            literal::parse(&recorded_text(&source.recorded)).and_then(|value| match value {
                Value::List(items) => Some(items.borrow().len()),
                Value::Dict(items) => Some(items.borrow().len()),
                Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
                    Some(items.len())
                }
                Value::Str(text) => Some(text.chars().count()),
                _ => None,
            });
        let iterable = self.value(iterable)?;
        match length {
            Some(length) if length == taken => {
                self.guards = true;
                self.lines.push(format!(
                    "if len({iterable}) != {length}:\n    raise GuardFailed({})",
                    pysource::string(&format!(
                        "{}: the recorded run iterated over {length} items here",
                        short_location(iterator)
                    ))
                ));
            }
            _ => {
                self.lines.push(comment(&format!(
                    "{}: the recorded run took {taken} item(s) from {iterable} here;",
                    short_location(iterator)
                )));
                self.lines
                    .push(comment("the function does the same whatever it holds"));
            }
        }
        Ok(())
    }

    /// How many emitted nodes read each node (through Arguments), by the
    /// node's row (a map by id was a cache miss per emitted node).
    fn readers(&self) -> Vec<u32> {
        let mut readers = vec![0u32; self.graph.len()];
        let mut emitted = RowSet::new(self.graph);
        for id in &self.emitted {
            emitted.insert(*id);
        }
        for id in &self.emitted {
            let Some(node) = self.graph.get(*id) else {
                continue;
            };
            // A node that stands for another's value reads nothing itself
            // (an inlined call's body did).
            if node.kind.is_leaf()
                || (node.kind != NodeKind::SetAttr && self.passes_through(node).is_some())
            {
                continue;
            }
            for input in operands(node) {
                let src = self.resolve(input.src);
                if let Some(row) = self.graph.position(src).filter(|_| emitted.contains(src)) {
                    readers[row] += 1;
                }
            }
        }
        readers
    }

    /// Is a node an attribute write of a built-in-place object's own
    /// `__init__` on it (no state anyone read before)?
    fn initialises(&self, node: &Node) -> bool {
        node.kind == NodeKind::SetAttr
            && node.frame.is_some_and(|frame| {
                self.built_in_place.get(&frame).copied() == node.input(Role::Object)
            })
    }

    /// The node whose value `id` stands for: through parameters (an
    /// Argument is what was passed), attribute writes, inlined calls
    /// (their returned value), objects built in place and items of raw
    /// iterators, stopping at a node already named.
    fn resolve(&self, id: u64) -> u64 {
        walk_remembered(self.graph, &self.resolved, id, |node| {
            if self.names.contains_key(&node.id) {
                return None;
            }
            self.passes_through(node)
        })
    }

    /// Follows `step` from `id` while it names a next node (a bounded
    /// number of steps, so a cycle cannot hang).
    fn follow(&self, mut id: u64, step: impl Fn(&Node) -> Option<u64>) -> u64 {
        for _ in 0..10_000 {
            match self.graph.get(id).and_then(&step) {
                Some(next) => id = next,
                None => return id,
            }
        }
        id
    }

    /// The node a node's value is, when the node is no operation of its
    /// own in the emitted function.
    fn passes_through(&self, node: &Node) -> Option<u64> {
        value_behind(node).or_else(|| match node.kind {
            NodeKind::NewInit => self.built_in_place.get(&node.id).copied(),
            NodeKind::Iteration => Self::yielded_by_a_value(self.graph, node),
            _ => None,
        })
    }

    /// An item taken from an iterator that entered the trace as a value (a
    /// generator expression passed in) is the traced value it yielded:
    /// the iterator itself cannot be rebuilt, and its traced work is
    /// recorded on its own.
    fn yielded_by_a_value(graph: &Graph, node: &Node) -> Option<u64> {
        if node.kind != NodeKind::Iteration {
            return None;
        }
        let iterator = graph.get(graph.through(node.input(Role::Iterator)?))?;
        (iterator.kind == NodeKind::Const)
            .then(|| node.input(Role::Source))
            .flatten()
    }

    /// Must a NewInit be built in place: does it take an argument that
    /// cannot be written as Python (a generator, an opaque value)?
    fn needs_parts(&self, node: &Node) -> bool {
        node.inputs
            .iter()
            .filter(|input| input.role.is_argument())
            .filter_map(|input| self.graph.get(self.graph.through(input.src)))
            .any(|value| value.kind == NodeKind::Const && !self.writable(value))
    }

    /// Can a value that entered the trace be written in the function: a
    /// literal, a reference to a module, function, class or builtin, or
    /// an object of a traced class (rebuilt from its attributes)?
    fn writable(&self, node: &Node) -> bool {
        recorded_written(&node.recorded).is_some() || self.traced_class(node).is_some()
    }

    /// The qualified name of a node's type when it is a class of a traced
    /// module.
    fn traced_class(&self, node: &Node) -> Option<String> {
        let class = node.type_name.as_deref()?;
        let (module, rest) = crate::stubs::split_module(class, self.shared.modules);
        let traced = self.shared.modules.iter().any(|m| m == module);
        (traced && !rest.is_empty() && rest.split('.').all(is_identifier))
            .then(|| class.to_string())
    }

    fn reads_of(&self, object: u64) -> Vec<(String, u64)> {
        self.shared.reads_of(object)
    }

    /// An object of a traced class that entered the trace as a value (a
    /// module global such as `METRE`), rebuilt as the seed's new_init
    /// does: `cls.__new__(cls)`, then the attributes the run read from it,
    /// with the values it read. Statements go to `into`; the result names
    /// the object.
    fn rebuild(&mut self, id: u64, into: &mut Vec<String>, depth: usize) -> Result<String, String> {
        let node = self.node(id)?;
        let text = recorded_text(&node.recorded);
        let Some(class) = self.traced_class(node) else {
            return Err(format!(
                "node {id} ({} at {}) holds {}, which is not a Python literal",
                node.kind,
                node.location(),
                if text.is_empty() {
                    "no recorded value"
                } else {
                    &text
                }
            ));
        };
        if depth > 20 {
            return Err(format!("node {id} is nested too deep to rebuild"));
        }
        let class_name = class.rsplit('.').next().unwrap_or(&class).to_string();
        let class = self.reference(&class)?;
        // An enum member (`<Color.RED: 1>`) is named, not made: its class
        // cannot make another.
        if let Some(member) = text
            .strip_prefix('<')
            .and_then(|rest| rest.strip_prefix(class_name.as_str()))
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.split_once(": "))
            .map(|(member, _)| member)
            .filter(|member| is_identifier(member))
        {
            return Ok(format!("{class}.{member}"));
        }
        let variable = self.fresh_name();
        into.push(comment(&format!(
            "{text} entered as a value ({}): rebuilt from what the run read",
            short_location(node)
        )));
        into.push(format!("{variable} = {class}.__new__({class})"));
        for (attribute, read) in self.reads_of(id) {
            let read = self.node(read)?;
            let text = recorded_text(&read.recorded);
            let value = match literal_or_reference(&text) {
                Some(written) => self.written(written)?,
                None => self.rebuild(read.id, into, depth + 1)?,
            };
            into.push(pysource::set_attribute(&variable, &attribute, &value));
        }
        Ok(variable)
    }

    /// The Python text of a node's value where it is read.
    fn value(&mut self, id: u64) -> Result<String, String> {
        let id = self.resolve(id);
        if let Some(name) = self.names.get(&id) {
            return Ok(name.clone());
        }
        let node = self.node(id)?;
        match node.kind {
            NodeKind::Argument | NodeKind::SetAttr => {
                Err(format!("node {id} ({}) has no value input", node.kind))
            }
            NodeKind::Const => {
                // (The class test first: printing a float is the dearer.)
                if self.traced_class(node).is_some() && recorded_written(&node.recorded).is_none() {
                    let mut lines = Vec::new();
                    let variable = self.rebuild(id, &mut lines, 0)?;
                    self.lines.extend(lines);
                    self.names.insert(id, variable.clone());
                    return Ok(variable);
                }
                let text = self.literal(node)?;
                // A list, dict or set the program made is one object that
                // later writes change: bound to one name at its first use.
                if matches!(
                    node.type_name.as_deref(),
                    Some("list" | "dict" | "set" | "bytearray")
                ) {
                    let variable = self.fresh_name();
                    self.lines.push(format!("{variable} = {text}"));
                    self.names.insert(id, variable.clone());
                    return Ok(variable);
                }
                Ok(text)
            }
            NodeKind::Function | NodeKind::Class => self.reference(node.name()),
            NodeKind::Obj => Err(format!(
                "the object made at {} is used while its __init__ runs",
                node.location()
            )),
            NodeKind::Generator => Err(format!(
                "the generator made at {} is used other than by next()",
                node.location()
            )),
            NodeKind::Coroutine => Err(format!(
                "the coroutine made at {} is used other than by awaiting it",
                node.location()
            )),
            // Operations are named (or inlined) where they are computed,
            // which is before any reader in row order.
            NodeKind::Deep
            | NodeKind::GetAttr
            | NodeKind::GetItem
            | NodeKind::SetItem
            | NodeKind::DelItem
            | NodeKind::NewInit
            | NodeKind::Call
            | NodeKind::Dispatch
            | NodeKind::UCall
            | NodeKind::UDispatch
            | NodeKind::Iterator
            | NodeKind::Iteration
            | NodeKind::Generation
            | NodeKind::Awaited => Err(format!(
                "node {id} ({} at {}) is read before it is computed",
                node.kind,
                node.location()
            )),
        }
    }

    fn fresh_name(&mut self) -> String {
        self.temporaries += 1;
        format!("t{}", self.temporaries)
    }

    /// A recorded input as a default value: a literal, a container of
    /// defaults, an object made by calling its class with defaults (or
    /// built in place from what its `__init__` set), or a rebuilt object.
    /// Statements it needs first go to `setup`.
    fn default_of(
        &mut self,
        id: u64,
        setup: &mut Vec<String>,
        depth: usize,
    ) -> Result<String, String> {
        let node = self.node(self.recorded_origin(id))?;
        if depth > 20 {
            return Err("it is nested too deep".into());
        }
        // An object's printed value is its repr, not how to make it.
        if node.kind != NodeKind::NewInit {
            if let Some(written) = recorded_written(&node.recorded) {
                return self.written(written);
            }
        }
        match node.kind {
            NodeKind::Const => self.rebuild(node.id, setup, depth),
            NodeKind::NewInit => {
                let class = node
                    .input(Role::Class)
                    .ok_or("a NewInit without its class")?;
                let class = self.value(class)?;
                // Undone when the call cannot be written: no statement,
                // import or name of the attempt stays.
                let (written, imports, temporaries) =
                    (setup.len(), self.imports.clone(), self.temporaries);
                match self.default_parts(node, setup, depth) {
                    Ok(parts) => Ok(format!("{class}({})", parts.join(", "))),
                    Err(_) => {
                        setup.truncate(written);
                        (self.imports, self.temporaries) = (imports, temporaries);
                        self.built_default(node, &class, setup, depth)
                    }
                }
            }
            NodeKind::Deep => {
                let parts = self.default_parts(node, setup, depth)?;
                match node.type_name.as_deref() {
                    Some("list") => Ok(format!("[{}]", parts.join(", "))),
                    Some("tuple") if parts.len() == 1 => Ok(format!("({},)", parts[0])),
                    Some("tuple") => Ok(format!("({})", parts.join(", "))),
                    other => Err(format!("a {other:?} of traced values")),
                }
            }
            other => Err(format!(
                "node {} is a {other} holding {}",
                node.id,
                recorded_text(&node.recorded)
            )),
        }
    }

    /// The defaults of a NewInit's arguments or a Deep's items.
    fn default_parts(
        &mut self,
        node: &Node,
        setup: &mut Vec<String>,
        depth: usize,
    ) -> Result<Vec<String>, String> {
        let mut parts = Vec::new();
        for input in &node.inputs {
            match input.role {
                Role::Arg | Role::Item => {
                    parts.push(self.default_of(input.src, setup, depth + 1)?)
                }
                Role::Kwarg => {
                    let value = self.default_of(input.src, setup, depth + 1)?;
                    parts.push(pysource::keyword(
                        input.key.as_deref().unwrap_or(""),
                        &value,
                    ));
                }
                _ => {}
            }
        }
        Ok(parts)
    }

    /// An object its `__init__` made, as the seed's new_init does:
    /// `cls.__new__(cls)`, then the attributes `__init__` set.
    fn built_default(
        &mut self,
        node: &Node,
        class: &str,
        setup: &mut Vec<String>,
        depth: usize,
    ) -> Result<String, String> {
        let object = node
            .input(Role::Object)
            .ok_or("a NewInit without its object")?;
        let variable = self.fresh_name();
        setup.push(format!("{variable} = {class}.__new__({class})"));
        let writes: Vec<u64> = self.shared.bodies.of_frame(node.id).to_vec();
        for write in writes {
            let write = self.node(write)?;
            if write.kind != NodeKind::SetAttr || write.input(Role::Object) != Some(object) {
                continue;
            }
            let value = write
                .input(Role::Value)
                .ok_or("a SetAttr without its value")?;
            let value = self.default_of(value, setup, depth + 1)?;
            setup.push(pysource::set_attribute(&variable, write.name(), &value));
        }
        Ok(variable)
    }

    /// The value a recorded input was: through parameters, attribute
    /// writes and inlined calls.
    fn recorded_origin(&self, id: u64) -> u64 {
        self.follow(id, value_behind)
    }

    /// A node's value as an operand that binds at least as tightly as
    /// `at_least` (parenthesised otherwise).
    fn operand(&mut self, id: u64, at_least: u8) -> Result<String, String> {
        let text = self.value(id)?;
        let precedence = match self.precedence.get(&self.resolve(id)) {
            Some(p) => *p,
            None if text.starts_with('-') => UNARY,
            None => ATOM,
        };
        Ok(if precedence < at_least {
            format!("({text})")
        } else {
            text
        })
    }

    /// `module.qualname` of a traced function or class, imported; refused
    /// unless it is a dotted Python name.
    fn reference(&mut self, qualname: &str) -> Result<String, String> {
        if !is_dotted_name(qualname) {
            return Err(format!(
                "the trace names a function, class or module {}, which is not a dotted Python name",
                pysource::string(qualname)
            ));
        }
        let (module, rest) = crate::stubs::split_module(qualname, self.shared.modules);
        if module.is_empty() || rest.is_empty() {
            // A module itself (`<module math>`).
            self.imports.insert(qualname.to_string());
        } else {
            self.imports.insert(module.to_string());
        }
        Ok(qualname.to_string())
    }

    /// A recorded value as a Python literal (or a reference for modules,
    /// functions and classes named by their repr).
    fn literal(&mut self, node: &Node) -> Result<String, String> {
        if let Some(written) = recorded_written(&node.recorded) {
            return self.written(written);
        }
        if self.shared.allow_constants {
            let name = format!("c{}", node.id);
            self.params.push((name.clone(), "None".into()));
            return Ok(name);
        }
        Err(format!(
            "node {} ({} at {}) holds {}, which is not a Python literal; \
             --allow-constants makes it a parameter",
            node.id,
            node.kind,
            node.location(),
            match recorded_text(&node.recorded) {
                text if text.is_empty() => "no recorded value".to_string(),
                text => text,
            }
        ))
    }

    /// The Python text of a recorded value, with what it imports.
    fn written(&mut self, written: Written) -> Result<String, String> {
        match written {
            Written::Literal(text) => Ok(text),
            Written::Traced(name) => self.reference(&name),
            Written::Builtin(name) => {
                if let Some((module, _)) = name.rsplit_once('.') {
                    self.imports.insert(module.to_string());
                }
                Ok(name)
            }
        }
    }

    /// The call arguments of a node: positions, then keywords.
    fn arguments(&mut self, node: &Node) -> Result<String, String> {
        let (positional, keywords) = call_arguments(node);
        let mut parts = Vec::new();
        for src in positional {
            parts.push(self.value(src)?);
        }
        for (key, src) in keywords {
            let value = self.value(src)?;
            parts.push(pysource::keyword(&key, &value));
        }
        Ok(parts.join(", "))
    }

    /// The expression (or, for a write, the statement) a node stands for.
    fn expression(&mut self, node: &Node) -> Result<String, String> {
        self.last_precedence = ATOM;
        let input = |role: Role| {
            node.input(role)
                .ok_or_else(|| format!("node {} ({}) has no {role} input", node.id, node.kind))
        };
        Ok(match node.kind {
            NodeKind::Deep => {
                let mut items = Vec::new();
                for item in node.inputs.iter().filter(|i| i.role == Role::Item) {
                    let value = self.value(item.src)?;
                    items.push((item.key.clone(), value));
                }
                match node.type_name.as_deref() {
                    Some("list") => format!("[{}]", join_values(&items)),
                    Some("tuple") if items.len() == 1 => format!("({},)", items[0].1),
                    Some("tuple") => format!("({})", join_values(&items)),
                    Some("set") => format!("{{{}}}", join_values(&items)),
                    Some("frozenset") => format!("frozenset({{{}}})", join_values(&items)),
                    Some("dict") => {
                        // The key is recorded as its repr: written anew.
                        let mut pairs = Vec::new();
                        for (key, value) in &items {
                            let key = key.as_deref().unwrap_or("None");
                            let key = pysource::literal_of(key).ok_or_else(|| {
                                format!(
                                    "node {} (a dict) has the key {}, which is not a Python literal",
                                    node.id,
                                    pysource::string(key)
                                )
                            })?;
                            pairs.push(format!("{key}: {value}"));
                        }
                        format!("{{{}}}", pairs.join(", "))
                    }
                    Some("slice") => {
                        let part = |name: &str| {
                            items
                                .iter()
                                .find(|(k, _)| k.as_deref() == Some(name))
                                .map_or("None".to_string(), |(_, v)| v.clone())
                        };
                        format!(
                            "slice({}, {}, {})",
                            part("start"),
                            part("stop"),
                            part("step")
                        )
                    }
                    other => return Err(format!("a Deep {other:?} value cannot be rebuilt")),
                }
            }
            NodeKind::GetAttr => attribute(&self.operand(input(Role::Object)?, ATOM)?, node.name()),
            NodeKind::GetItem => format!(
                "{}[{}]",
                self.operand(input(Role::Op1)?, ATOM)?,
                self.value(input(Role::Op2)?)?
            ),
            NodeKind::SetAttr => pysource::set_attribute(
                &self.operand(input(Role::Object)?, ATOM)?,
                node.name(),
                &self.value(input(Role::Value)?)?,
            ),
            NodeKind::SetItem => format!(
                "{}[{}] = {}",
                self.operand(input(Role::Op1)?, ATOM)?,
                self.value(input(Role::Op2)?)?,
                self.value(input(Role::Value)?)?
            ),
            NodeKind::DelItem => format!(
                "del {}[{}]",
                self.operand(input(Role::Op1)?, ATOM)?,
                self.value(input(Role::Op2)?)?
            ),
            NodeKind::Iterator => format!("iter({})", self.value(input(Role::Iterable)?)?),
            NodeKind::Iteration => format!("next({})", self.value(input(Role::Iterator)?)?),
            NodeKind::Generation => match node.input(Role::Source) {
                Some(source) => self.value(source)?,
                // The generator yielded something computed from untraced
                // values: the recorded value stands.
                None => format!(
                    "{}  # yielded by untraced code: the recorded value",
                    self.literal(node)?
                ),
            },
            NodeKind::Awaited => match node.input(Role::Return) {
                Some(returned) => self.value(returned)?,
                None => format!(
                    "{}  # returned by untraced code: the recorded value",
                    self.literal(node)?
                ),
            },
            NodeKind::NewInit => {
                let class = self.value(input(Role::Class)?)?;
                format!("{class}({})", self.arguments(node)?)
            }
            NodeKind::Call => {
                let callable = self.value(input(Role::Callable)?)?;
                format!("{callable}({})", self.arguments(node)?)
            }
            NodeKind::UCall => {
                let callable = match node.input(Role::Callable) {
                    Some(callable) => self.callee(callable)?,
                    // A callable given to trace_callables is not an input:
                    // the node names it, which is enough for a builtin.
                    None if PYTHON_BUILTINS.contains(&node.name()) => node.name().to_string(),
                    None => {
                        return Err(format!(
                            "node {} (UCall {} at {}) calls a callable the trace does not \
                             locate (given to trace_callables, not reached through a traced value)",
                            node.id,
                            node.name(),
                            node.location()
                        ))
                    }
                };
                format!("{callable}({})", self.arguments(node)?)
            }
            NodeKind::Dispatch | NodeKind::UDispatch
                if matches!(node.type_name.as_deref(), Some("coroutine")) =>
            {
                return Err(format!(
                    "node {} ({} {} at {}) gives a coroutine, which the program awaited: \
                     compile writes synchronous code",
                    node.id,
                    node.kind,
                    node.name(),
                    node.location()
                ))
            }
            NodeKind::Dispatch | NodeKind::UDispatch => self.dispatch(node)?,
            // Values, not operations: read through `value`.
            NodeKind::Const
            | NodeKind::Function
            | NodeKind::Class
            | NodeKind::Obj
            | NodeKind::Argument
            | NodeKind::Generator
            | NodeKind::Coroutine => {
                return Err(format!("a {} node is not an operation", node.kind))
            }
        })
    }

    /// A method call or an operator.
    fn dispatch(&mut self, node: &Node) -> Result<String, String> {
        let name = node.name();
        if let Some(form) = binary_form(node) {
            let left = self.operand(form.left.0, form.left.1)?;
            let right = self.operand(form.right.0, form.right.1)?;
            self.last_precedence = form.precedence;
            // ruff hugs `**` between simple operands: `x.value**2`.
            if form.symbol == "**" && simple_power_operand(&left) && simple_power_operand(&right) {
                return Ok(format!("{left}**{right}"));
            }
            return Ok(format!("{left} {} {right}", form.symbol));
        }
        if let Some(receiver) = node.input(Role::SelfValue) {
            let arg0 = first_argument(node);
            let this = self.operand(receiver, ATOM)?;
            let unary = |f: &str| format!("{f}({this})");
            if let Some(Operator::Unary(op)) = Operator::parse(name) {
                if let Some(symbol) = op.symbol() {
                    let this = self.operand(receiver, UNARY)?;
                    self.last_precedence = UNARY;
                    return Ok(format!("{symbol}{this}"));
                }
            }
            return Ok(match name {
                "__abs__" => unary("abs"),
                "__len__" => unary("len"),
                "__bool__" => unary("bool"),
                "__int__" => unary("int"),
                "__float__" => unary("float"),
                "__str__" => unary("str"),
                "__repr__" => unary("repr"),
                "__hash__" => unary("hash"),
                "__round__" if arg0.is_none() => unary("round"),
                "__index__" => {
                    self.imports.insert("operator".into());
                    unary("operator.index")
                }
                "__fspath__" => {
                    self.imports.insert("os".into());
                    unary("os.fspath")
                }
                "__contains__" => {
                    let item = self.operand(arg0.ok_or("`in` without an operand")?, CMP + 1)?;
                    let container = self.operand(receiver, CMP + 1)?;
                    self.last_precedence = CMP;
                    format!("{item} in {container}")
                }
                _ => format!("{}({})", attribute(&this, name), self.arguments(node)?),
            });
        }
        let callable = node
            .input(Role::Callable)
            .ok_or_else(|| format!("node {} ({name}) has neither self nor callable", node.id))?;
        let target = self.callee(callable)?;
        Ok(format!("{target}({})", self.arguments(node)?))
    }

    /// What a call calls: a method looked up on a value is printed where
    /// it is called (`obj.m(...)`), anything else by its value.
    fn callee(&mut self, callable: u64) -> Result<String, String> {
        let method = self.node(callable)?;
        if method.kind == NodeKind::GetAttr && !self.names.contains_key(&callable) {
            let object = method
                .input(Role::Object)
                .ok_or("a method without its object")?;
            return Ok(attribute(&self.operand(object, ATOM)?, method.name()));
        }
        self.operand(callable, ATOM)
    }
}

/// The longest expression written in place of its single reader's
/// operand; longer ones get a name (`t1 = …`), so that a statement fits
/// in a line.
const INLINED_LENGTH: usize = 64;

/// The longest line the module is written with (ruff's default).
const LINE_LENGTH: usize = 88;

/// A line longer than [`LINE_LENGTH`] that ends with a bracketed list
/// (a call, a list, a tuple) is written with one item per line, as ruff
/// formats it; anything else stays as it is.
fn wrap(line: &str) -> String {
    // A comment stays one line: its text is the trace's, never code.
    if line.chars().count() <= LINE_LENGTH || line.trim_start().starts_with('#') {
        return line.to_string();
    }
    let Some(open) = opening_of_last_bracket(line) else {
        return split_string(line).unwrap_or_else(|| line.to_string());
    };
    let items = crate::infer::split_outside_brackets(&line[open + 1..line.len() - 1], ',');
    if items.is_empty() {
        return line.to_string();
    }
    let indent = " ".repeat(line.len() - line.trim_start().len());
    let mut out = format!("{}\n", &line[..=open]);
    // One item alone on its line; several, each with a trailing comma.
    let comma = if items.len() == 1 { "" } else { "," };
    for item in items {
        out.push_str(&wrap(&format!("{indent}    {item}{comma}")));
        out.push('\n');
    }
    out.push_str(&indent);
    out.push_str(&line[line.len() - 1..]);
    out
}

/// A line that is one long double-quoted string (an argument alone on its
/// line, as a guard's message) as implicitly concatenated pieces that
/// each fit, broken after spaces.
fn split_string(line: &str) -> Option<String> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let (body, comma) = match body.strip_suffix(',') {
        Some(body) => (body, ","),
        None => (body, ""),
    };
    let content = body.strip_prefix('"')?.strip_suffix('"')?;
    if content.contains('"') {
        return None;
    }
    let room = LINE_LENGTH.checked_sub(indent.len() + 2)?;
    // After a clause (`; `) where every piece fits; after words otherwise.
    let clauses: Vec<String> = content.split_inclusive("; ").map(String::from).collect();
    let pieces = if clauses.len() > 1 && clauses.iter().all(|c| c.chars().count() <= room) {
        clauses
    } else {
        let mut pieces: Vec<String> = Vec::new();
        let mut piece = String::new();
        for word in content.split_inclusive(' ') {
            if !piece.is_empty() && piece.chars().count() + word.chars().count() > room {
                pieces.push(std::mem::take(&mut piece));
            }
            piece.push_str(word);
        }
        pieces.push(piece);
        pieces
    };
    if pieces.len() < 2 {
        return None;
    }
    let last = pieces.len() - 1;
    Some(
        pieces
            .iter()
            .enumerate()
            .map(|(at, piece)| {
                format!("{indent}\"{piece}\"{}", if at == last { comma } else { "" })
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A line with its single-quoted strings (Python's reprs) double-quoted,
/// as ruff formats them, where that needs no more escapes; comments and
/// double-quoted strings stay as they are.
fn prefer_double_quotes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '#' => {
                out.push_str(&line[at..]);
                break;
            }
            '"' | '\'' => {
                // The whole string, escapes kept.
                let mut end = line.len();
                let mut escaped = false;
                for (inner, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == c {
                        end = inner + 1;
                        break;
                    }
                }
                let literal = &line[at..end];
                let content = &literal[1..literal.len().saturating_sub(1).max(1)];
                if c == '\'' && !content.contains('"') && !content.contains("\\'") {
                    out.push('"');
                    out.push_str(content);
                    out.push('"');
                } else {
                    out.push_str(literal);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Where the bracket that the line's last character closes opens (quotes
/// skipped); None when the line does not end with a closing bracket.
fn opening_of_last_bracket(line: &str) -> Option<usize> {
    let close = line.chars().last()?;
    if !matches!(close, ')' | ']' | '}') {
        return None;
    }
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => stack.push(at),
                ')' | ']' | '}' => {
                    let open = stack.pop()?;
                    if at == line.len() - 1 {
                        return Some(open);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// A name, a number or an attribute chain, maybe negated: what ruff
/// writes `**` without spaces around.
fn simple_power_operand(text: &str) -> bool {
    let text = text.strip_prefix('-').unwrap_or(text);
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// `file.py:line` of a node, without the directories (the docstring
/// names the trace; the lines stay short).
fn short_location(node: &Node) -> String {
    let location = node.location();
    match location.rsplit_once('/') {
        Some((_, short)) => short.to_string(),
        None => location,
    }
}

/// Follows `step` from `id` to the node where it stops, remembering the
/// answer for every node on the way in `known` (chains as long as a run
/// are walked once, not once per node on them). A damaged trace's inputs
/// could go round in a circle: no walk is longer than the graph.
fn walk_remembered(
    graph: &Graph,
    known: &RefCell<Remembered>,
    id: u64,
    step: impl Fn(&Node) -> Option<u64>,
) -> u64 {
    let mut known = known.borrow_mut();
    let mut path = Vec::new();
    let mut at = id;
    let end = loop {
        if let Some(end) = known.get(graph, at) {
            break end;
        }
        match graph.get(at).and_then(&step) {
            Some(next) if path.len() <= graph.len() => {
                path.push(at);
                at = next;
            }
            _ => break at,
        }
    };
    for node in path {
        known.insert(graph, node, end);
    }
    known.insert(graph, id, end);
    end
}

/// Where a walk from each node ended, by the node's row (a hash lookup per
/// step was a tenth of compile's time); ids the graph lacks in a map.
/// Emptied often (`resolve`'s answers, whenever a name is given), so it
/// remembers which rows it set rather than clearing them all. An end is
/// kept plus one, 0 meaning none: the vector is then zeroed memory the
/// system gives untouched, so a function that walks a small part of a
/// large graph pays for that part (filling it with a marker wrote the
/// whole graph's worth per function compiled).
#[derive(Default)]
struct Remembered {
    ends: Vec<u64>,
    set: Vec<usize>,
    /// Ids the graph lacks, and ends that cannot be kept plus one.
    outside: IdMap<u64>,
}

impl Remembered {
    fn get(&self, graph: &Graph, id: u64) -> Option<u64> {
        let kept = graph
            .position(id)
            .and_then(|row| self.ends.get(row))
            .filter(|kept| **kept != 0);
        match kept {
            Some(kept) => Some(kept - 1),
            None => self.outside.get(&id).copied(),
        }
    }

    fn insert(&mut self, graph: &Graph, id: u64, end: u64) {
        match graph.position(id).filter(|_| end != u64::MAX) {
            Some(row) => {
                if self.ends.is_empty() {
                    self.ends = vec![0; graph.len()];
                }
                if self.ends[row] == 0 {
                    self.set.push(row);
                }
                self.ends[row] = end + 1;
            }
            None => {
                self.outside.insert(id, end);
            }
        }
    }

    fn clear(&mut self) {
        for row in self.set.drain(..) {
            self.ends[row] = 0;
        }
        self.outside.clear();
    }
}

/// The value a parameter, an attribute write or an inlined call stands
/// for: what was passed, stored or returned.
fn value_behind(node: &Node) -> Option<u64> {
    match node.kind {
        NodeKind::Argument | NodeKind::SetAttr => node.input(Role::Value),
        NodeKind::Call | NodeKind::Dispatch if Compiler::inlined(node) => node.input(Role::Return),
        _ => None,
    }
}

/// Does a node convert a traced value into a raw one (`int(x)`,
/// `bool(x)`, `operator.index(x)` recorded with `conversions=True`)? Its
/// result goes to code the trace does not see.
fn is_conversion(node: &Node) -> bool {
    match node.kind {
        NodeKind::UDispatch | NodeKind::Dispatch => matches!(
            node.name(),
            "__int__"
                | "__float__"
                | "__bool__"
                | "__index__"
                | "__str__"
                | "__hash__"
                | "__fspath__"
        ),
        NodeKind::UCall => matches!(node.name(), "int" | "float" | "bool" | "str" | "index"),
        _ => false,
    }
}

/// A recorded value Python can write: a literal, or a name to import.
enum Written {
    Literal(String),
    /// A module, function or class, by qualified name.
    Traced(String),
    /// A builtin (`len`, `math.hypot`).
    Builtin(String),
}

/// How a recorded value is written in Python, if it can be: a number
/// directly (printing it and reading the text back was a tenth of
/// compile's time), anything else from its printed text.
fn recorded_written(recorded: &Recorded) -> Option<Written> {
    let number = match recorded {
        Recorded::Int(v) => v.to_string(),
        Recorded::Float(v) if v.is_finite() => crate::value::float_repr(*v),
        Recorded::Bool(v) => if *v { "True" } else { "False" }.to_string(),
        _ => return literal_or_reference(&recorded_text(recorded)),
    };
    Some(Written::Literal(number))
}

/// How a printed value is written in Python, if it can be.
/// (Non-finite floats are pysource's: `float('inf')`, in containers too.)
fn literal_or_reference(text: &str) -> Option<Written> {
    reference_in(text).or_else(|| pysource::literal_of(text).map(Written::Literal))
}

/// The name a repr like `<module math>`, `<function pkg.f>`, `<class
/// pkg.C>` or `<built-in math.hypot>` refers to.
fn reference_in(text: &str) -> Option<Written> {
    let inner = text.strip_prefix('<')?.strip_suffix('>')?;
    for prefix in ["module ", "function ", "class "] {
        if let Some(name) = inner.strip_prefix(prefix) {
            if name.split('.').all(is_identifier) {
                return Some(Written::Traced(name.to_string()));
            }
        }
    }
    let name = inner.strip_prefix("built-in ")?;
    name.split('.')
        .all(is_identifier)
        .then(|| Written::Builtin(name.to_string()))
}

fn join_values(items: &[(Option<crate::text::Text>, String)]) -> String {
    items
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_node;

    /// Nodes in completion order (ids not in row order) and one far id.
    fn graph() -> Graph {
        let mut graph = Graph::default();
        for id in [3, 0, 1, 2, 1 << 40] {
            graph.insert(test_node(id, NodeKind::Const, &[])).unwrap();
        }
        graph
    }

    /// Membership by row, iteration in row order (graph ids, then ids
    /// the graph lacks), `insert` false for a node already there.
    #[test]
    fn a_row_set_iterates_in_row_order() {
        let graph = graph();
        let mut set = RowSet::new(&graph);
        for id in [2, 1 << 40, 3, 77] {
            assert!(set.insert(id), "{id}");
        }
        assert!(!set.insert(3));
        assert!(!set.insert(77));
        assert!(set.contains(2) && set.contains(77) && !set.contains(0));
        assert_eq!(set.rows().collect::<Vec<_>>(), [0, 3, 4]);
        assert_eq!(set.ids().collect::<Vec<_>>(), [3, 2, 1 << 40, 77]);
    }

    /// A frame's body lists its nodes in row order, whether the frame's
    /// own row comes after them (as a call's does) or the frame is not in
    /// the graph at all; an Iteration's previous item is the one taken
    /// from the same iterator just before it.
    #[test]
    fn bodies_and_previous_items_by_row() {
        let mut graph = Graph::default();
        let in_frame = |id: u64, frame: u64, kind: NodeKind, inputs: &[(Role, u64)]| Node {
            frame: Some(frame),
            ..test_node(id, kind, inputs)
        };
        graph.insert(in_frame(5, 9, NodeKind::Const, &[])).unwrap();
        graph
            .insert(in_frame(6, 1 << 40, NodeKind::Const, &[]))
            .unwrap();
        graph.insert(test_node(7, NodeKind::Iterator, &[])).unwrap();
        let item =
            |id, iterator| in_frame(id, 9, NodeKind::Iteration, &[(Role::Iterator, iterator)]);
        graph.insert(item(8, 7)).unwrap();
        graph
            .insert(test_node(10, NodeKind::Iterator, &[]))
            .unwrap();
        graph.insert(item(11, 10)).unwrap();
        graph.insert(item(12, 7)).unwrap();
        graph.insert(test_node(9, NodeKind::Call, &[])).unwrap();
        let bodies = Bodies::of(&graph);
        assert_eq!(bodies.of_frame(9), [5, 8, 11, 12]);
        assert_eq!(bodies.of_frame(1 << 40), [6]);
        assert!(bodies.of_frame(7).is_empty() && bodies.of_frame(404).is_empty());
        let previous = previous_items(&graph);
        let row = |id| graph.position(id).unwrap();
        assert_eq!(previous[row(12)] as usize, row(8));
        assert_eq!([previous[row(8)], previous[row(11)]], [NO_ROW, NO_ROW]);
    }

    /// Numbers written directly are written as their recorded text read
    /// back is: ints to the ends of i64, floats of every binade, signed
    /// zeros, subnormals.
    #[test]
    fn numbers_are_written_as_their_text_reads() {
        let mut recorded = vec![Recorded::Bool(true), Recorded::Bool(false)];
        for v in [
            0,
            1,
            -1,
            7,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 53,
            -(1 << 53) - 1,
        ] {
            recorded.push(Recorded::Int(v));
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            // Random bits: every exponent and sign.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            recorded.push(Recorded::Float(f64::from_bits(x)));
        }
        for v in [
            0.0,
            -0.0,
            0.1,
            1e16,
            1e-4,
            9.999e-5,
            5e-324,
            f64::MAX,
            -2.5,
            1e22,
        ] {
            recorded.push(Recorded::Float(v));
        }
        for r in &recorded {
            let literal = |written: Option<Written>| match written {
                Some(Written::Literal(text)) => text,
                _ => panic!("{r:?} is written as no literal"),
            };
            let read_back = literal(literal_or_reference(&recorded_text(r)));
            assert_eq!(literal(recorded_written(r)), read_back, "{r:?}");
        }
    }

    /// What was remembered is forgotten by `clear`, rows and other ids
    /// alike, and can be remembered again.
    #[test]
    fn remembered_ends_are_forgotten_by_clear() {
        let graph = graph();
        let mut known = Remembered::default();
        known.insert(&graph, 1, 3);
        known.insert(&graph, 1 << 40, 0);
        known.insert(&graph, 99, 2);
        assert_eq!(known.get(&graph, 1), Some(3));
        assert_eq!(known.get(&graph, 1 << 40), Some(0));
        assert_eq!(known.get(&graph, 99), Some(2));
        assert_eq!(known.get(&graph, 0), None);
        known.clear();
        for id in [1, 1 << 40, 99] {
            assert_eq!(known.get(&graph, id), None, "{id}");
        }
        known.insert(&graph, 1, 2);
        assert_eq!(known.get(&graph, 1), Some(2));
        // Ends 0 and the largest id (kept plus one, 0 meaning none).
        known.insert(&graph, 2, 0);
        known.insert(&graph, 3, u64::MAX);
        assert_eq!(known.get(&graph, 2), Some(0));
        assert_eq!(known.get(&graph, 3), Some(u64::MAX));
        known.clear();
        assert_eq!(known.get(&graph, 3), None);
    }
}
