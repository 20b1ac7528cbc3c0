//! `Traced`: the proxy around a traced value. Every operation on it really
//! runs on the wrapped value, is recorded as a node, and hands back a new
//! proxy of the result. This is capture's hot path: no Python-level work
//! that can be avoided, one recorder lock per operation.
//!
//! `proxy` and `calls` use each other, on purpose: a slot of a traced
//! class's object makes a call of traced code, and a call wraps what it
//! returns in a proxy (see `calls`' docs).

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use hltpy_schema::{CmpOp, InputKey, NodeKind, Role};
use pyo3::basic::CompareOp;
use pyo3::exceptions::PyAttributeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple};
use pyo3::{intern, PyTraverseError};
use smallvec::{smallvec, SmallVec};

use crate::calls::{self, CallSite};
use crate::flow::{self, prepare, source_of, wrap};
use crate::links::{self, Slot};
use crate::proxy_memory::new_proxy;
use crate::recorder::{self, record, Node};
use crate::registry;
use crate::state::{self, current_id, recording, NodeRef, NO_NODE};
use crate::summary::{OpInput, Operand, Summary};

/// What a proxy does beyond forwarding operations.
pub enum Flavor {
    Plain,
    /// A traced generator function's generator: `next` gives Generation nodes.
    Generator,
    /// A traced class's method bound to a traced receiver: calling it runs
    /// the body traced with the receiver proxy as `self`.
    Method {
        function: Py<PyAny>,
        receiver: Py<PyAny>,
        /// The node the receiver stood for when the method was read: in
        /// `a.f(a.g())` the body of `f` sees `a` as read for `f`.
        receiver_node: NodeRef,
        name: Py<PyString>,
    },
    /// An instance of a traced class; attributes may be set while its
    /// `__init__` runs.
    Object {
        initializing: AtomicBool,
    },
}

/// A traced value. Every operation makes one and drops another: they are
/// made and freed by [`proxy_memory`](crate::proxy_memory), which keeps a
/// free list of them.
#[pyclass(frozen, weakref, module = "hltpy", name = "Traced")]
pub struct Traced {
    pub value: Py<PyAny>,
    node: AtomicU64,
    /// How many times `next` was called on it (the key of its Iteration inputs).
    count: AtomicU64,
    pub flavor: Flavor,
    /// Is it its value's one proxy in the identity table?
    shared: AtomicBool,
}

/// Raw object address → (address of its one live proxy, address of that
/// proxy's `Traced`). `is` compares addresses and cannot be intercepted, so
/// a value that has an identity (anything but an immutable builtin) is
/// handed to the program as one proxy for as long as that proxy lives;
/// each read still records its node, and the proxy then stands for the
/// latest one. Entries do not own the proxy: its `Drop` removes them.
type IdentityTable = Mutex<Option<FxHashMap<usize, (usize, usize)>>>;
static IDENTITY: IdentityTable = Mutex::new(None);

fn identity_table() -> std::sync::MutexGuard<'static, Option<FxHashMap<usize, (usize, usize)>>> {
    IDENTITY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Does any weak reference point at `object`? (CPython keeps them in a
/// list at the type's `tp_weaklistoffset`.)
fn has_weak_references(object: &Bound<'_, PyAny>) -> bool {
    // SAFETY: GIL held; the offset comes from the object's own type, and a
    // positive offset is a `PyObject *` slot inside the object.
    unsafe {
        let offset = (*pyo3::ffi::Py_TYPE(object.as_ptr())).tp_weaklistoffset;
        if offset <= 0 {
            return false;
        }
        let slot = object
            .as_ptr()
            .cast::<u8>()
            .offset(offset)
            .cast::<*mut pyo3::ffi::PyObject>();
        !(*slot).is_null()
    }
}

/// Values whose identity a program cannot rely on (equal immutable
/// builtins may or may not be the same object): a proxy of each is fine.
pub fn without_identity(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<pyo3::types::PyBytes>()
        || value.is_exact_instance_of::<pyo3::types::PyComplex>()
        || value.is_exact_instance_of::<pyo3::types::PyFrozenSet>()
        || value.is_exact_instance_of::<pyo3::types::PyRange>()
        || value.is_exact_instance_of::<pyo3::types::PySlice>()
}

/// The proxy of `value` standing for node `node`: its existing one when
/// it has an identity and a live proxy, else a new one with `flavor`.
pub fn proxy_of<'py>(
    py: Python<'py>,
    value: Bound<'py, PyAny>,
    node: NodeRef,
    flavor: Flavor,
) -> PyResult<Bound<'py, Traced>> {
    if without_identity(&value) {
        return new_proxy(py, Traced::new(value.unbind(), node, flavor));
    }
    shared_proxy(py, value, node, flavor)
}

/// The one proxy of `value`, an object with an identity.
pub fn shared_proxy<'py>(
    py: Python<'py>,
    value: Bound<'py, PyAny>,
    node: NodeRef,
    flavor: Flavor,
) -> PyResult<Bound<'py, Traced>> {
    let key = value.as_ptr() as usize;
    let entry = identity_table()
        .as_ref()
        .and_then(|t| t.get(&key).copied())
        // A proxy being deallocated (its weak references' callbacks run
        // before its Drop removes the entry) is not handed out again.
        // SAFETY: the address is a Traced until its Drop, see below.
        .filter(
            |&(object, _)| unsafe { pyo3::ffi::Py_REFCNT(object as *mut pyo3::ffi::PyObject) } > 0,
        );
    if let Some((object, _)) = entry {
        // SAFETY: the entry is removed when that proxy is deallocated, so
        // the address is a live Traced while it is in the table (GIL held).
        let proxy = unsafe {
            Bound::from_borrowed_ptr(py, object as *mut pyo3::ffi::PyObject)
                .cast_into_unchecked::<Traced>()
        };
        proxy.get().node.store(node, Ordering::Relaxed);
        return Ok(proxy);
    }
    // Allocating may run the GC, whose deallocations take the table's lock:
    // it is not held here.
    let proxy = new_proxy(py, Traced::new(value.unbind(), node, flavor))?;
    let inner = proxy.get();
    inner.shared.store(true, Ordering::Relaxed);
    identity_table()
        .get_or_insert_with(FxHashMap::default)
        .insert(
            key,
            (proxy.as_ptr() as usize, inner as *const Traced as usize),
        );
    Ok(proxy)
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.leave_identity_table();
    }
}

/// Gives up one reference without pyo3's check for an attached thread: a
/// deallocation CPython starts (the program dropping a proxy) runs outside
/// any pyo3 call, where pyo3 would defer the decrement to its pool.
fn release_reference<T>(object: Py<T>) {
    // SAFETY: called from `tp_dealloc`, so the GIL is held.
    unsafe { pyo3::ffi::Py_DECREF(object.into_ptr()) }
}

impl Traced {
    pub fn new(value: Py<PyAny>, node: NodeRef, flavor: Flavor) -> Self {
        Traced {
            value,
            node: AtomicU64::new(node),
            count: AtomicU64::new(0),
            flavor,
            shared: AtomicBool::new(false),
        }
    }

    /// Removes this proxy from the identity table if it is its value's one
    /// proxy there.
    fn leave_identity_table(&mut self) {
        if !*self.shared.get_mut() {
            return;
        }
        let key = self.value.as_ptr() as usize;
        let this = self as *const Traced as usize;
        if let Some(table) = identity_table().as_mut() {
            if table.get(&key).is_some_and(|&(_, owner)| owner == this) {
                table.remove(&key);
            }
        }
    }

    /// Drops a deallocated proxy's contents in place (see
    /// [`release_reference`]). In place: the identity table knows the
    /// proxy by the address of its `Traced`. The match names every flavor,
    /// so a new one holding Python objects cannot be forgotten here.
    ///
    /// # Safety
    /// `place` is a live `Traced` that is never used or dropped afterwards;
    /// the GIL is held.
    pub unsafe fn release(place: *mut Traced) {
        let this = unsafe { &mut *place };
        this.leave_identity_table();
        // SAFETY: each field is read out exactly once, and the rest of the
        // struct holds no resources (atomics).
        let (value, flavor) =
            unsafe { (std::ptr::read(&this.value), std::ptr::read(&this.flavor)) };
        release_reference(value);
        match flavor {
            Flavor::Plain | Flavor::Generator | Flavor::Object { .. } => {}
            Flavor::Method {
                function,
                receiver,
                receiver_node: _,
                name,
            } => {
                release_reference(function);
                release_reference(receiver);
                release_reference(name);
            }
        }
    }

    /// Makes the proxy stand for node `node` (a read that gave it again).
    pub fn set_node(&self, node: NodeRef) {
        self.node.store(node, Ordering::Relaxed);
    }

    /// `proxy` itself, made to stand for node `node`, when nothing but the
    /// caller can see it: a plain proxy of a value without identity, held
    /// by this one reference and no weak reference. It is then just what
    /// [`flow::wrap`] would make for its value and `node`, without freeing
    /// one proxy and allocating the next (a traced call returning a number).
    pub fn reused_for(
        proxy: Bound<'_, Traced>,
        node: NodeRef,
    ) -> Result<Py<PyAny>, Bound<'_, Traced>> {
        let this = proxy.get();
        // SAFETY: GIL held, live object.
        let references = unsafe { pyo3::ffi::Py_REFCNT(proxy.as_ptr()) };
        let sole = references == 1 && !has_weak_references(proxy.as_any());
        if !(sole
            && matches!(this.flavor, Flavor::Plain)
            && !this.shared.load(Ordering::Relaxed)
            && without_identity(this.value.bind(proxy.py())))
        {
            return Err(proxy);
        }
        this.set_node(node);
        this.count.store(0, Ordering::Relaxed);
        Ok(proxy.into_any().unbind())
    }

    /// The id of this value's node in the running capture. A proxy from an
    /// earlier capture (or none) enters this one as a Const.
    pub fn node_id(&self, py: Python<'_>) -> u64 {
        let node = self.node.load(Ordering::Relaxed);
        if let Some(id) = current_id(node) {
            return id;
        }
        let value = self.value.bind(py);
        let summary = Summary::of(value);
        let fresh = record(
            py,
            Node {
                id: None,
                kind: NodeKind::Const,
                name: None,
                inputs: &[],
                value: &summary,
            },
        );
        match fresh {
            Some(fresh) => {
                self.node.store(fresh, Ordering::Relaxed);
                fresh & state::ID_MASK
            }
            None => 0,
        }
    }

    pub fn node_ref(&self) -> NodeRef {
        self.node.load(Ordering::Relaxed)
    }

    fn initializing(&self) -> bool {
        matches!(&self.flavor, Flavor::Object { initializing } if initializing.load(Ordering::Relaxed))
    }

    pub fn finish_init(&self) {
        if let Flavor::Object { initializing } = &self.flavor {
            initializing.store(false, Ordering::Relaxed);
        }
    }
}

/// Values of these exact types never have traced special methods, so the
/// registry need not be asked (the common numeric case stays fast).
fn plainly_builtin(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<pyo3::types::PyList>()
        || value.is_exact_instance_of::<PyDict>()
}

/// The traced implementation of special method `name` for this proxy's
/// value, if it is an instance of a traced class that defines one.
fn special<'py>(slf: &Bound<'py, Traced>, name: &str) -> Option<Bound<'py, PyAny>> {
    let value = slf.get().value.bind(slf.py());
    if plainly_builtin(value) {
        return None;
    }
    registry::traced_special(value, name)
}

/// Runs special method `function` traced, with the proxy as `self`.
fn dispatch_special(
    slf: &Bound<'_, Traced>,
    function: &Bound<'_, PyAny>,
    name: &str,
    args: &[&Bound<'_, PyAny>],
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let args = PyTuple::new(py, args)?;
    let site = CallSite::dispatch_on(name, slf.get().node_id(py));
    calls::call_traced(py, site, function, Some(slf.as_any()), &args, None)
}

/// Runs an untraced operation on the raw values and records it as one
/// UDispatch node named `name` (with Const nodes for raw operands).
fn untraced_op<'py>(
    slf: &Bound<'py, Traced>,
    name: &'static str,
    args: &[&Bound<'py, PyAny>],
    op: impl FnOnce(&Bound<'py, PyAny>, &[Bound<'py, PyAny>]) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let this = slf.get();
    let raw_self = this.value.bind(py);
    if !recording() {
        let raws: Vec<_> = args.iter().map(|a| flow::raw(a)).collect();
        let result = op(raw_self, &raws)?;
        return wrap(py, result, NO_NODE);
    }
    // Inline storage: operators have one or two operands, no allocation.
    let mut raws: SmallVec<[Bound<'py, PyAny>; 2]> = SmallVec::new();
    let mut inputs: SmallVec<[OpInput<'_, 'py>; 4]> = SmallVec::new();
    inputs.push(OpInput::node(Role::SelfValue, this.node_id(py)));
    for (index, arg) in args.iter().enumerate() {
        let (raw, operand) = prepare(arg);
        raws.push(raw);
        inputs.push(OpInput {
            role: Role::Arg,
            key: InputKey::Index(index as u64),
            operand,
        });
    }
    let result = match op(raw_self, &raws) {
        Ok(result) => result,
        Err(err) => {
            return Err(record_failure(
                py,
                NodeKind::UDispatch,
                Some(name),
                &inputs,
                err,
            ))
        }
    };
    let (result, source) = source_of(result);
    inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
    let summary = Summary::of(&result);
    let node = flow_record(py, NodeKind::UDispatch, Some(name), &inputs, &summary)?;
    wrap(py, result, node)
}

fn flow_record(
    py: Python<'_>,
    kind: NodeKind,
    name: Option<&str>,
    inputs: &[OpInput<'_, '_>],
    summary: &Summary<'_>,
) -> PyResult<NodeRef> {
    recorder::record_op(py, None, kind, name, inputs, summary)
}

/// Records an operation that raised (its value is the exception) and
/// gives the exception back to be raised at the user's operation.
pub(crate) fn record_failure(
    py: Python<'_>,
    kind: NodeKind,
    name: Option<&str>,
    inputs: &[OpInput<'_, '_>],
    err: PyErr,
) -> PyErr {
    let summary = Summary::raised(&err, py);
    // The operation's own error wins over one from `on_node`.
    let _ = flow_record(py, kind, name, inputs, &summary);
    err
}

/// An operation whose answer Python needs as a raw value (`len`, `in`):
/// recorded as a UDispatch, answered raw.
fn raw_answer_op<'py, T>(
    slf: &Bound<'py, Traced>,
    name: &'static str,
    args: &[&Bound<'py, PyAny>],
    op: impl FnOnce(&Bound<'py, PyAny>, &[Bound<'py, PyAny>]) -> PyResult<T>,
    to_py: impl FnOnce(&T, Python<'py>) -> Bound<'py, PyAny>,
) -> PyResult<T> {
    let mut answer = None;
    untraced_op(slf, name, args, |value, raws| {
        let result = op(value, raws)?;
        let shown = to_py(&result, value.py());
        answer = Some(result);
        Ok(shown)
    })?;
    Ok(answer.expect("set when the operation succeeded"))
}

macro_rules! binary_ops {
    ($($name:ident, $rname:ident => $method:ident;)*) => {
        /// The binary slots (plain, reflected), for the test that holds
        /// them to the operator vocabulary.
        #[cfg(test)]
        const BINARY_SLOTS: &[(&str, &str)] = &[$((stringify!($name), stringify!($rname))),*];

        #[pymethods]
        impl Traced {
            $(
                fn $name<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
                    let name = stringify!($name);
                    if let Some(function) = special(slf, name) {
                        return dispatch_special(slf, &function, name, &[other]);
                    }
                    untraced_op(slf, name, &[other], |value, raws| value.$method(&raws[0]))
                }

                fn $rname<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
                    let name = stringify!($rname);
                    if let Some(function) = special(slf, name) {
                        return dispatch_special(slf, &function, name, &[other]);
                    }
                    untraced_op(slf, name, &[other], |value, raws| raws[0].$method(value))
                }
            )*
        }
    };
}

binary_ops! {
    __add__, __radd__ => add;
    __sub__, __rsub__ => sub;
    __mul__, __rmul__ => mul;
    __matmul__, __rmatmul__ => matmul;
    __truediv__, __rtruediv__ => div;
    __floordiv__, __rfloordiv__ => floor_div;
    __mod__, __rmod__ => rem;
    __divmod__, __rdivmod__ => divmod;
    __lshift__, __rlshift__ => lshift;
    __rshift__, __rrshift__ => rshift;
    __and__, __rand__ => bitand;
    __or__, __ror__ => bitor;
    __xor__, __rxor__ => bitxor;
}

macro_rules! unary_ops {
    ($($name:ident => $method:ident;)*) => {
        #[cfg(test)]
        const UNARY_SLOTS: &[&str] = &[$(stringify!($name)),*];

        #[pymethods]
        impl Traced {
            $(
                fn $name<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
                    let name = stringify!($name);
                    if let Some(function) = special(slf, name) {
                        return dispatch_special(slf, &function, name, &[]);
                    }
                    untraced_op(slf, name, &[], |value, _| value.$method())
                }
            )*
        }
    };
}

unary_ops! {
    __neg__ => neg;
    __pos__ => pos;
    __abs__ => abs;
    __invert__ => bitnot;
}

/// The vocabulary's comparison for pyo3's.
fn compare_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
    }
}

#[pymethods]
impl Traced {
    fn __pow__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        modulo: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(function) = special(slf, "__pow__") {
            return dispatch_special(slf, &function, "__pow__", &[other]);
        }
        let py = slf.py();
        match modulo {
            Some(modulo) if !modulo.is_none() => {
                untraced_op(slf, "__pow__", &[other, modulo], |v, raws| {
                    v.pow(&raws[0], &raws[1])
                })
            }
            _ => untraced_op(slf, "__pow__", &[other], |v, raws| {
                v.pow(&raws[0], py.None())
            }),
        }
    }

    fn __rpow__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        _modulo: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(function) = special(slf, "__rpow__") {
            return dispatch_special(slf, &function, "__rpow__", &[other]);
        }
        let py = slf.py();
        untraced_op(slf, "__rpow__", &[other], |v, raws| {
            raws[0].pow(v, py.None())
        })
    }

    fn __richcmp__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let name = compare_op(op).dunder();
        if let Some(function) = special(slf, name) {
            return dispatch_special(slf, &function, name, &[other]);
        }
        untraced_op(slf, name, &[other], |value, raws| {
            value.rich_compare(&raws[0], op)
        })
    }

    #[pyo3(signature = (ndigits = None))]
    fn __round__<'py>(
        slf: &Bound<'py, Self>,
        ndigits: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let builtins = slf.py().import(intern!(slf.py(), "builtins"))?;
        let round = builtins.getattr(intern!(slf.py(), "round"))?;
        match ndigits {
            Some(digits) => untraced_op(slf, "__round__", &[digits], |v, raws| {
                round.call1((v, &raws[0]))
            }),
            None => untraced_op(slf, "__round__", &[], |v, _| round.call1((v,))),
        }
    }

    fn __trunc__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        math_op(slf, "__trunc__", "trunc")
    }

    fn __floor__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        math_op(slf, "__floor__", "floor")
    }

    fn __ceil__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        math_op(slf, "__ceil__", "ceil")
    }

    // Conversions return raw values, as in the seed: Python requires it.
    // With `conversions=True` they are recorded as UDispatch nodes too.
    fn __bool__(slf: &Bound<'_, Self>) -> PyResult<bool> {
        let truth = slf.get().value.bind(slf.py()).is_truthy()?;
        if state::conversions_recorded() {
            record_conversion(slf, "__bool__", PyBool::new(slf.py(), truth).as_any())?;
        }
        Ok(truth)
    }

    fn __int__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        convert(slf, intern!(slf.py(), "builtins"), intern!(slf.py(), "int"))
    }

    fn __float__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        convert(
            slf,
            intern!(slf.py(), "builtins"),
            intern!(slf.py(), "float"),
        )
    }

    fn __index__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        convert(
            slf,
            intern!(slf.py(), "operator"),
            intern!(slf.py(), "index"),
        )
    }

    fn __complex__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        convert(
            slf,
            intern!(slf.py(), "builtins"),
            intern!(slf.py(), "complex"),
        )
    }

    fn __str__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyString>> {
        slf.get().value.bind(slf.py()).str()
    }

    fn __repr__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyString>> {
        slf.get().value.bind(slf.py()).repr()
    }

    fn __format__<'py>(
        slf: &Bound<'py, Self>,
        spec: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.get()
            .value
            .bind(slf.py())
            .call_method1(intern!(slf.py(), "__format__"), (spec,))
    }

    /// `with traced:`: the value's own `__enter__` (traced when its class
    /// is). Looked up on the value's type, as the `with` statement does.
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        context_method(slf, "__enter__", &[], "the context manager protocol")
    }

    fn __exit__<'py>(
        slf: &Bound<'py, Self>,
        exc_type: &Bound<'py, PyAny>,
        exc: &Bound<'py, PyAny>,
        traceback: &Bound<'py, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        context_method(
            slf,
            "__exit__",
            &[exc_type, exc, traceback],
            "the context manager protocol",
        )
    }

    /// `async with traced:`; what it gives is awaited, so it stays raw
    /// (a traced class's `async def __aenter__` gives a traced coroutine).
    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        context_method(
            slf,
            "__aenter__",
            &[],
            "the asynchronous context manager protocol",
        )
    }

    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        exc_type: &Bound<'py, PyAny>,
        exc: &Bound<'py, PyAny>,
        traceback: &Bound<'py, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        context_method(
            slf,
            "__aexit__",
            &[exc_type, exc, traceback],
            "the asynchronous context manager protocol",
        )
    }

    /// The wrapped value's own buffer (bytes, bytearray, memoryview,
    /// array): C code that takes a bytes-like object (`b"".join`, a
    /// file's `write`, `hashlib`, `struct`) reads the real object's memory.
    /// The view's owner is that object, so releasing it goes to that
    /// object's type, not to the proxy. Only proxies of buffers have the
    /// slot (see `proxy_types`); reached otherwise, a value without a buffer
    /// raises the TypeError it raises untraced.
    ///
    /// # Safety
    /// Called by CPython with a valid view to fill, GIL held.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        let value = slf.get().value.bind(slf.py());
        // SAFETY: as above; on failure an exception is set.
        if unsafe { pyo3::ffi::PyObject_GetBuffer(value.as_ptr(), view, flags) } == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        slf.get().value.bind(slf.py()).hash()
    }

    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        if let Some(function) = special(slf, "__len__") {
            let result = dispatch_special(slf, &function, "__len__", &[])?;
            return flow::raw(result.bind(slf.py())).extract();
        }
        // CPython asks for a length as a size hint (tuple(gen), list(gen))
        // and carries on without one: a value without a length is not an
        // operation of the program, so it is not recorded.
        let value = slf.get().value.bind(slf.py());
        if !value.get_type().hasattr(intern!(slf.py(), "__len__"))? {
            return value.len();
        }
        raw_answer_op(
            slf,
            "__len__",
            &[],
            |v, _| v.len(),
            |n, py| n.into_pyobject(py).expect("usize converts").into_any(),
        )
    }

    fn __contains__<'py>(slf: &Bound<'py, Self>, item: &Bound<'py, PyAny>) -> PyResult<bool> {
        if let Some(function) = special(slf, "__contains__") {
            let result = dispatch_special(slf, &function, "__contains__", &[item])?;
            return result.bind(slf.py()).is_truthy();
        }
        raw_answer_op(
            slf,
            "__contains__",
            &[item],
            |v, raws| v.contains(&raws[0]),
            |b, py| PyBool::new(py, *b).to_owned().into_any(),
        )
    }

    /// Every attribute is the wrapped value's (read as a GetAttr), except
    /// `__class__`, the raw value's type, so that `isinstance(proxy, int)`
    /// and `super()` answer for the wrapped value, and the proxy's own
    /// `__reduce__`/`__reduce_ex__`. (Defining
    /// `__getattribute__`, not `__getattr__`, spares each read a failed
    /// lookup on the proxy and the AttributeError it would build.)
    fn __getattribute__<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let value = this.value.bind(py);
        let text = name.to_str()?;
        if text.starts_with("__") {
            match text {
                "__class__" => return Ok(value.get_type().into_any().unbind()),
                // Pickling and copying use the proxy's own `__reduce__`.
                "__reduce__" | "__reduce_ex__" => {
                    // SAFETY: live objects, GIL held; null comes with an error set.
                    return unsafe {
                        Bound::from_owned_ptr_or_err(
                            py,
                            pyo3::ffi::PyObject_GenericGetAttr(slf.as_ptr(), name.as_ptr()),
                        )
                    }
                    .map(Bound::unbind);
                }
                _ => {}
            }
        }
        let attribute = value.getattr(name)?;
        if !recording() {
            return wrap(py, attribute, NO_NODE);
        }
        // A method of a traced class, bound to this object: calling it must
        // run the body with this proxy as `self`.
        let method = bound_traced_method(value, &attribute);
        let (attribute, source) = source_of(attribute);
        // A method is bound afresh on each read: no write put it there.
        let source = match method {
            Some(_) => source,
            None => source.or_else(|| links::source(value, Slot::Attr(name), &attribute)),
        };
        let mut inputs: SmallVec<[OpInput<'_, 'py>; 2]> =
            smallvec![OpInput::node(Role::Object, this.node_id(py))];
        inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
        let summary = Summary::of(&attribute);
        let node = flow_record(py, NodeKind::GetAttr, Some(text), &inputs, &summary)?;
        match method {
            Some(function) => {
                let flavor = Flavor::Method {
                    function: function.unbind(),
                    receiver: slf.clone().into_any().unbind(),
                    receiver_node: this.node_ref(),
                    name: name.clone().unbind(),
                };
                Ok(
                    new_proxy(py, Traced::new(attribute.unbind(), node, flavor))?
                        .into_any()
                        .unbind(),
                )
            }
            None => wrap(py, attribute, node),
        }
    }

    fn __setattr__<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyString>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if !(this.initializing() || state::mutation_allowed()) {
            return Err(immutable_error(
                slf,
                &format!("set attribute '{}' of", name.to_str()?),
            ));
        }
        let target = this.value.bind(py);
        if !recording() {
            return target.setattr(name, flow::storable(value)?);
        }
        let (raw, operand) = flow::prepare_keeping(value);
        flow::unwrap_in_place(&raw)?;
        let inputs = [
            OpInput::node(Role::Object, this.node_id(py)),
            OpInput {
                role: Role::Value,
                key: InputKey::None,
                operand,
            },
        ];
        let summary = Summary::of(&raw);
        let node = flow_record(
            py,
            NodeKind::SetAttr,
            Some(name.to_str()?),
            &inputs,
            &summary,
        )?;
        // The object holds the raw value; the side table links a later
        // read of the attribute back to this write.
        target.setattr(name, &raw)?;
        links::wrote(target, Slot::Attr(name), node, &raw)
    }

    fn __delattr__<'py>(slf: &Bound<'py, Self>, name: &Bound<'py, PyString>) -> PyResult<()> {
        let this = slf.get();
        if !(this.initializing() || state::mutation_allowed()) {
            return Err(immutable_error(
                slf,
                &format!("delete attribute '{}' of", name.to_str()?),
            ));
        }
        let target = this.value.bind(slf.py());
        target.delattr(name)?;
        links::forget(target, Slot::Attr(name));
        Ok(())
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Some(function) = special(slf, "__getitem__") {
            return dispatch_special(slf, &function, "__getitem__", &[key]);
        }
        let py = slf.py();
        let this = slf.get();
        let container = this.value.bind(py);
        if !recording() {
            return wrap(py, container.get_item(flow::raw(key))?, NO_NODE);
        }
        let (raw_key, key_operand) = prepare(key);
        let outcome = container.get_item(&raw_key);
        let mut inputs = vec![
            OpInput::node(Role::Op1, this.node_id(py)),
            OpInput {
                role: Role::Op2,
                key: InputKey::None,
                operand: key_operand,
            },
        ];
        let item = match outcome {
            Ok(item) => item,
            Err(err) => return Err(record_failure(py, NodeKind::GetItem, None, &inputs, err)),
        };
        let (item, source) = source_of(item);
        let source = source.or_else(|| links::source(container, Slot::Item(&raw_key), &item));
        inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
        let summary = Summary::of(&item);
        let node = flow_record(py, NodeKind::GetItem, None, &inputs, &summary)?;
        wrap(py, item, node)
    }

    fn __setitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        if let Some(function) = special(slf, "__setitem__") {
            return dispatch_special(slf, &function, "__setitem__", &[key, value]).map(drop);
        }
        let py = slf.py();
        let this = slf.get();
        let container = this.value.bind(py);
        if !(state::mutation_allowed() || owned_by_an_object_being_built(container)) {
            return Err(immutable_error(slf, "assign an item of"));
        }
        if !recording() {
            return container.set_item(flow::raw(key), flow::storable(value)?);
        }
        let (raw_key, key_operand) = prepare(key);
        let (raw_value, value_operand) = flow::prepare_keeping(value);
        flow::unwrap_in_place(&raw_value)?;
        let inputs = [
            OpInput::node(Role::Op1, this.node_id(py)),
            OpInput {
                role: Role::Op2,
                key: InputKey::None,
                operand: key_operand,
            },
            OpInput {
                role: Role::Value,
                key: InputKey::None,
                operand: value_operand,
            },
        ];
        let summary = Summary::of(&raw_value);
        let node = flow_record(py, NodeKind::SetItem, None, &inputs, &summary)?;
        container.set_item(&raw_key, &raw_value)?;
        links::wrote(container, Slot::Item(&raw_key), node, &raw_value)
    }

    fn __delitem__<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Some(function) = special(slf, "__delitem__") {
            return dispatch_special(slf, &function, "__delitem__", &[key]).map(drop);
        }
        let py = slf.py();
        let this = slf.get();
        let container = this.value.bind(py);
        if !(state::mutation_allowed() || owned_by_an_object_being_built(container)) {
            return Err(immutable_error(slf, "delete an item of"));
        }
        if !recording() {
            return container.del_item(flow::raw(key));
        }
        let (raw_key, key_operand) = prepare(key);
        container.del_item(&raw_key)?;
        links::forget(container, Slot::Item(&raw_key));
        let inputs = [
            OpInput::node(Role::Op1, this.node_id(py)),
            OpInput {
                role: Role::Op2,
                key: InputKey::None,
                operand: key_operand,
            },
        ];
        flow_record(py, NodeKind::DelItem, None, &inputs, &Summary::absent())?;
        Ok(())
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Py<PyAny>> {
        if let Some(function) = special(slf, "__iter__") {
            return dispatch_special(slf, &function, "__iter__", &[]);
        }
        let py = slf.py();
        let this = slf.get();
        let value = this.value.bind(py);
        let iterator = value.try_iter()?.into_any();
        // An iterator (or generator) is its own iterator: keep counting on it.
        if iterator.is(value) {
            return Ok(slf.clone().into_any().unbind());
        }
        if !recording() {
            return wrap(py, iterator, NO_NODE);
        }
        let inputs = [OpInput::node(Role::Iterable, this.node_id(py))];
        let summary = Summary::of(&iterator);
        let node = flow_record(py, NodeKind::Iterator, None, &inputs, &summary)?;
        wrap(py, iterator, node)
    }

    fn __next__<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Py<PyAny>>> {
        if let Some(function) = special(slf, "__next__") {
            return dispatch_special(slf, &function, "__next__", &[]).map(Some);
        }
        let py = slf.py();
        let this = slf.get();
        let iterator = this.value.bind(py);
        // Only proxies of iterators have `tp_iternext` (see `proxy_types`),
        // but the method is still reachable on others (`Traced.__next__(p)`;
        // pyo3's type, with every slot, when proxy memory is not installed):
        // answer as `next()` does for a non-iterator, never call a
        // `tp_iternext` the value's type does not have.
        // SAFETY: GIL held, live object.
        if unsafe { pyo3::ffi::PyIter_Check(iterator.as_ptr()) } == 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "'{}' object is not an iterator",
                iterator.get_type().name()?
            )));
        }
        let generator = matches!(this.flavor, Flavor::Generator);
        let count = this.count.fetch_add(1, Ordering::Relaxed);
        let (kind, role) = if generator {
            (NodeKind::Generation, Role::Generator)
        } else {
            (NodeKind::Iteration, Role::Iterator)
        };
        // A generator's body runs during `next`: its nodes belong to this
        // Generation, whose id is taken before the body runs.
        let reserved = if generator && recording() {
            recorder::reserve_id(py)
        } else {
            None
        };
        let step = |it: &Bound<'py, PyAny>| -> PyResult<Option<Bound<'py, PyAny>>> {
            // SAFETY: PyIter_Next on a live object with the GIL held; a null
            // result without an error set means the iterator is exhausted.
            let item = unsafe { pyo3::ffi::PyIter_Next(it.as_ptr()) };
            if item.is_null() {
                return match PyErr::take(py) {
                    Some(err) => Err(err),
                    None => Ok(None),
                };
            }
            Ok(Some(unsafe { Bound::from_owned_ptr(py, item) }))
        };
        let item = match reserved {
            Some(id) => state::in_frame(id & state::ID_MASK, || step(iterator))?,
            None => step(iterator)?,
        };
        let Some(item) = item else {
            return Ok(None);
        };
        if !recording() {
            return wrap(py, item, NO_NODE).map(Some);
        }
        let (item, source) = source_of(item);
        let mut inputs = vec![OpInput {
            role,
            key: InputKey::Index(count),
            operand: Operand::Node(this.node_id(py)),
        }];
        inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
        let summary = Summary::of(&item);
        let node = recorder::record_op(py, reserved, kind, None, &inputs, &summary)?;
        wrap(py, item, node).map(Some)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        if let Flavor::Method {
            function,
            receiver,
            receiver_node,
            name,
        } = &this.flavor
        {
            if let Ok(receiver) = receiver.bind(py).cast::<Traced>() {
                receiver.get().set_node(*receiver_node);
            }
            let site = CallSite::dispatch_via(name.bind(py).to_str()?, this.node_id(py));
            return calls::call_traced(
                py,
                site,
                function.bind(py),
                Some(receiver.bind(py)),
                args,
                kwargs,
            );
        }
        let callable = this.value.bind(py);
        // A traced function or class kept inside a container and called.
        if callable.is_instance_of::<calls::TracedFunction>()
            || callable.is_instance_of::<calls::TracedClass>()
        {
            return Ok(callable.call(args, kwargs)?.unbind());
        }
        if let Some(function) = special(slf, "__call__") {
            let all: Vec<Bound<'py, PyAny>> = args.iter().collect();
            let refs: Vec<&Bound<'py, PyAny>> = all.iter().collect();
            return dispatch_special(slf, &function, "__call__", &refs);
        }
        let head = (Role::Callable, this.node_id(py));
        calls::call_untraced(
            py,
            callable,
            Some(OpInput::node(head.0, head.1)),
            args,
            kwargs,
        )
    }

    /// Pickled (e.g. sent to another process) as its raw value: a trace
    /// belongs to the process that recorded it.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let identity = py
            .import(intern!(py, "hltpy._hltpy"))?
            .getattr(intern!(py, "_raw"))?;
        let raw = flow::raw(slf.as_any());
        PyTuple::new(py, [identity, PyTuple::new(py, [raw])?.into_any()])
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.value)?;
        if let Flavor::Method {
            function, receiver, ..
        } = &self.flavor
        {
            visit.call(function)?;
            visit.call(receiver)?;
        }
        Ok(())
    }
}

/// A context manager's method `name`: the traced class's, or the value's
/// type's run as an untraced method; a type without it does not support
/// `protocol`, as Python says for the untraced value.
fn context_method<'py>(
    slf: &Bound<'py, Traced>,
    name: &'static str,
    args: &[&Bound<'py, PyAny>],
    protocol: &str,
) -> PyResult<Py<PyAny>> {
    if let Some(function) = special(slf, name) {
        return dispatch_special(slf, &function, name, args);
    }
    let py = slf.py();
    let kind = slf.get().value.bind(py).get_type();
    let Ok(method) = kind.getattr(name) else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "'{}' object does not support {protocol}",
            kind.name()?
        )));
    };
    untraced_op(slf, name, args, |value, raws| {
        let mut all = vec![value.clone()];
        all.extend(raws.iter().cloned());
        method.call1(PyTuple::new(py, all)?)
    })
}

/// A conversion: `module.function(value)` on the raw value, answered raw.
fn convert<'py>(
    slf: &Bound<'py, Traced>,
    module: &Bound<'py, PyString>,
    function: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let result = py
        .import(module)?
        .getattr(function)?
        .call1((slf.get().value.bind(py),))?;
    if state::conversions_recorded() {
        let name = match function.to_str()? {
            "int" => "__int__",
            "float" => "__float__",
            "index" => "__index__",
            _ => "__complex__",
        };
        record_conversion(slf, name, &result)?;
    }
    Ok(result)
}

/// `os.fspath(proxy)` of a proxy of a path: the raw path, answered raw as
/// conversions are (see [`proxy_types`](crate::proxy_types)).
pub fn fspath<'py>(slf: &Bound<'py, Traced>) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let value = slf.get().value.bind(py);
    // SAFETY: GIL held; PyOS_FSPath returns a new reference or NULL with
    // an exception set.
    let path = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyOS_FSPath(value.as_ptr())) }?;
    if state::conversions_recorded() {
        record_conversion(slf, "__fspath__", &path)?;
    }
    Ok(path)
}

fn record_conversion(
    slf: &Bound<'_, Traced>,
    name: &str,
    result: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = slf.py();
    let inputs = [OpInput::node(Role::SelfValue, slf.get().node_id(py))];
    flow_record(
        py,
        NodeKind::UDispatch,
        Some(name),
        &inputs,
        &Summary::of(result),
    )
    .map(drop)
}

fn math_op(slf: &Bound<'_, Traced>, name: &'static str, function: &str) -> PyResult<Py<PyAny>> {
    let math = slf.py().import(intern!(slf.py(), "math"))?;
    let function = math.getattr(function)?;
    untraced_op(slf, name, &[], |v, _| function.call1((v,)))
}

/// If `attribute` is `value`'s own method from a traced class, its function.
fn bound_traced_method<'py>(
    value: &Bound<'py, PyAny>,
    attribute: &Bound<'py, PyAny>,
) -> Option<Bound<'py, PyAny>> {
    let (function, receiver) = crate::values::method_parts(attribute)?;
    if !receiver.is(value) {
        return None;
    }
    registry::traced_body(&function)
}

thread_local! {
    /// Addresses of the objects whose traced class's `__init__` runs on
    /// this thread, innermost last (each held by that call).
    static BUILDING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `init` (a traced class's `__init__` of `object`) with `object`
/// counted as being built: code running inside it, helper methods
/// included, may change the containers the object holds.
pub fn building<R>(object: &Bound<'_, PyAny>, init: impl FnOnce() -> R) -> R {
    BUILDING.with(|b| b.borrow_mut().push(object.as_ptr() as usize));
    let result = init();
    BUILDING.with(|b| b.borrow_mut().pop());
    result
}

/// Is `container` held by an object being built on this thread: one of
/// its attributes, or an item of a list, tuple or dict attribute (a table
/// `self.rows[i][j] = v` fills)?
fn owned_by_an_object_being_built(container: &Bound<'_, PyAny>) -> bool {
    let building = BUILDING.with(|b| b.borrow().clone());
    let py = container.py();
    building.iter().rev().any(|&address| {
        // SAFETY: the object's `__init__` call holds it while it is listed.
        let object = unsafe { Bound::from_borrowed_ptr(py, address as *mut pyo3::ffi::PyObject) };
        let Ok(attributes) = object.getattr(intern!(py, "__dict__")) else {
            return false;
        };
        let Ok(attributes) = attributes.cast_into::<PyDict>() else {
            return false;
        };
        attributes.values().iter().any(|value| {
            value.is(container)
                || (value.is_exact_instance_of::<pyo3::types::PyList>()
                    || value.is_exact_instance_of::<PyTuple>())
                    && value
                        .try_iter()
                        .is_ok_and(|mut items| items.any(|i| i.is_ok_and(|i| i.is(container))))
                || value
                    .cast::<PyDict>()
                    .is_ok_and(|d| d.values().iter().any(|i| i.is(container)))
        })
    })
}

fn immutable_error(slf: &Bound<'_, Traced>, action: &str) -> PyErr {
    let class = crate::summary::type_name(&slf.get().value.bind(slf.py()).get_type());
    PyAttributeError::new_err(format!(
        "hltpy: cannot {action} a traced {class} object outside its __init__: \
         traced objects are immutable by default; pass allow_mutation=True to hltpy.capture to trace mutation"
    ))
}

/// The traced value with the given node (used by `hltpy.trace`).
pub fn new_traced(py: Python<'_>, value: Bound<'_, PyAny>, node: NodeRef) -> PyResult<Py<PyAny>> {
    Ok(proxy_of(py, value, node, Flavor::Plain)?
        .into_any()
        .unbind())
}

#[cfg(test)]
mod tests {
    use hltpy_schema::{BinOp, Form, Operator, UnOp};

    use super::{compare_op, BINARY_SLOTS, UNARY_SLOTS};

    /// Every operator slot of the proxy records a name of the one
    /// vocabulary, in the form it is: what the passes match on.
    #[test]
    fn the_proxys_operator_slots_are_the_vocabularys() {
        let mut binary = Vec::new();
        for (plain, reflected) in BINARY_SLOTS {
            let Some(Operator::Binary(op, Form::Plain)) = Operator::parse(plain) else {
                panic!("{plain} is not a plain binary operator");
            };
            assert_eq!(
                Operator::parse(reflected),
                Some(Operator::Binary(op, Form::Reflected)),
                "{reflected}"
            );
            binary.push(op);
        }
        // `__pow__`/`__rpow__` have slots of their own (the modulo).
        binary.push(BinOp::Pow);
        binary.sort();
        let mut all = BinOp::ALL.to_vec();
        all.sort();
        assert_eq!(binary, all);
        let mut unary: Vec<UnOp> = UNARY_SLOTS
            .iter()
            .map(|name| match Operator::parse(name) {
                Some(Operator::Unary(op)) => op,
                other => panic!("{name}: {other:?}"),
            })
            .collect();
        unary.sort();
        assert_eq!(unary, UnOp::ALL.to_vec());
        for op in [
            pyo3::basic::CompareOp::Lt,
            pyo3::basic::CompareOp::Le,
            pyo3::basic::CompareOp::Eq,
            pyo3::basic::CompareOp::Ne,
            pyo3::basic::CompareOp::Gt,
            pyo3::basic::CompareOp::Ge,
        ] {
            let dunder = compare_op(op).dunder();
            assert_eq!(dunder, format!("__{}__", format!("{op:?}").to_lowercase()));
        }
    }
}
