//! The one active capture: node ids, the columnar buffer, source locations,
//! and the writer thread that turns full buffers into Parquet row groups.
//!
//! Everything here runs with the GIL held. The recorder lock is only ever
//! held for plain Rust work and C-level CPython calls that cannot run Python
//! code, so no thread can block on it while another waits for the GIL.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TrySendError};

use arrow_array::RecordBatch;
use std::sync::Mutex;
use std::thread::JoinHandle;

use hltpy_schema::{
    InputKey, NodeBuffer, NodeInput, NodeKind, NodeRow, PendingBatch, RunEnd, RunInfo, RunWriter,
    Storage, TraceError, WriterOptions,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::flow::{OpInput, Operand};
use crate::frames;
use crate::gil_cell::{GilCell, GilGuard};
use crate::values::{ConstValue, Summary, ValuesMode};

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

/// A node reference as stored in a proxy: the capture epoch in the high
/// bits, the node id in the low 48. A proxy made in an earlier capture (or
/// outside any) has a stale epoch and re-enters the trace as a Const.
pub type NodeRef = u64;
const ID_BITS: u32 = 48;
pub const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// The reference of values made when nothing is recorded.
pub const NO_NODE: NodeRef = 0;

pub fn pack(epoch: u32, id: u64) -> NodeRef {
    (u64::from(epoch) << ID_BITS) | (id & ID_MASK)
}

/// The reference of node `id` in the running capture.
pub fn pack_current(id: u64) -> NodeRef {
    pack(EPOCH.load(Ordering::Relaxed), id)
}

/// The node id of `node` if it belongs to the running capture.
pub fn current_id(node: NodeRef) -> Option<u64> {
    let epoch = EPOCH.load(Ordering::Relaxed);
    (ACTIVE.load(Ordering::Relaxed) && (node >> ID_BITS) as u32 == epoch).then_some(node & ID_MASK)
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static EPOCH: AtomicU32 = AtomicU32::new(0);
static ALLOW_MUTATION: AtomicBool = AtomicBool::new(false);
static MAX_REPR: AtomicUsize = AtomicUsize::new(200);
static VALUES_MODE: AtomicU8 = AtomicU8::new(ValuesMode::Full as u8);
static CONVERSIONS: AtomicBool = AtomicBool::new(false);
/// Set while an `on_node` callback is installed: the hot path only pays
/// for building node events when someone listens.
static LISTENING: AtomicBool = AtomicBool::new(false);
static ON_NODE: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
/// The running capture's recorder (see [`GilCell`]: a mutex here cost two
/// atomic read-modify-writes per recorded node).
static RECORDER: GilCell<Recorder> = GilCell::new();

/// Per-thread state, one thread-local so the hot path pays one lookup.
struct ThreadState {
    /// Set while hltpy itself runs Python code (a repr) so that operations
    /// done by that code are not recorded as if the user did them.
    suspended: Cell<bool>,
    /// Id of the innermost traced call running on this thread, or NO_FRAME.
    frame: Cell<u64>,
    /// `threading.get_ident()` of this thread, or 0 until first asked.
    thread: Cell<u64>,
    /// Whether [`PENDING`] holds an error: read with the rest of this
    /// state, so a recorded node costs one thread-local access, not two.
    owed: Cell<bool>,
}

const NO_FRAME: u64 = u64::MAX;

thread_local! {
    // Constant-initialised and without a destructor: reading it needs no
    // check for first use.
    static THREAD: ThreadState = const {
        ThreadState {
            suspended: Cell::new(false),
            frame: Cell::new(NO_FRAME),
            thread: Cell::new(0),
            owed: Cell::new(false),
        }
    };
    /// An error owed to the program, raised by its next recorded
    /// operation: an `on_node` error for a node recorded outside an
    /// operation's own result (a Const, a Deep), or a Ctrl-C caught in a
    /// `__repr__` hltpy called (see [`owe`]).
    static PENDING: Cell<Option<PyErr>> = const { Cell::new(None) };
}

impl ThreadState {
    fn thread(&self) -> u64 {
        match self.thread.get() {
            0 => {
                // SAFETY: a plain query of the calling thread's identity.
                let ident = unsafe { ffi::PyThread_get_thread_ident() } as u64;
                self.thread.set(ident);
                ident
            }
            ident => ident,
        }
    }
}

/// Keeps `err` as the error owed by this thread, replacing any other.
fn set_owed(err: PyErr) {
    PENDING.with(|p| p.set(Some(err)));
    THREAD.with(|t| t.owed.set(true));
}

/// Is a capture running and recording on this thread?
#[inline]
pub fn recording() -> bool {
    ACTIVE.load(Ordering::Relaxed) && !THREAD.with(|t| t.suspended.get())
}

pub fn mutation_allowed() -> bool {
    ALLOW_MUTATION.load(Ordering::Relaxed)
}

/// Runs `f` with recording suspended on this thread.
pub fn suspended<R>(f: impl FnOnce() -> R) -> R {
    let before = THREAD.with(|t| t.suspended.replace(true));
    let result = f();
    THREAD.with(|t| t.suspended.set(before));
    result
}

/// Runs `f` (a traced call's body) with `id` as the innermost frame.
pub fn in_frame<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let outer = THREAD.with(|t| t.frame.replace(id));
    let result = f();
    THREAD.with(|t| t.frame.set(outer));
    result
}

/// Where the user's operation is: (file index, line), cached per
/// (code object, instruction) because asking CPython for a line number
/// decodes the line table every time (and needs a frame object).
#[derive(Default)]
struct Locations {
    /// The last instructions looked up, by their address's low bits: a
    /// loop's few instructions are found with one comparison, not a hash.
    recent: RecentLocations,
    lines: FxHashMap<(usize, usize), (u32, u32)>,
    /// Code objects seen, kept alive so their addresses cannot be reused
    /// by another code object while the cache refers to them.
    files: FxHashMap<usize, (Py<PyAny>, u32)>,
}

/// Slots of the direct-mapped cache in front of [`Locations::lines`].
const RECENT_LOCATIONS: usize = 64;

/// (instruction, file, line) per slot; instruction (0, 0) is empty.
struct RecentLocations([((usize, usize), u32, u32); RECENT_LOCATIONS]);

impl Default for RecentLocations {
    fn default() -> Self {
        RecentLocations([((0, 0), 0, 0); RECENT_LOCATIONS])
    }
}

impl RecentLocations {
    fn slot(instruction: (usize, usize)) -> usize {
        // Instructions are two bytes apart (or offsets that step by two).
        (instruction.1 >> 1) % RECENT_LOCATIONS
    }
}

/// What the recorder sends its writer thread: rows, or (when the writer
/// was behind) a batch already built.
enum Outgoing {
    Rows(PendingBatch),
    Batch(RecordBatch),
}

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
    batches: Option<SyncSender<Outgoing>>,
    /// Row storage the writer thread is done with, to be written again.
    returned: Receiver<Storage>,
    writer: Option<JoinHandle<Result<RunWriter, TraceError>>>,
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
    // A small bound keeps memory flat if the disk is slower than the program.
    let (sender, receiver) = sync_channel::<Outgoing>(4);
    let (give_back, returned) = channel::<Storage>();
    let handle = std::thread::Builder::new()
        .name("hltpy-writer".into())
        .spawn(move || {
            let mut writer = writer;
            for batch in receiver {
                let batch = match batch {
                    Outgoing::Rows(rows) => {
                        let (batch, storage) = rows.build();
                        // The recorder may be gone (the capture stopped).
                        let _ = give_back.send(storage);
                        batch
                    }
                    Outgoing::Batch(batch) => batch,
                };
                writer.write(&batch)?;
            }
            Ok(writer)
        })
        .map_err(|err| {
            PyRuntimeError::new_err(format!("cannot start the trace writer thread: {err}"))
        })?;
    // Epoch 0 is never used, so NO_NODE is stale in every capture.
    let epoch = (EPOCH.load(Ordering::Relaxed) % 0xFFFF) + 1;
    MAX_REPR.store(options.max_repr, Ordering::Relaxed);
    VALUES_MODE.store(options.values as u8, Ordering::Relaxed);
    CONVERSIONS.store(options.conversions, Ordering::Relaxed);
    LISTENING.store(options.on_node.is_some(), Ordering::Relaxed);
    *ON_NODE.lock().unwrap_or_else(|p| p.into_inner()) = options.on_node;
    EPOCH.store(epoch, Ordering::Relaxed);
    ALLOW_MUTATION.store(options.allow_mutation, Ordering::Relaxed);
    *guard = Some(Recorder {
        epoch,
        next_id: 0,
        buffer: NodeBuffer::with_capacity(flush_every),
        flush_every,
        with_locations: options.locations,
        locations: Locations::default(),
        type_names: FxHashMap::default(),
        batches: Some(sender),
        returned,
        writer: Some(handle),
        traced_modules,
        consts: FxHashMap::default(),
        last_types: [(0, 0); 2],
    });
    ACTIVE.store(true, Ordering::Relaxed);
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
    let recorder = {
        let mut guard = lock(py);
        ACTIVE.store(false, Ordering::Relaxed);
        ALLOW_MUTATION.store(false, Ordering::Relaxed);
        LISTENING.store(false, Ordering::Relaxed);
        guard.take()
    };
    let Some(mut recorder) = recorder else {
        return Err(PyRuntimeError::new_err("no capture is running"));
    };
    drop(ON_NODE.lock().unwrap_or_else(|p| p.into_inner()).take());
    if !recorder.buffer.is_empty() {
        let batch = Outgoing::Rows(recorder.buffer.take_pending());
        if let Some(sender) = &recorder.batches {
            // An error here means the writer thread already failed; its
            // own error is reported below.
            let _ = sender.send(batch);
        }
    }
    drop(recorder.batches.take());
    let handle = recorder.writer.take().expect("writer thread set at start");
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

/// Is a capture running (on any thread, suspended or not)?
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Is an `on_node` callback installed (so values must be kept for it)?
pub fn listening() -> bool {
    LISTENING.load(Ordering::Relaxed)
}

/// What the running capture keeps of values (read on every node).
pub fn values_mode() -> ValuesMode {
    ValuesMode::from_code(VALUES_MODE.load(Ordering::Relaxed))
}

/// Are conversions (`int(x)`, `bool(x)`, …) recorded as nodes?
pub fn conversions_recorded() -> bool {
    recording() && CONVERSIONS.load(Ordering::Relaxed)
}

/// The repr bound of the running capture (read on every node, so atomic).
pub fn max_repr() -> usize {
    MAX_REPR.load(Ordering::Relaxed)
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
        if LISTENING.load(Ordering::Relaxed) {
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
    let listening = LISTENING.load(Ordering::Relaxed);
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

/// Keeps `err` to be raised by the current thread's next recorded
/// operation (the first error owed wins).
pub fn owe(err: PyErr) {
    let earlier = take_pending_error();
    set_owed(earlier.unwrap_or(err));
}

/// The `on_node` error kept for the current operation, if any.
pub fn take_pending_error() -> Option<PyErr> {
    THREAD.with(|t| t.owed.set(false));
    PENDING.with(|p| p.take())
}

/// Calls `on_node` with each event, recording suspended (the callback's
/// own work on traced values is not the program's).
fn notify(py: Python<'_>, events: Vec<NodeEvent>) -> PyResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let callback = ON_NODE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|c| c.clone_ref(py));
    let Some(callback) = callback else {
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
        let (frame, thread, owed) = THREAD.with(|t| (t.frame.get(), t.thread(), t.owed.get()));
        Site {
            file,
            line,
            instruction,
            frame: (frame != NO_FRAME).then_some(frame),
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
        if let Ok(storage) = self.returned.try_recv() {
            self.buffer.recycle(storage);
        }
        let rows = self.buffer.take_pending();
        let failed = match &self.batches {
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
            self.batches = None;
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
        let name = crate::values::type_name(ty);
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
        // SAFETY: called with the GIL held; frames and code objects are
        // borrowed for this call only, a code object kept is owned.
        unsafe {
            let instruction = match frames::current_instruction(py) {
                Some(instruction) => instruction,
                None => {
                    let frame = frames::program_frame_object();
                    if frame.is_null() {
                        return (None, None, None);
                    }
                    let code = ffi::PyFrame_GetCode(frame) as *mut ffi::PyObject;
                    ffi::Py_DECREF(code);
                    (code as usize, ffi::PyFrame_GetLasti(frame) as usize)
                }
            };
            let slot = RecentLocations::slot(instruction);
            let (recent, file, line) = self.locations.recent.0[slot];
            if recent == instruction {
                return (Some(instruction), Some(file), Some(line));
            }
            if let Some(&(file, line)) = self.locations.lines.get(&instruction) {
                self.locations.recent.0[slot] = (instruction, file, line);
                return (Some(instruction), Some(file), Some(line));
            }
            // First time at this instruction: the line from a frame object.
            let frame = frames::program_frame_object();
            let line = if frame.is_null() {
                0
            } else {
                ffi::PyFrame_GetLineNumber(frame).max(0) as u32
            };
            let code_key = instruction.0;
            let file = match self.locations.files.get(&code_key) {
                Some((_, file)) => *file,
                None => {
                    let code = Bound::from_borrowed_ptr(py, code_key as *mut ffi::PyObject);
                    let name = code
                        .getattr(pyo3::intern!(py, "co_filename"))
                        .and_then(|f| f.extract::<String>())
                        .unwrap_or_else(|_| "<unknown>".into());
                    let file = self.buffer.intern_file(&name);
                    self.locations.files.insert(code_key, (code.unbind(), file));
                    file
                }
            };
            self.locations.lines.insert(instruction, (file, line));
            self.locations.recent.0[slot] = (instruction, file, line);
            (Some(instruction), Some(file), Some(line))
        }
    }
}

/// In a child made by `fork()`: forget the parent's capture without
/// touching its file (the writer thread did not survive the fork, and the
/// file belongs to the parent), so the child can start its own.
pub fn abandon_after_fork(py: Python<'_>) {
    let inherited = lock(py).take();
    ACTIVE.store(false, Ordering::Relaxed);
    LISTENING.store(false, Ordering::Relaxed);
    if let Some(mut recorder) = inherited {
        // Dropping the handle detaches a thread that does not exist here;
        // dropping the sender closes a channel nobody reads. The writer
        // (with the parent's open file) lives inside the lost thread.
        recorder.batches.take();
        recorder.writer.take();
    }
}
