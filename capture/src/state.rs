//! The state every layer of the capture reads: whether a capture runs and
//! the options it runs with (atomics, read on every node without a lock),
//! the epoch that tells a proxy's node reference from an earlier
//! capture's, and each thread's own state (recording suspended, the
//! innermost traced call, an error owed to the program). It uses no other
//! module of the crate: the recorder, the value summaries, the proxy and
//! the calls all stand on it.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;

/// How much of each value a capture keeps (`hltpy.capture(values=...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValuesMode {
    /// Typed scalars and a bounded repr of everything else.
    Full = 0,
    /// Typed scalars only: no repr of other values.
    Scalars = 1,
    /// Types only: no user data in the file.
    Types = 2,
}

impl ValuesMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(ValuesMode::Full),
            "scalars" => Some(ValuesMode::Scalars),
            "types" => Some(ValuesMode::Types),
            _ => None,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code {
            1 => ValuesMode::Scalars,
            2 => ValuesMode::Types,
            _ => ValuesMode::Full,
        }
    }
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
pub(crate) fn set_owed(err: PyErr) {
    PENDING.with(|p| p.set(Some(err)));
    THREAD.with(|t| t.owed.set(true));
}

/// Installs a starting capture's options; gives its epoch, never 0, so
/// a proxy made outside every capture ([`NO_NODE`]) is stale in each.
/// Recording starts with [`activate`].
pub fn configure(
    max_repr: usize,
    values: ValuesMode,
    conversions: bool,
    allow_mutation: bool,
    on_node: Option<Py<PyAny>>,
) -> u32 {
    let epoch = (EPOCH.load(Ordering::Relaxed) % 0xFFFF) + 1;
    MAX_REPR.store(max_repr, Ordering::Relaxed);
    VALUES_MODE.store(values as u8, Ordering::Relaxed);
    CONVERSIONS.store(conversions, Ordering::Relaxed);
    LISTENING.store(on_node.is_some(), Ordering::Relaxed);
    *ON_NODE.lock().unwrap_or_else(|p| p.into_inner()) = on_node;
    EPOCH.store(epoch, Ordering::Relaxed);
    ALLOW_MUTATION.store(allow_mutation, Ordering::Relaxed);
    epoch
}

/// Starts recording, once the recorder is in place.
pub fn activate() {
    ACTIVE.store(true, Ordering::Relaxed);
}

/// Stops recording on every thread (a forked child's inherited capture).
pub fn deactivate() {
    ACTIVE.store(false, Ordering::Relaxed);
    LISTENING.store(false, Ordering::Relaxed);
}

/// Ends a capture's state: nothing is recorded, mutation is refused
/// again; gives back the `on_node` callback, for the caller to drop where
/// no lock is held (dropping it may run Python code).
pub fn end() -> Option<Py<PyAny>> {
    deactivate();
    ALLOW_MUTATION.store(false, Ordering::Relaxed);
    ON_NODE.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// The `on_node` callback of the running capture.
pub fn on_node(py: Python<'_>) -> Option<Py<PyAny>> {
    ON_NODE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|c| c.clone_ref(py))
}

/// What each node records of the thread it is made on: the innermost
/// traced call (None at top level), the thread, and whether an error is
/// owed to the program (one thread-local read per node).
#[inline]
pub fn node_context() -> (Option<u64>, u64, bool) {
    THREAD.with(|t| {
        let frame = t.frame.get();
        (
            (frame != NO_FRAME).then_some(frame),
            t.thread(),
            t.owed.get(),
        )
    })
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
