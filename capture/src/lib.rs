//! hltpy's capture side: the native module `hltpy._hltpy`.
//!
//! Proxies ([`proxy::Traced`]) intercept every operation on traced values,
//! run it for real, and record it as a node (one proxy per object, so `is`
//! answers as untraced); traced functions and classes ([`calls`]) bind and
//! trace arguments, with traced methods as descriptors in the user's class;
//! what traced code writes into user data stays raw, its provenance kept
//! in a side table ([`links`]); the [`recorder`] buffers nodes and streams
//! them to a Parquet trace through `hltpy-schema` (below it, using nothing
//! above: [`state`], [`summary`], [`locations`], [`writer_thread`]). The
//! Python package around it (`capture/python/hltpy`) is thin glue.

mod calls;
mod coroutines;
mod flow;
mod frames;
mod gil_cell;
mod links;
mod locations;
mod proxy;
mod proxy_memory;
mod proxy_types;
mod recorder;
mod registry;
mod state;
mod summary;
mod values;
mod writer_thread;

use hltpy_schema::RunInfo;
use pyo3::prelude::*;

use crate::proxy::Traced;
use crate::recorder::{NodeEvent, Options};
use crate::state::{current_id, recording, ValuesMode, NO_NODE};

/// `hltpy.trace(value)`: a traced value whose node is a Const (or a Deep
/// for a container holding traced values). Traced values come back as they are.
#[pyfunction]
fn trace(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if value.is_instance_of::<Traced>() {
        return Ok(value.clone().unbind());
    }
    if !recording() {
        return proxy::new_traced(py, flow::raw(value), NO_NODE);
    }
    let id = flow::node_of(value);
    if let Some(err) = state::take_pending_error() {
        return Err(err);
    }
    proxy::new_traced(py, flow::raw(value), state::pack_current(id))
}

/// `hltpy.from_traced(value)`: the raw value, also inside builtin containers.
#[pyfunction]
fn from_traced<'py>(value: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    flow::raw(value)
}

/// What a pickled traced value unpickles to: its raw value.
#[pyfunction]
fn _raw(value: Bound<'_, PyAny>) -> Bound<'_, PyAny> {
    value
}

#[pyfunction]
fn is_traced(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<Traced>()
}

/// The id of a traced value's node in the running capture, or None.
#[pyfunction]
fn node_id(value: &Bound<'_, PyAny>) -> Option<u64> {
    let traced = value.cast::<Traced>().ok()?;
    current_id(traced.get().node_ref())
}

#[pyfunction]
#[pyo3(signature = (path, *, argv, python_version, hltpy_version, traced_modules, flush_every, allow_mutation, max_repr, values, locations, conversions, on_node, segment_nodes, byte_stream_split))]
#[allow(clippy::too_many_arguments)]
fn start(
    py: Python<'_>,
    path: &str,
    argv: Vec<String>,
    python_version: String,
    hltpy_version: String,
    traced_modules: Vec<String>,
    flush_every: usize,
    allow_mutation: bool,
    max_repr: usize,
    values: &str,
    locations: bool,
    conversions: bool,
    on_node: Option<Py<PyAny>>,
    segment_nodes: Option<i64>,
    byte_stream_split: bool,
) -> PyResult<()> {
    // Every option is checked here, once, whichever way it was given
    // (the API, a flag, an HLTPY_* variable).
    let Some(values) = ValuesMode::parse(values) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "values must be \"full\", \"scalars\" or \"types\", got {values:?}"
        )));
    };
    if flush_every == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "flush_every must be at least 1 (nodes per written batch)",
        ));
    }
    if max_repr < 8 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "max_repr must be at least 8 characters, got {max_repr}"
        )));
    }
    let segment_nodes = match segment_nodes {
        Some(nodes) if nodes < 1 => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "segment_nodes must be at least 1, got {nodes}"
            )))
        }
        other => other.map(|nodes| nodes as u64),
    };
    let run = RunInfo {
        hltpy_version,
        python_version,
    };
    let options = Options {
        flush_every,
        allow_mutation,
        max_repr,
        values,
        locations,
        conversions,
        on_node,
        segment_nodes,
        byte_stream_split,
    };
    links::clear();
    recorder::start(py, run, path, options, argv, traced_modules)
}

/// Ends the running capture; returns (trace path, nodes written).
#[pyfunction]
#[pyo3(signature = (argv, closed_cleanly = true, end_reason = "stopped", keep_empty = true))]
fn stop(
    py: Python<'_>,
    argv: Vec<String>,
    closed_cleanly: bool,
    end_reason: &str,
    keep_empty: bool,
) -> PyResult<(String, u64)> {
    links::clear();
    let finished = recorder::stop(py, argv, closed_cleanly, end_reason, keep_empty)?;
    Ok((finished.path, finished.nodes))
}

/// In a forked child: forget the parent's capture (see recorder).
#[pyfunction]
fn abandon_after_fork(py: Python<'_>) {
    links::clear();
    recorder::abandon_after_fork(py);
}

/// Ends the process by `signum`'s default action, as if hltpy had never
/// handled the signal, from any thread: Python's `signal.signal` works
/// only on the main thread, and the batch session's SIGTERM watcher runs
/// on a thread of its own. Returns only if the default action is not to
/// end the process.
#[pyfunction]
fn die_of_signal(signum: i32) -> PyResult<()> {
    // SAFETY: plain libc calls on a signal mask and the signal disposition
    // of this process; `raise` delivers the signal to this thread.
    let raised = unsafe {
        libc::signal(signum, libc::SIG_DFL);
        let mut unblocked: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut unblocked);
        libc::sigaddset(&mut unblocked, signum);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &unblocked, std::ptr::null_mut());
        libc::raise(signum)
    };
    if raised != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Are proxies made and freed by hltpy's own allocation (the layout check
/// at import passed)? For the tests: a pyo3 upgrade that changes the
/// layout must not silently fall back to the slower path.
#[pyfunction]
fn _fast_proxies() -> bool {
    proxy_memory::installed()
}

/// Whether source locations are read from the interpreter's frames
/// directly (see `frames.rs`); a test asserts it on the CPython the
/// wheel is built for.
#[pyfunction]
fn _fast_locations() -> bool {
    frames::installed()
}

#[pyfunction]
fn capturing() -> bool {
    state::active()
}

#[pyfunction]
fn add_traced_modules(py: Python<'_>, names: Vec<String>) {
    recorder::add_traced_modules(py, &names);
}

#[pymodule]
fn _hltpy(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // One version for the crate, the wheel (pyproject's is dynamic) and
    // `hltpy.__version__`.
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<Traced>()?;
    proxy_memory::install(module.py())?;
    proxy_types::install(module.py());
    frames::install(module.py());
    module.add_class::<NodeEvent>()?;
    module.add_class::<calls::TracedFunction>()?;
    module.add_class::<calls::TracedClass>()?;
    module.add_class::<calls::TracedCallable>()?;
    module.add_class::<coroutines::Steps>()?;
    module.add_class::<coroutines::TracedAsyncGenerator>()?;
    module.add_function(wrap_pyfunction!(calls::traced_super, module)?)?;
    module.add_function(wrap_pyfunction!(trace, module)?)?;
    module.add_function(wrap_pyfunction!(from_traced, module)?)?;
    module.add_function(wrap_pyfunction!(is_traced, module)?)?;
    module.add_function(wrap_pyfunction!(_raw, module)?)?;
    module.add_function(wrap_pyfunction!(node_id, module)?)?;
    module.add_function(wrap_pyfunction!(start, module)?)?;
    module.add_function(wrap_pyfunction!(stop, module)?)?;
    module.add_function(wrap_pyfunction!(capturing, module)?)?;
    module.add_function(wrap_pyfunction!(_fast_proxies, module)?)?;
    module.add_function(wrap_pyfunction!(_fast_locations, module)?)?;
    module.add_function(wrap_pyfunction!(abandon_after_fork, module)?)?;
    module.add_function(wrap_pyfunction!(die_of_signal, module)?)?;
    module.add_function(wrap_pyfunction!(add_traced_modules, module)?)?;
    Ok(())
}
