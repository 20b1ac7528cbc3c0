//! The one active capture: node ids, the columnar buffer (rows of the
//! schema crate's `NodeBuffer`), the Consts and types it has seen, and
//! `on_node` events. Below it: the options and per-thread state
//! ([`crate::state`]), the value summaries it writes ([`crate::summary`]),
//! source locations ([`crate::locations`]) and the writer thread that turns
//! full buffers into Parquet row groups ([`crate::writer_thread`]).
//!
//! Everything here runs with the GIL held. The recorder lock is only ever
//! held for plain Rust work and C-level CPython calls that cannot run Python
//! code, so no thread can block on it while another waits for the GIL.

use std::path::Path;
use std::sync::mpsc::TrySendError;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, RunEnd, RunInfo, RunWriter, WriterOptions,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::gil_cell::{GilCell, GilGuard};
use crate::locations::Locations;
use crate::state::{
    self, pack, set_owed, suspended, take_pending_error, NodeRef, ValuesMode, ID_MASK, NO_NODE,
};
use crate::summary::{ConstValue, OpInput, Operand, Summary};
use crate::writer_thread::{self, Outgoing, WriterThread};

/// Capture options chosen by the user in `hltpy.capture(...)`.
#[derive(Debug)]
pub struct Options {
    pub flush_every: usize,
    pub allow_mutation: bool,
    pub max_repr: usize,
    pub values: ValuesMode,
    /// Record each node's source file and line.
    pub locations: bool,
    /// Record `int()`, `float()`, `bool()`, `operator.index()` as nodes.
    pub conversions: bool,
    /// Called with each node as it is recorded.
    pub on_node: Option<Py<PyAny>>,
    /// Roll the output into a directory of segments of about this many nodes.
    pub segment_nodes: Option<u64>,
    /// Write `inputs.src` as BYTE_STREAM_SPLIT (smaller; newer readers only).
    pub byte_stream_split: bool,
}

/// The running capture's recorder (see [`GilCell`]: a mutex here cost two
/// atomic read-modify-writes per recorded node).
static RECORDER: GilCell<Recorder> = GilCell::new();

struct Recorder {
    epoch: u32,
    next_id: u64,
    buffer: NodeBuffer,
    flush_every: usize,
    /// Record source locations at all (`hltpy.capture(locations=...)`).
    with_locations: bool,
    locations: Locations,
    /// Type object address → interned type name; the type is kept alive.
    type_names: FxHashMap<usize, (Py<PyAny>, u32)>,
    writer: WriterThread,
    traced_modules: Vec<String>,
    /// The last Const recorded for each operand position of each bytecode
    /// instruction (and thread): the same number at the same place is the same
    /// Const node, in one call or in every call of a traced function, so
    /// a loop's `x + 1` and a method's `return v * 2 + 1` record one Const
    /// each, not one per iteration or call (in a small method they were
    /// two of its five nodes). Bounded by the program's lines.
    consts: FxHashMap<ConstPlace, LastConst>,
    /// (type address, its index) of the two types looked up last, the
    /// latest first: a loop's nodes share a type, a method call's
    /// alternate between two (the receiver's, ints). The types are kept
    /// alive by `type_names`, so their addresses are not reused.
    last_types: [(usize, u32); 2],
}

/// Instruction (see [`Site`]), thread and operand position of a Const.
type ConstPlace = (Option<(usize, usize)>, u64, usize);

struct LastConst {
    /// Was it made inside a traced call? Top-level code keeps Consts of
    /// its own, which `compile` takes for the inputs of an expression.
    in_call: bool,
    type_name: Option<u32>,
    value: ConstValue,
    id: u64,
}

fn lock(py: Python<'_>) -> GilGuard<'_, Recorder> {
    RECORDER.lock(py)
}

/// Starts a capture writing to `path`. Fails before anything is traced when
/// the file cannot be created.
pub fn start(
    py: Python<'_>,
    run: RunInfo,
    path: &str,
    options: Options,
    argv: Vec<String>,
    traced_modules: Vec<String>,
) -> PyResult<()> {
    let mut guard = lock(py);
    if guard.is_some() {
        return Err(PyRuntimeError::new_err(
            "a capture is already running; stop it (leave its `with hltpy.capture(...)` block) before starting another",
        ));
    }
    // Segments finished while the run goes on record what is known now.
    let rolling_end = RunEnd {
        argv,
        traced_modules: traced_modules.clone(),
        closed_cleanly: true,
        end_reason: "segment full; the run continues in the next one".into(),
        segment: None,
    };
    let writer = RunWriter::create(
        Path::new(path),
        &run,
        &WriterOptions {
            byte_stream_split: options.byte_stream_split,
            ..WriterOptions::default()
        },
        options.segment_nodes,
        rolling_end,
    )
    .map_err(|err| pyo3::exceptions::PyOSError::new_err(err.to_string()))?;
    // Segments roll over between batches: keep batches no larger than one.
    let flush_every = match options.segment_nodes {
        Some(rows) => options.flush_every.min(rows.max(1) as usize),
        None => options.flush_every,
    };
    let writer = writer_thread::spawn(writer).map_err(|err| {
        PyRuntimeError::new_err(format!("cannot start the trace writer thread: {err}"))
    })?;
    let epoch = state::configure(
        options.max_repr,
        options.values,
        options.conversions,
        options.allow_mutation,
        options.on_node,
    );
    *guard = Some(Recorder {
        epoch,
        next_id: 0,
        buffer: NodeBuffer::with_capacity(flush_every),
        flush_every,
        with_locations: options.locations,
        locations: Locations::default(),
        type_names: FxHashMap::default(),
        writer,
        traced_modules,
        consts: FxHashMap::default(),
        last_types: [(0, 0); 2],
    });
    state::activate();
    Ok(())
}

/// What `stop` reports back.
pub struct Finished {
    pub path: String,
    pub nodes: u64,
}

/// Ends the capture: writes the last batch and the footer, renames the file.
pub fn stop(
    py: Python<'_>,
    argv: Vec<String>,
    closed_cleanly: bool,
    end_reason: &str,
    keep_empty: bool,
) -> PyResult<Finished> {
    let (recorder, on_node) = {
        let mut guard = lock(py);
        let on_node = state::end();
        (guard.take(), on_node)
    };
    drop(on_node);
    let Some(mut recorder) = recorder else {
        return Err(PyRuntimeError::new_err("no capture is running"));
    };
    if !recorder.buffer.is_empty() {
        let batch = Outgoing::Rows(recorder.buffer.take_pending());
        if let Some(sender) = &recorder.writer.batches {
            // An error here means the writer thread already failed; its
            // own error is reported below.
            let _ = sender.send(batch);
        }
    }
    drop(recorder.writer.batches.take());
    let handle = recorder
        .writer
        .handle
        .take()
        .expect("writer thread set at start");
    let end = RunEnd {
        argv,
        traced_modules: recorder.traced_modules.clone(),
        closed_cleanly,
        end_reason: end_reason.to_string(),
        segment: None,
    };
    // Joining and writing the footer needs no Python: let other threads run.
    let finished = py.detach(move || {
        let writer = handle
            .join()
            .map_err(|_| "the trace writer thread panicked".to_string())?
            .map_err(|err| err.to_string())?;
        let path = writer.output().display().to_string();
        if !keep_empty && writer.rows() == 0 {
            // Decided before the rename, so no empty file ever appears.
            writer.discard().map_err(|err| err.to_string())?;
            return Ok(Finished { path, nodes: 0 });
        }
        let nodes = writer.finish(&end).map_err(|err| err.to_string())?;
        Ok::<_, String>(Finished { path, nodes })
    });
    finished.map_err(pyo3::exceptions::PyOSError::new_err)
}

pub fn add_traced_modules(py: Python<'_>, names: &[String]) {
    if let Some(recorder) = lock(py).as_mut() {
        for name in names {
            if !recorder.traced_modules.contains(name) {
                recorder.traced_modules.push(name.clone());
            }
        }
    }
}

/// Gives out the id of a node whose row is written later (a call: its id
/// is taken when it starts, its row when it returns).
pub fn reserve_id(py: Python<'_>) -> Option<NodeRef> {
    let mut guard = lock(py);
    let recorder = guard.as_mut()?;
    let id = recorder.next_id;
    recorder.next_id += 1;
    Some(pack(recorder.epoch, id))
}

/// One node to write. `id` is a reserved id, or None to take the next one.
pub struct Node<'a, 'py> {
    pub id: Option<NodeRef>,
    pub kind: NodeKind,
    pub name: Option<&'a str>,
    pub inputs: &'a [NodeInput<'a>],
    pub value: &'a Summary<'py>,
}

/// Appends one node whose inputs are all nodes already; returns its
/// reference, or None when no capture is running. An `on_node` error is
/// kept and raised by the operation this node is part of.
pub fn record(py: Python<'_>, node: Node<'_, '_>) -> Option<NodeRef> {
    let mut events = Vec::new();
    let id = {
        let mut guard = lock(py);
        let recorder = guard.as_mut()?;
        let site = recorder.site(py);
        let id = recorder.push(
            &site,
            node.id,
            node.kind,
            node.name,
            node.inputs,
            node.value,
        );
        if state::listening() {
            events.push(recorder.event(&site, id, node.kind, node.name, node.inputs, node.value));
        }
        recorder.flush_if_full();
        id
    };
    if let Err(err) = notify(py, events) {
        set_owed(err);
    }
    Some(id)
}

/// Records an operation node and, under the same lock and at the same
/// source location, the Const nodes of its raw operands (the usual case
/// `x + 1` costs one lock and one location lookup). Returns NO_NODE when
/// not recording, and the error of an `on_node` callback that raised.
pub fn record_op(
    py: Python<'_>,
    id: Option<NodeRef>,
    kind: NodeKind,
    name: Option<&str>,
    inputs: &[OpInput<'_, '_>],
    value: &Summary<'_>,
) -> PyResult<NodeRef> {
    record_op_at(py, None, id, kind, name, inputs, value)
}

/// A source location taken now, to place a node recorded later in the
/// same capture (see [`record_op_at`]).
#[derive(Clone, Copy)]
pub struct Place {
    file: Option<u32>,
    line: Option<u32>,
    instruction: Option<(usize, usize)>,
}

/// Where the program is now, in the running capture.
pub fn place_now(py: Python<'_>) -> Option<Place> {
    let mut guard = lock(py);
    let recorder = guard.as_mut()?;
    let site = recorder.site(py);
    Some(Place {
        file: site.file,
        line: site.line,
        instruction: site.instruction,
    })
}

/// [`record_op`] at `place` instead of where the program is now (the
/// caller checked that `place` was taken in the running capture).
pub fn record_op_at(
    py: Python<'_>,
    place: Option<Place>,
    id: Option<NodeRef>,
    kind: NodeKind,
    name: Option<&str>,
    inputs: &[OpInput<'_, '_>],
    value: &Summary<'_>,
) -> PyResult<NodeRef> {
    let listening = state::listening();
    let mut events = Vec::new();
    let (node, owed) = {
        let mut guard = lock(py);
        let Some(recorder) = guard.as_mut() else {
            return Ok(NO_NODE);
        };
        let mut site = recorder.site(py);
        if let Some(place) = place {
            site.file = place.file;
            site.line = place.line;
            site.instruction = place.instruction;
        }
        let mut links: SmallVec<[NodeInput<'_>; 4]> = SmallVec::with_capacity(inputs.len());
        for (position, input) in inputs.iter().enumerate() {
            let src = match &input.operand {
                Operand::Node(src) => *src,
                Operand::Const(summary) => {
                    let event = listening.then_some(&mut events);
                    recorder.const_node(&site, position, summary, event)
                }
            };
            links.push(NodeInput::keyed(input.role, input.key, src));
        }
        let node = recorder.push(&site, id, kind, name, &links, value);
        if listening {
            events.push(recorder.event(&site, node, kind, name, &links, value));
        }
        recorder.flush_if_full();
        (node, site.owed)
    };
    // An error owed to the program (an `on_node` callback's, or a Ctrl-C
    // that landed in a __repr__ hltpy called) is raised by this operation.
    if owed {
        if let Some(err) = take_pending_error() {
            return Err(err);
        }
    }
    if listening {
        notify(py, events)?;
    }
    Ok(node)
}

/// Calls `on_node` with each event, recording suspended (the callback's
/// own work on traced values is not the program's).
fn notify(py: Python<'_>, events: Vec<NodeEvent>) -> PyResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let Some(callback) = state::on_node(py) else {
        return Ok(());
    };
    suspended(|| {
        for event in events {
            callback.call1(py, (event,))?;
        }
        Ok(())
    })
}

/// A node as an `on_node` callback sees it, with the value itself.
#[pyclass(frozen, get_all, module = "hltpy", name = "Node")]
pub struct NodeEvent {
    pub id: u64,
    pub kind: &'static str,
    pub name: Option<String>,
    /// (role, key, src) per input.
    pub inputs: Vec<(&'static str, Option<String>, u64)>,
    pub value: Option<Py<PyAny>>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub frame: Option<u64>,
    pub thread: u64,
}

#[pymethods]
impl NodeEvent {
    fn __repr__(&self) -> String {
        format!(
            "Node(id={}, kind={}, name={:?}, line={:?})",
            self.id, self.kind, self.name, self.line
        )
    }
}

/// Where and on which thread/frame the current operation runs.
struct Site {
    file: Option<u32>,
    line: Option<u32>,
    /// (code object address, instruction address or offset) of the user's
    /// operation: finer than a line, so `v * 2 + 1` has a place for each
    /// number.
    /// The code object is kept alive by the location cache.
    instruction: Option<(usize, usize)>,
    frame: Option<u64>,
    thread: u64,
    /// Whether this thread owes the program an error (see `owe`).
    owed: bool,
}

impl Recorder {
    /// The node as `on_node` sees it.
    fn event(
        &self,
        site: &Site,
        node: NodeRef,
        kind: NodeKind,
        name: Option<&str>,
        inputs: &[NodeInput<'_>],
        value: &Summary<'_>,
    ) -> NodeEvent {
        NodeEvent {
            id: node & ID_MASK,
            kind: kind.as_str(),
            name: name.map(str::to_string),
            inputs: inputs
                .iter()
                .map(|input| {
                    let key = match input.key {
                        InputKey::None => None,
                        InputKey::Index(index) => Some(index.to_string()),
                        InputKey::Name(name) => Some(name.to_string()),
                    };
                    (input.role.as_str(), key, input.src)
                })
                .collect(),
            value: value.object().map(|v| v.clone().unbind()),
            file: site.file.map(|f| self.buffer.file_name(f).to_string()),
            line: site.line,
            frame: site.frame,
            thread: site.thread,
        }
    }

    /// The Const node of operand `position` of the current operation:
    /// the one already recorded at this place when it holds the same
    /// number, else a new one (with its event for `on_node`).
    fn const_node(
        &mut self,
        site: &Site,
        position: usize,
        value: &Summary<'_>,
        events: Option<&mut Vec<NodeEvent>>,
    ) -> u64 {
        let place = (site.instruction, site.thread, position);
        let number = value
            .const_value()
            .map(|number| (number, self.type_index(value)));
        let last = self.consts.get(&place);
        if let (Some(number), Some(last)) = (number, last) {
            if last.in_call == site.frame.is_some() && (last.value, last.type_name) == number {
                return last.id;
            }
        }
        let id = self.push(site, None, NodeKind::Const, None, &[], value) & ID_MASK;
        if let Some(events) = events {
            events.push(self.event(site, id, NodeKind::Const, None, &[], value));
        }
        if let Some((value, type_name)) = number {
            let last = LastConst {
                in_call: site.frame.is_some(),
                type_name,
                value,
                id,
            };
            self.consts.insert(place, last);
        }
        id
    }

    fn site(&mut self, py: Python<'_>) -> Site {
        let (instruction, file, line) = if self.with_locations {
            self.caller_location(py)
        } else {
            (None, None, None)
        };
        let (frame, thread, owed) = state::node_context();
        Site {
            file,
            line,
            instruction,
            frame,
            thread,
            owed,
        }
    }

    fn push(
        &mut self,
        site: &Site,
        id: Option<NodeRef>,
        kind: NodeKind,
        name: Option<&str>,
        inputs: &[NodeInput<'_>],
        value: &Summary<'_>,
    ) -> NodeRef {
        let id = match id {
            Some(reserved) => reserved & ID_MASK,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                id
            }
        };
        let type_name = self.type_index(value);
        self.buffer.push(&NodeRow {
            id,
            kind,
            name,
            inputs,
            frame: site.frame,
            thread: site.thread,
            file: site.file,
            line: site.line,
            type_name,
            value: value.as_node_value(),
        });
        pack(self.epoch, id)
    }

    #[inline]
    fn flush_if_full(&mut self) {
        if self.buffer.len() >= self.flush_every || self.buffer.at_limit() {
            self.flush();
        }
    }

    /// Hands the rows to the writer thread, which builds their Arrow
    /// columns off the program's path, and takes back the storage of rows
    /// it has built. When it is behind (its queue is full), this thread
    /// would wait anyway: it builds the batch itself first, and the writer
    /// only encodes it.
    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        if let Ok(storage) = self.writer.returned.try_recv() {
            self.buffer.recycle(storage);
        }
        let rows = self.buffer.take_pending();
        let failed = match &self.writer.batches {
            Some(sender) => match sender.try_send(Outgoing::Rows(rows)) {
                Ok(()) => false,
                Err(TrySendError::Full(Outgoing::Rows(rows))) => {
                    let (batch, storage) = rows.build();
                    self.buffer.recycle(storage);
                    sender.send(Outgoing::Batch(batch)).is_err()
                }
                Err(TrySendError::Full(outgoing)) => sender.send(outgoing).is_err(),
                Err(TrySendError::Disconnected(_)) => true,
            },
            None => false,
        };
        if failed {
            // The writer thread stopped on an error (e.g. disk full); it is
            // reported by `stop`. Keep the program running, stop sending.
            self.writer.batches = None;
        }
    }

    fn type_index(&mut self, value: &Summary<'_>) -> Option<u32> {
        let ty = value.type_object()?;
        let key = ty.as_ptr() as usize;
        if self.last_types[0].0 == key {
            return Some(self.last_types[0].1);
        }
        if self.last_types[1].0 == key {
            self.last_types.swap(0, 1);
            return Some(self.last_types[0].1);
        }
        if let Some((_, index)) = self.type_names.get(&key) {
            self.last_types = [(key, *index), self.last_types[0]];
            return Some(*index);
        }
        let name = crate::summary::type_name(ty);
        let index = self.buffer.intern_type(&name);
        self.type_names
            .insert(key, (ty.clone().into_any().unbind(), index));
        self.last_types = [(key, index), self.last_types[0]];
        Some(index)
    }

    /// The user's instruction, source file and line.
    fn caller_location(
        &mut self,
        py: Python<'_>,
    ) -> (Option<(usize, usize)>, Option<u32>, Option<u32>) {
        let buffer = &mut self.buffer;
        self.locations
            .caller_location(py, |name| buffer.intern_file(name))
    }
}

/// In a child made by `fork()`: forget the parent's capture without
/// touching its file (the writer thread did not survive the fork, and the
/// file belongs to the parent), so the child can start its own.
pub fn abandon_after_fork(py: Python<'_>) {
    let inherited = lock(py).take();
    state::deactivate();
    if let Some(mut recorder) = inherited {
        // Dropping the handle detaches a thread that does not exist here;
        // dropping the sender closes a channel nobody reads. The writer
        // (with the parent's open file) lives inside the lost thread.
        recorder.writer.batches.take();
        recorder.writer.handle.take();
    }
}
