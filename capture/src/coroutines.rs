//! Traced `async def` functions and async generators. Calling one gives the
//! program a real coroutine (or an async generator object of hltpy's)
//! that asyncio takes as it takes the untraced one — never a proxy, whose
//! type C code would step as the coroutine it claims to be. Each step of
//! the body runs inside the frame of the node that ends it: a coroutine's
//! body inside its `Awaited` node (recorded when the body returns or
//! raises), an async generator's steps inside the `Generation` of the
//! item they produce, so the trace reads like a call and like a
//! generator, however the event loop interleaves the steps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hltpy_schema::{InputKey, NodeKind, Role};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use pyo3::{intern, PyTraverseError};
use smallvec::{smallvec, SmallVec};

use crate::calls::returned_container;
use crate::flow::{source_of, wrap};
use crate::proxy::Traced;
use crate::recorder;
use crate::state::{self, current_id, recording, NodeRef, NO_NODE};
use crate::summary::{OpInput, Operand, Summary};

/// What a finished step sequence records.
enum Completion {
    /// A coroutine's body returned or raised: an Awaited node.
    Awaited {
        coroutine: NodeRef,
        name: Py<PyString>,
        /// Where the coroutine was made: its Awaited is placed there too,
        /// not in whatever stepped it last (an event loop's callback).
        made_at: Option<recorder::Place>,
    },
    /// An async generator produced item `count`: a Generation node.
    Generation { generator: NodeRef, count: u64 },
    /// `aclose()`: cleanup of an async generator, no node of its own.
    Nothing,
}

/// Drives one awaitable of the traced body (the coroutine itself, or one
/// `__anext__`/`asend`/`athrow`/`aclose` of an async generator) step by
/// step, each step inside the frame of the node that will end it. It is
/// an iterator with `send`/`throw`/`close`: what `await` delegates to.
#[pyclass(frozen, module = "hltpy", name = "TracedSteps")]
pub struct Steps {
    inner: Py<PyAny>,
    completion: Completion,
    /// The id reserved for the completing node when the first step ran
    /// (NO_NODE before, or when not recording).
    frame: AtomicU64,
    started: AtomicBool,
    finished: AtomicBool,
}

/// How a step is driven.
enum Push<'py> {
    Send(Bound<'py, PyAny>),
    Throw(Bound<'py, PyTuple>),
}

/// What a step of the inner awaitable gave.
enum Step<'py> {
    Yielded(Bound<'py, PyAny>),
    Returned(Bound<'py, PyAny>),
    Raised(PyErr),
}

impl Steps {
    fn new(inner: Bound<'_, PyAny>, completion: Completion) -> Self {
        Steps {
            inner: inner.unbind(),
            completion,
            frame: AtomicU64::new(NO_NODE),
            started: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        }
    }

    /// The frame of this step sequence's body, reserved at its first step.
    fn frame(&self, py: Python<'_>) -> Option<NodeRef> {
        let reserved = self.frame.load(Ordering::Relaxed);
        if reserved != NO_NODE {
            return Some(reserved);
        }
        if self.finished.load(Ordering::Relaxed)
            || matches!(self.completion, Completion::Nothing)
            || !recording()
        {
            return None;
        }
        let reserved = recorder::reserve_id(py)?;
        self.frame.store(reserved, Ordering::Relaxed);
        Some(reserved)
    }

    fn step<'py>(&self, py: Python<'py>, push: Push<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.started.store(true, Ordering::Relaxed);
        let inner = self.inner.bind(py);
        let run = || match push {
            Push::Send(value) => send(inner, &value),
            Push::Throw(args) => match inner.call_method1(intern!(py, "throw"), args) {
                Ok(yielded) => Step::Yielded(yielded),
                Err(err) if err.is_instance_of::<PyStopIteration>(py) => {
                    let value = err.value(py).getattr(intern!(py, "value"));
                    match value {
                        Ok(value) => Step::Returned(value),
                        Err(err) => Step::Raised(err),
                    }
                }
                Err(err) => Step::Raised(err),
            },
        };
        // A frame reserved in an earlier capture is not this one's.
        let outcome = match self.frame(py).and_then(current_id) {
            Some(frame) => state::in_frame(frame, run),
            None => run(),
        };
        match outcome {
            Step::Yielded(value) => Ok(value),
            Step::Returned(value) => {
                let result = self.finish(py, value)?;
                Err(PyStopIteration::new_err((result,)))
            }
            Step::Raised(err) => {
                self.finish_raised(py, &err);
                Err(err)
            }
        }
    }

    /// The completing node for what the body returned (or the item the
    /// async generator produced); the value the awaiter gets, traced.
    fn finish<'py>(&self, py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let frame = self.frame.load(Ordering::Relaxed);
        if self.finished.swap(true, Ordering::Relaxed)
            || current_id(frame).is_none()
            || !recording()
        {
            return Ok(value.unbind());
        }
        match &self.completion {
            Completion::Awaited {
                coroutine,
                name,
                made_at,
            } => {
                let Some(coroutine) = current_id(*coroutine) else {
                    return Ok(value.unbind());
                };
                let (raw, returned) = match value.cast_into::<Traced>() {
                    Ok(proxy) => {
                        let traced = proxy.get();
                        (traced.value.bind(py).clone(), Some(traced.node_id(py)))
                    }
                    Err(other) => returned_container(other.into_inner()),
                };
                let mut inputs: SmallVec<[OpInput<'_, '_>; 2]> =
                    smallvec![OpInput::node(Role::Coroutine, coroutine)];
                inputs.extend(returned.map(|src| OpInput::node(Role::Return, src)));
                let summary = Summary::of(&raw);
                let node = recorder::record_op_at(
                    py,
                    *made_at,
                    Some(frame),
                    NodeKind::Awaited,
                    Some(name.bind(py).to_str()?),
                    &inputs,
                    &summary,
                )?;
                wrap(py, raw, node)
            }
            Completion::Generation { generator, count } => {
                let Some(generator) = current_id(*generator) else {
                    return Ok(value.unbind());
                };
                let (item, source) = source_of(value);
                let mut inputs: SmallVec<[OpInput<'_, '_>; 2]> = smallvec![OpInput {
                    role: Role::Generator,
                    key: InputKey::Index(*count),
                    operand: Operand::Node(generator),
                }];
                inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
                let summary = Summary::of(&item);
                let node = recorder::record_op(
                    py,
                    Some(frame),
                    NodeKind::Generation,
                    None,
                    &inputs,
                    &summary,
                )?;
                wrap(py, item, node)
            }
            Completion::Nothing => Ok(value.unbind()),
        }
    }

    /// A coroutine whose body raised ends in an Awaited that records the
    /// exception (as a Call does). An async generator that ends or raises
    /// produces no item: no Generation, as for a generator.
    fn finish_raised(&self, py: Python<'_>, err: &PyErr) {
        let frame = self.frame.load(Ordering::Relaxed);
        if self.finished.swap(true, Ordering::Relaxed)
            || current_id(frame).is_none()
            || !recording()
        {
            return;
        }
        if let Completion::Awaited {
            coroutine,
            name,
            made_at,
        } = &self.completion
        {
            if err.is_instance_of::<PyStopAsyncIteration>(py) {
                return;
            }
            let Some(coroutine) = current_id(*coroutine) else {
                return;
            };
            let inputs = [OpInput::node(Role::Coroutine, coroutine)];
            let summary = Summary::raised(err, py);
            let name = name.bind(py).to_str().ok();
            // The body's own error wins over one from `on_node`.
            let _ = recorder::record_op_at(
                py,
                *made_at,
                Some(frame),
                NodeKind::Awaited,
                name,
                &inputs,
                &summary,
            );
        }
    }
}

/// `PyIter_Send`: a coroutine's (or awaitable's) next step with `value`.
fn send<'py>(inner: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> Step<'py> {
    let py = inner.py();
    let mut result: *mut pyo3::ffi::PyObject = std::ptr::null_mut();
    // SAFETY: GIL held, live objects; `result` is a new reference on NEXT
    // and RETURN, and an exception is set on ERROR.
    let status = unsafe { pyo3::ffi::PyIter_Send(inner.as_ptr(), value.as_ptr(), &mut result) };
    match status {
        pyo3::ffi::PySendResult::PYGEN_NEXT => {
            Step::Yielded(unsafe { Bound::from_owned_ptr(py, result) })
        }
        pyo3::ffi::PySendResult::PYGEN_RETURN => {
            Step::Returned(unsafe { Bound::from_owned_ptr(py, result) })
        }
        pyo3::ffi::PySendResult::PYGEN_ERROR => Step::Raised(PyErr::fetch(py)),
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        // A coroutine never awaited: the program's own object (the
        // wrapper) warns that it was never awaited, with the function's
        // name, as the untraced one does; the body's coroutine inside is
        // closed so that it does not warn a second time.
        if *self.started.get_mut() || !matches!(self.completion, Completion::Awaited { .. }) {
            return;
        }
        Python::attach(|py| {
            if let Err(err) = self.inner.bind(py).call_method0(intern!(py, "close")) {
                err.write_unraisable(py, None);
            }
        });
    }
}

#[pymethods]
impl Steps {
    fn __await__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.step(py, Push::Send(py.None().into_bound(py)))
    }

    fn send<'py>(&self, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.step(value.py(), Push::Send(value))
    }

    #[pyo3(signature = (*args))]
    fn throw<'py>(&self, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.step(args.py(), Push::Throw(args))
    }

    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.started.store(true, Ordering::Relaxed);
        let inner = self.inner.bind(py);
        let close = || inner.call_method0(intern!(py, "close"));
        match current_id(self.frame.load(Ordering::Relaxed)) {
            Some(frame) => state::in_frame(frame, close),
            None => close(),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.inner)?;
        if let Completion::Awaited { name, .. } = &self.completion {
            visit.call(name)?;
        }
        Ok(())
    }
}

/// `async def run(steps): return await steps`: the real coroutine the
/// program is given for a traced coroutine function's call.
fn coroutine_runner(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static RUNNER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RUNNER
        .get_or_try_init(py, || {
            let module = PyModule::from_code(
                py,
                c"async def run(steps):\n    return await steps\n",
                RUNNER_FILE,
                c"hltpy._coroutines",
            )?;
            let run = module.getattr("run")?;
            crate::frames::skip_code(&run.getattr("__code__")?);
            Ok::<_, PyErr>(run.unbind())
        })
        .map(|runner| runner.bind(py))
}

/// The file name of the runner's code. Source locations skip its frame:
/// what is recorded as the body finishes (a returned container's Deep
/// node) is placed in the program's code, never in this file.
const RUNNER_FILE: &std::ffi::CStr = c"<hltpy coroutine>";

/// The program's coroutine for `inner`, the coroutine of a traced
/// `async def` whose Coroutine node is `node`: a real coroutine named as
/// the function, whose run is traced.
pub fn traced_coroutine<'py>(
    py: Python<'py>,
    inner: Bound<'py, PyAny>,
    node: NodeRef,
) -> PyResult<Py<PyAny>> {
    let name = inner.getattr(intern!(py, "__name__"))?;
    let qualname = inner.getattr(intern!(py, "__qualname__"))?;
    let completion = Completion::Awaited {
        coroutine: node,
        name: name.clone().cast_into::<PyString>()?.unbind(),
        made_at: recorder::place_now(py),
    };
    let steps = Bound::new(py, Steps::new(inner, completion))?;
    let coroutine = coroutine_runner(py)?.call1((steps,))?;
    coroutine.setattr(intern!(py, "__name__"), name)?;
    coroutine.setattr(intern!(py, "__qualname__"), qualname)?;
    Ok(coroutine.unbind())
}

/// The async generator a traced async generator function's call gives:
/// `async for` and `asend`/`athrow`/`aclose` step the real one inside,
/// each item a Generation of the call's Generator node.
#[pyclass(frozen, module = "hltpy", name = "TracedAsyncGenerator")]
pub struct TracedAsyncGenerator {
    inner: Py<PyAny>,
    node: NodeRef,
    count: AtomicU64,
}

impl TracedAsyncGenerator {
    pub fn new(inner: Bound<'_, PyAny>, node: NodeRef) -> Self {
        TracedAsyncGenerator {
            inner: inner.unbind(),
            node,
            count: AtomicU64::new(0),
        }
    }

    fn item_steps<'py>(&self, awaitable: Bound<'py, PyAny>) -> PyResult<Bound<'py, Steps>> {
        let count = self.count.fetch_add(1, Ordering::Relaxed);
        let completion = Completion::Generation {
            generator: self.node,
            count,
        };
        Bound::new(awaitable.py(), Steps::new(awaitable, completion))
    }
}

#[pymethods]
impl TracedAsyncGenerator {
    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Steps>> {
        let awaitable = self.inner.bind(py).call_method0(intern!(py, "__anext__"))?;
        self.item_steps(awaitable)
    }

    fn asend<'py>(&self, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, Steps>> {
        let py = value.py();
        let awaitable = self
            .inner
            .bind(py)
            .call_method1(intern!(py, "asend"), (value,))?;
        self.item_steps(awaitable)
    }

    #[pyo3(signature = (*args))]
    fn athrow<'py>(&self, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, Steps>> {
        let py = args.py();
        let awaitable = self
            .inner
            .bind(py)
            .call_method1(intern!(py, "athrow"), args)?;
        self.item_steps(awaitable)
    }

    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Steps>> {
        let awaitable = self.inner.bind(py).call_method0(intern!(py, "aclose"))?;
        Bound::new(py, Steps::new(awaitable, Completion::Nothing))
    }

    /// `ag_frame`, `ag_running`, `__name__`, … are the real generator's.
    fn __getattr__<'py>(&self, name: Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.bind(name.py()).getattr(name)
    }

    fn __repr__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.inner.bind(py).repr()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.inner)
    }
}
