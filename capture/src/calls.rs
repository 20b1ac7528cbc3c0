//! Calls: traced functions and classes of traced modules (argument binding,
//! Argument nodes, Call/Dispatch/NewInit/Generator nodes, the frame of the
//! body), and calls of untraced callables (UCall/UDispatch with raw
//! arguments).
//!
//! `calls` and `proxy` use each other, on purpose: a call hands its result
//! back wrapped in a proxy, and a proxy's slot (`x.method(…)`, `x + y` on
//! a traced class) makes a call of traced code. Everything else they use
//! lies below both (`flow`, `values`, and under them `recorder`, `state`,
//! `summary`, `locations`, `writer_thread`, which use nothing above).

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hltpy_schema::{InputKey, NodeKind, Role};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use pyo3::{intern, PyTraverseError};
use smallvec::{smallvec, SmallVec};

use crate::flow::{self, prepare, source_of, wrap};
use crate::proxy::{Flavor, Traced};
use crate::recorder::{self, record, Node};
use crate::registry;
use crate::state::{self, current_id, recording, NodeRef, ID_MASK, NO_NODE};
use crate::summary::{OpInput, Operand, Summary};

// CPython's code flags.
const CO_VARARGS: u32 = 0x04;
const CO_VARKEYWORDS: u32 = 0x08;
const CO_GENERATOR: u32 = 0x20;
const CO_COROUTINE: u32 = 0x80;
/// A generator made awaitable by `types.coroutine`.
const CO_ITERABLE_COROUTINE: u32 = 0x100;
const CO_ASYNC_GENERATOR: u32 = 0x200;

/// What calling a function gives: its result, or an object that runs
/// the body later.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    Plain,
    Generator,
    Coroutine,
    AsyncGenerator,
}

impl Body {
    fn of_flags(flags: u32) -> Body {
        if flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE) != 0 {
            Body::Coroutine
        } else if flags & CO_ASYNC_GENERATOR != 0 {
            Body::AsyncGenerator
        } else if flags & CO_GENERATOR != 0 {
            Body::Generator
        } else {
            Body::Plain
        }
    }

    /// The kind of the call's node, `kind` for a plain body.
    fn call_kind(self, kind: NodeKind) -> NodeKind {
        match self {
            Body::Plain => kind,
            Body::Generator | Body::AsyncGenerator => NodeKind::Generator,
            Body::Coroutine => NodeKind::Coroutine,
        }
    }
}

/// What kind of traced call this is, and the inputs that come before the
/// arguments (the callable, the receiver, the class and new object).
pub struct CallSite<'a> {
    kind: NodeKind,
    name: &'a str,
    head: SmallVec<[(Role, u64); 2]>,
    /// The id, when it was taken before the call (a NewInit takes it
    /// before its Obj node).
    reserved: Option<NodeRef>,
    /// The value to record instead of the result (a NewInit records the
    /// new object, not `__init__`'s None).
    value: Option<Py<PyAny>>,
}

impl<'a> CallSite<'a> {
    /// `f(...)` of a traced function whose Function node is `callable`.
    pub fn call(name: &'a str, callable: u64) -> Self {
        CallSite {
            kind: NodeKind::Call,
            name,
            head: smallvec![(Role::Callable, callable)],
            reserved: None,
            value: None,
        }
    }

    /// `x.f(...)`: the callable is the GetAttr node of `x.f`.
    pub fn dispatch_via(name: &'a str, getattr: u64) -> Self {
        CallSite {
            kind: NodeKind::Dispatch,
            name,
            head: smallvec![(Role::Callable, getattr)],
            reserved: None,
            value: None,
        }
    }

    /// An operator (`x + y`) implemented by a traced class: `self` is `x`.
    pub fn dispatch_on(name: &'a str, receiver: u64) -> Self {
        CallSite {
            kind: NodeKind::Dispatch,
            name,
            head: smallvec![(Role::SelfValue, receiver)],
            reserved: None,
            value: None,
        }
    }
}

/// A function's parameters, read once from its code object.
struct Signature {
    positional: Vec<String>,
    positional_only: usize,
    keyword_only: Vec<String>,
    varargs: Option<String>,
    varkw: Option<String>,
    body: Body,
    /// `module.qualname` of the function (`shapes.Base.area`): the key of
    /// a Dispatch's callable or self input, saying which class defined
    /// the method that ran.
    qualname: String,
}

/// Code object address → (code, signature); the code is kept alive so the
/// address cannot be reused while cached.
type SignatureCache = FxHashMap<usize, (Py<PyAny>, Arc<Signature>)>;
static SIGNATURES: Mutex<Option<SignatureCache>> = Mutex::new(None);

fn signature_of(function: &Bound<'_, PyAny>) -> PyResult<Arc<Signature>> {
    let py = function.py();
    let code = if function.is_instance_of::<pyo3::types::PyFunction>() {
        // SAFETY: a live function object, GIL held; the result is a
        // borrowed reference to its code, taken as a new one here.
        unsafe { Bound::from_borrowed_ptr(py, pyo3::ffi::PyFunction_GetCode(function.as_ptr())) }
    } else {
        function.getattr(intern!(py, "__code__"))?
    };
    let key = code.as_ptr() as usize;
    let mut cache = SIGNATURES.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(FxHashMap::default);
    if let Some((_, signature)) = cache.get(&key) {
        return Ok(signature.clone());
    }
    let count = |attr: &str| -> PyResult<usize> { code.getattr(attr)?.extract() };
    let argcount = count("co_argcount")?;
    let kwonly = count("co_kwonlyargcount")?;
    let flags: u32 = code.getattr("co_flags")?.extract()?;
    let names: Vec<String> = code.getattr("co_varnames")?.extract()?;
    let mut next = argcount + kwonly;
    let mut take_if = |flag: u32| {
        (flags & flag != 0).then(|| {
            next += 1;
            names.get(next - 1).cloned().unwrap_or_default()
        })
    };
    let varargs = take_if(CO_VARARGS);
    let varkw = take_if(CO_VARKEYWORDS);
    let signature = Arc::new(Signature {
        positional: names[..argcount].to_vec(),
        positional_only: count("co_posonlyargcount")?,
        keyword_only: names[argcount..argcount + kwonly].to_vec(),
        varargs,
        varkw,
        body: Body::of_flags(flags),
        qualname: format!(
            "{}.{}",
            function
                .getattr(intern!(py, "__module__"))
                .and_then(|m| m.extract::<String>())
                .unwrap_or_else(|_| "?".into()),
            code.getattr("co_qualname")?.extract::<String>()?
        ),
    });
    cache.insert(key, (code.unbind(), signature.clone()));
    Ok(signature)
}

/// Where a bound argument goes when the body is called.
enum Slot<'s> {
    Positional,
    Keyword(Cow<'s, str>),
}

/// How the caller named an argument: by position or by a name.
#[derive(Clone)]
enum CallKey<'s> {
    Index(u64),
    Name(Cow<'s, str>),
}

impl CallKey<'_> {
    fn input_key(&self) -> InputKey<'_> {
        match self {
            CallKey::Index(index) => InputKey::Index(*index),
            CallKey::Name(name) => InputKey::Name(name),
        }
    }
}

/// One parameter bound to the value the caller gave (or its default).
/// Names borrow from the cached signature: binding allocates little.
struct BoundArg<'s, 'py> {
    /// Name of the Argument node: the parameter, or `args[2]`, `kwargs[k]`.
    parameter: Cow<'s, str>,
    value: Bound<'py, PyAny>,
    /// How the caller passed it: Arg (by position), Kwarg or Default.
    role: Role,
    key: CallKey<'s>,
    slot: Slot<'s>,
}

type Given<'s, 'py> = Option<(Bound<'py, PyAny>, Role, CallKey<'s>)>;

/// The arguments of one call, in binding order (inline: calls have few).
type BoundArgs<'s, 'py> = SmallVec<[BoundArg<'s, 'py>; 4]>;

/// Binds call arguments to `signature` like Python does; `None` when they
/// do not fit (the caller then lets Python raise its own TypeError).
fn bind<'s, 'py>(
    signature: &'s Signature,
    function: &Bound<'py, PyAny>,
    skip: usize,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> Option<BoundArgs<'s, 'py>> {
    let params = signature.positional.get(skip..)?;
    // The common call gives each positional parameter by position and
    // nothing else: bound here, with the general binding kept out of line
    // (a traced call's code was too large for the instruction cache).
    if kwargs.is_none() && args.len() == params.len() && signature.keyword_only.is_empty() {
        return Some(
            params
                .iter()
                .zip(args.iter())
                .enumerate()
                .map(|(index, (param, value))| BoundArg {
                    parameter: Cow::Borrowed(param),
                    value,
                    role: Role::Arg,
                    key: CallKey::Index(index as u64),
                    slot: Slot::Positional,
                })
                .collect(),
        );
    }
    bind_general(signature, params, function, skip, args, kwargs)
}

/// [`bind`] for every other call: keywords, defaults, `*args`, `**kwargs`.
#[cold]
#[inline(never)]
fn bind_general<'s, 'py>(
    signature: &'s Signature,
    params: &'s [String],
    function: &Bound<'py, PyAny>,
    skip: usize,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> Option<BoundArgs<'s, 'py>> {
    let py = function.py();
    let positional_only = signature.positional_only.saturating_sub(skip);
    let mut positional: SmallVec<[Given<'s, 'py>; 4]> = smallvec![None; params.len()];
    let mut extra_positional = Vec::new();
    for (index, value) in args.iter().enumerate() {
        if index < params.len() {
            positional[index] = Some((value, Role::Arg, CallKey::Index(index as u64)));
        } else if signature.varargs.is_some() {
            extra_positional.push((index, value));
        } else {
            return None;
        }
    }
    let mut keyword_only: Vec<Given<'s, 'py>> = vec![None; signature.keyword_only.len()];
    let mut extra_keywords = Vec::new();
    if let Some(kwargs) = kwargs {
        for (key, value) in kwargs.iter() {
            let key: String = key.extract().ok()?;
            if let Some(index) = params.iter().position(|p| *p == key) {
                if index < positional_only || positional[index].is_some() {
                    return None;
                }
                let name = Cow::Borrowed(params[index].as_str());
                positional[index] = Some((value, Role::Kwarg, CallKey::Name(name)));
            } else if let Some(index) = signature.keyword_only.iter().position(|p| *p == key) {
                let name = Cow::Borrowed(signature.keyword_only[index].as_str());
                keyword_only[index] = Some((value, Role::Kwarg, CallKey::Name(name)));
            } else if signature.varkw.is_some() {
                extra_keywords.push((key, value));
            } else {
                return None;
            }
        }
    }
    // Defaults are read only when a parameter was left out.
    let mut defaults: Option<Vec<Bound<'py, PyAny>>> = None;
    let mut bound =
        BoundArgs::with_capacity(params.len() + extra_positional.len() + keyword_only.len());
    for (index, (param, given)) in params.iter().zip(positional).enumerate() {
        let (value, role, key) = match given {
            Some(given) => given,
            None => {
                let defaults = defaults.get_or_insert_with(|| {
                    function
                        .getattr(intern!(py, "__defaults__"))
                        .ok()
                        .and_then(|d| d.extract().ok())
                        .unwrap_or_default()
                });
                let first_default = signature.positional.len().saturating_sub(defaults.len());
                let default = (index + skip)
                    .checked_sub(first_default)
                    .and_then(|i| defaults.get(i))?;
                (
                    default.clone(),
                    Role::Default,
                    CallKey::Name(Cow::Borrowed(param.as_str())),
                )
            }
        };
        bound.push(BoundArg {
            parameter: Cow::Borrowed(param),
            value,
            role,
            key,
            slot: Slot::Positional,
        });
    }
    let varargs = signature.varargs.as_deref().unwrap_or("args");
    for (offset, (index, value)) in extra_positional.into_iter().enumerate() {
        bound.push(BoundArg {
            parameter: Cow::Owned(format!("{varargs}[{offset}]")),
            value,
            role: Role::Arg,
            key: CallKey::Index(index as u64),
            slot: Slot::Positional,
        });
    }
    let mut kwdefaults: Option<Option<Bound<'py, PyDict>>> = None;
    for (param, given) in signature.keyword_only.iter().zip(keyword_only) {
        let (value, role, key) = match given {
            Some(given) => given,
            None => {
                let kwdefaults = kwdefaults.get_or_insert_with(|| {
                    function
                        .getattr(intern!(py, "__kwdefaults__"))
                        .ok()
                        .and_then(|d| d.cast_into::<PyDict>().ok())
                });
                let default = kwdefaults.as_ref()?.get_item(param).ok()??;
                (
                    default,
                    Role::Default,
                    CallKey::Name(Cow::Borrowed(param.as_str())),
                )
            }
        };
        bound.push(BoundArg {
            parameter: Cow::Borrowed(param),
            value,
            role,
            key,
            slot: Slot::Keyword(Cow::Borrowed(param)),
        });
    }
    let varkw = signature.varkw.as_deref().unwrap_or("kwargs");
    for (key, value) in extra_keywords {
        bound.push(BoundArg {
            parameter: Cow::Owned(format!("{varkw}[{key}]")),
            value,
            role: Role::Kwarg,
            key: CallKey::Name(Cow::Owned(key.clone())),
            slot: Slot::Keyword(Cow::Owned(key)),
        });
    }
    Some(bound)
}

/// Calls `function` (a traced function's body) with traced arguments and
/// records the call; returns the result as the program should see it.
pub fn call_traced(
    py: Python<'_>,
    site: CallSite<'_>,
    function: &Bound<'_, PyAny>,
    receiver: Option<&Bound<'_, PyAny>>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    if !recording() {
        return call_through(function, receiver, args, kwargs).map(Bound::unbind);
    }
    // The methods of a class deriving from a builtin type (`class
    // Stack(list)`) call the builtin's methods on `self` (`super().append`,
    // `list.append(self, x)`), which refuse a proxy: they run on the raw
    // object and raw arguments, as one UDispatch on the traced receiver.
    if let Some(receiver) = receiver.and_then(|r| r.cast::<Traced>().ok()) {
        let raw = receiver.get().value.bind(py);
        if registry::derives_from_builtin(&raw.get_type()) {
            let node = receiver.get().node_id(py);
            let bound = bind_method(function, raw)?;
            return call_untraced(
                py,
                &bound,
                Some(OpInput::node(Role::SelfValue, node)),
                args,
                kwargs,
            );
        }
    }
    let (result, node, body) = invoke(py, site, function, receiver, args, kwargs)?;
    if body != Body::Plain {
        // The object that runs the body later: never a plain proxy, which
        // C code (asyncio's tasks) would step as what it wraps.
        let made = match result {
            Returned::Raw(made) => made,
            Returned::Proxy(proxy) => proxy.get().value.bind(py).clone(),
        };
        return match body {
            _ if node == NO_NODE && body != Body::Generator => Ok(made.unbind()),
            Body::Coroutine => crate::coroutines::traced_coroutine(py, made, node),
            Body::AsyncGenerator => Ok(Bound::new(
                py,
                crate::coroutines::TracedAsyncGenerator::new(made, node),
            )?
            .into_any()
            .unbind()),
            _ => Ok(crate::proxy::proxy_of(py, made, node, Flavor::Generator)?
                .into_any()
                .unbind()),
        };
    }
    let result = match result {
        Returned::Raw(result) => result,
        Returned::Proxy(proxy) => match Traced::reused_for(proxy, node) {
            Ok(reused) => return Ok(reused),
            Err(proxy) => proxy.get().value.bind(py).clone(),
        },
    };
    wrap(py, result, node)
}

/// What a traced body returned: a raw value, or a proxy (its value is the
/// result) that the call's own result may reuse.
enum Returned<'py> {
    Raw(Bound<'py, PyAny>),
    Proxy(Bound<'py, Traced>),
}

fn call_through<'py>(
    function: &Bound<'py, PyAny>,
    receiver: Option<&Bound<'py, PyAny>>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    match receiver {
        None => function.call(args, kwargs),
        Some(receiver) => {
            let mut all = vec![receiver.clone()];
            all.extend(args.iter());
            function.call(PyTuple::new(function.py(), all)?, kwargs)
        }
    }
}

/// Binds, records the Argument nodes, runs the body in the call's frame,
/// and records the call node. Also says what calling the function gives
/// (a generator, a coroutine, …), so callers need not look its signature
/// up again.
fn invoke<'py>(
    py: Python<'py>,
    site: CallSite<'_>,
    function: &Bound<'py, PyAny>,
    receiver: Option<&Bound<'py, PyAny>>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Returned<'py>, NodeRef, Body)> {
    let signature = signature_of(function)?;
    let kind = signature.body.call_kind(site.kind);
    let Some(bound) = bind(
        &signature,
        function,
        usize::from(receiver.is_some()),
        args,
        kwargs,
    ) else {
        // Arguments that do not fit: Python raises the usual TypeError
        // before the body runs.
        let result = call_through(function, receiver, args, kwargs)?;
        return Ok((Returned::Raw(result), NO_NODE, signature.body));
    };
    let Some(call_ref) = site.reserved.or_else(|| recorder::reserve_id(py)) else {
        let result = call_through(function, receiver, args, kwargs)?;
        return Ok((Returned::Raw(result), NO_NODE, signature.body));
    };
    let call_id = call_ref & ID_MASK;
    // Inline storage: a call has a few arguments, and allocating (and
    // growing) these small vectors was several mallocs per call.
    let mut positional: SmallVec<[Bound<'py, PyAny>; 4]> = receiver.into_iter().cloned().collect();
    let mut keywords: Option<Bound<'py, PyDict>> = None;
    let mut argument_ids: SmallVec<[u64; 4]> = SmallVec::with_capacity(bound.len());
    for arg in &bound {
        let (raw, operand) = flow::prepare_keeping(&arg.value);
        let summary = Summary::of(&raw);
        let inputs = [OpInput {
            role: Role::Value,
            key: InputKey::None,
            operand,
        }];
        let node = recorder::record_op(
            py,
            None,
            NodeKind::Argument,
            Some(&arg.parameter),
            &inputs,
            &summary,
        )?;
        argument_ids.push(node & ID_MASK);
        let traced = if arg.role == Role::Default && is_sentinel(&raw) {
            raw
        } else {
            wrap(py, raw, node)?.into_bound(py)
        };
        match &arg.slot {
            Slot::Positional => positional.push(traced),
            Slot::Keyword(name) => keywords
                .get_or_insert_with(|| PyDict::new(py))
                .set_item(name.as_ref(), traced)?,
        }
    }
    let outcome = state::in_frame(call_id, || match &keywords {
        None => call_positional(function, &positional),
        Some(keywords) => function.call(PyTuple::new(py, &positional)?, Some(keywords)),
    });
    let head_key = if site.kind == NodeKind::Dispatch {
        InputKey::Name(&signature.qualname)
    } else {
        InputKey::None
    };
    let mut inputs: SmallVec<[OpInput<'_, '_>; 6]> = SmallVec::new();
    inputs.extend(site.head.iter().map(|(role, src)| OpInput {
        role: *role,
        key: head_key,
        operand: Operand::Node(*src),
    }));
    for (arg, id) in bound.iter().zip(&argument_ids) {
        inputs.push(OpInput {
            role: arg.role,
            key: arg.key.input_key(),
            operand: Operand::Node(*id),
        });
    }
    match outcome {
        Err(err) => {
            let summary = Summary::raised(&err, py);
            // The body's own error wins over one from `on_node`.
            let _ =
                recorder::record_op(py, Some(call_ref), kind, Some(site.name), &inputs, &summary);
            Err(err)
        }
        Ok(result) => {
            // A returned proxy is kept (not dropped here) so that the
            // call's result can reuse it.
            let (raw, returned, proxy) = match result.cast_into::<Traced>() {
                Ok(proxy) => {
                    let traced = proxy.get();
                    let raw = traced.value.bind(py).clone();
                    (raw, Some(traced.node_id(py)), Some(proxy))
                }
                Err(other) => {
                    let (raw, returned) = returned_container(other.into_inner());
                    (raw, returned, None)
                }
            };
            inputs.extend(returned.map(|src| OpInput::node(Role::Return, src)));
            let recorded = site.value.as_ref().map(|v| v.bind(py));
            let summary = Summary::of(recorded.unwrap_or(&raw));
            let node =
                recorder::record_op(py, Some(call_ref), kind, Some(site.name), &inputs, &summary)?;
            let returned = match proxy {
                Some(proxy) => Returned::Proxy(proxy),
                None => Returned::Raw(raw),
            };
            Ok((returned, node, signature.body))
        }
    }
}

/// Calls `function` with positional arguments only, by vectorcall: no
/// argument tuple is built and freed per call (a Python function takes
/// its arguments from the array as they are).
fn call_positional<'py>(
    function: &Bound<'py, PyAny>,
    args: &[Bound<'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    let pointers: SmallVec<[*mut pyo3::ffi::PyObject; 4]> =
        args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: the GIL is held; `pointers` borrows live objects for the
    // duration of the call; a null result comes with an exception set.
    unsafe {
        let result = pyo3::ffi::PyObject_Vectorcall(
            function.as_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(function.py(), result)
    }
}

/// A default that the body will test with `is` (`def f(x=_MISSING)`,
/// dataclasses' default-factory marker): a bare `object()` or an object of
/// an untraced Python class. It enters the body raw, so `x is _MISSING`
/// answers as untraced; its Argument node is still recorded.
fn is_sentinel(value: &Bound<'_, PyAny>) -> bool {
    let ty = value.get_type();
    value.is_exact_instance_of::<PyAny>()
        || (registry::is_heap_type(&ty) && !registry::is_traced_type_or_subclass(&ty))
}

/// The raw value of a result that is not a proxy, and the node of what
/// the body returned when that was a container holding proxies.
pub(crate) fn returned_container(result: Bound<'_, PyAny>) -> (Bound<'_, PyAny>, Option<u64>) {
    match flow::unwrap_deep(&result, 0) {
        Some(raw) => {
            let id = flow::node_of(&result);
            (raw, Some(id))
        }
        None => (result, None),
    }
}

/// Is `callable` a method bound to some object (so its call is a dispatch)?
fn is_bound_method(callable: &Bound<'_, PyAny>) -> bool {
    if crate::values::is_method(callable) {
        return true;
    }
    let py = callable.py();
    let type_name = callable
        .get_type()
        .name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if type_name != "builtin_function_or_method" && type_name != "method-wrapper" {
        return false;
    }
    callable
        .getattr(intern!(py, "__self__"))
        .is_ok_and(|owner| !owner.is_none() && !owner.is_instance_of::<pyo3::types::PyModule>())
}

/// Calls an untraced callable with raw arguments and records a UCall (a
/// function) or UDispatch (a bound method).
pub fn call_untraced<'py>(
    py: Python<'py>,
    callable: &Bound<'py, PyAny>,
    head: Option<OpInput<'_, 'py>>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Py<PyAny>> {
    if !recording() {
        let raw_args = PyTuple::new(py, args.iter().map(|a| flow::raw(&a)))?;
        let raw_kwargs = raw_keywords(py, kwargs)?;
        return wrap(py, callable.call(raw_args, raw_kwargs.as_ref())?, NO_NODE);
    }
    let mut inputs = Vec::with_capacity(args.len() + 2);
    inputs.extend(head);
    let mut raw = RawCall::new(py, args, kwargs)?;
    let operands = std::mem::take(&mut raw.operands);
    raw.push_inputs(operands, &mut inputs);
    let kind = if is_bound_method(callable) {
        NodeKind::UDispatch
    } else {
        NodeKind::UCall
    };
    let name = callable
        .getattr(intern!(py, "__name__"))
        .and_then(|n| n.cast_into::<PyString>().map_err(PyErr::from));
    let name = match &name {
        Ok(name) => Cow::Borrowed(name.to_str()?),
        Err(_) => Cow::Owned(crate::summary::type_name(&callable.get_type())),
    };
    let result = match raw.call(callable, None) {
        Ok(result) => result,
        // A call that raised is a node too (its value the exception), as
        // a traced operation that raised is: `ord("ab")`, `math.sqrt(-1)`.
        Err(err) => {
            return Err(crate::proxy::record_failure(
                py,
                kind,
                Some(&name),
                &inputs,
                err,
            ))
        }
    };
    let (result, source) = source_of(result);
    inputs.extend(source.map(|src| OpInput::node(Role::Source, src)));
    let summary = Summary::of(&result);
    let node = recorder::record_op(py, None, kind, Some(&name), &inputs, &summary)?;
    wrap(py, result, node)
}

/// The raw arguments of an untraced call, with the operands they stand for.
struct RawCall<'py> {
    args: Vec<Bound<'py, PyAny>>,
    kwargs: Bound<'py, PyDict>,
    keyword_names: Vec<String>,
    operands: Vec<Operand<'py>>,
    /// (the user's list or dict, the raw copy the call gets instead).
    copies: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
}

impl<'py> RawCall<'py> {
    fn new(
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Self> {
        let mut raw = RawCall {
            args: Vec::with_capacity(args.len()),
            kwargs: PyDict::new(py),
            keyword_names: Vec::new(),
            operands: Vec::new(),
            copies: Vec::new(),
        };
        for arg in args.iter() {
            let (value, operand) = raw.prepare(&arg);
            raw.args.push(value);
            raw.operands.push(operand);
        }
        if let Some(kwargs) = kwargs {
            for (key, value) in kwargs.iter() {
                let (value, operand) = raw.prepare(&value);
                raw.kwargs.set_item(&key, value)?;
                raw.keyword_names.push(key.extract::<String>()?);
                raw.operands.push(operand);
            }
        }
        Ok(raw)
    }

    /// The raw argument, remembering a copy made of the user's container.
    fn prepare(&mut self, arg: &Bound<'py, PyAny>) -> (Bound<'py, PyAny>, Operand<'py>) {
        let (value, operand) = prepare(arg);
        let copied = !value.is(arg)
            && (arg.is_exact_instance_of::<pyo3::types::PyList>()
                || arg.is_exact_instance_of::<PyDict>());
        if copied {
            self.copies.push((arg.clone(), value.clone()));
        }
        (value, operand)
    }

    /// Calls `callable` with the raw arguments (after `first`, a receiver,
    /// when given), then hands changes the call made to copies back to the
    /// user's containers.
    fn call(
        &self,
        callable: &Bound<'py, PyAny>,
        first: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = callable.py();
        let args: Vec<&Bound<'py, PyAny>> = first.into_iter().chain(&self.args).collect();
        let args = PyTuple::new(py, args)?;
        let result = callable.call(args, Some(&self.kwargs));
        for (original, copy) in &self.copies {
            flow::write_back(original, copy)?;
        }
        result
    }

    /// Appends the arguments as inputs (`arg` by position, `kwarg` by
    /// name); the operands move into the inputs, the names are borrowed.
    fn push_inputs<'a>(&'a self, operands: Vec<Operand<'py>>, inputs: &mut Vec<OpInput<'a, 'py>>) {
        let positional = self.args.len();
        for (index, operand) in operands.into_iter().enumerate() {
            let (role, key) = match index.checked_sub(positional) {
                None => (Role::Arg, InputKey::Index(index as u64)),
                Some(k) => (Role::Kwarg, InputKey::Name(&self.keyword_names[k])),
            };
            inputs.push(OpInput { role, key, operand });
        }
    }
}

fn raw_keywords<'py>(
    py: Python<'py>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(kwargs) = kwargs else {
        return Ok(None);
    };
    let raw = PyDict::new(py);
    for (key, value) in kwargs.iter() {
        raw.set_item(key, flow::raw(&value))?;
    }
    Ok(Some(raw))
}

/// The node of a traced function or class in the running capture, made the
/// first time it is used in that capture.
fn definition_node(
    py: Python<'_>,
    slot: &AtomicU64,
    kind: NodeKind,
    name: Option<&str>,
    value: &Bound<'_, PyAny>,
) -> u64 {
    if let Some(id) = current_id(slot.load(Ordering::Relaxed)) {
        return id;
    }
    let summary = Summary::of(value);
    let node = record(
        py,
        Node {
            id: None,
            kind,
            name,
            inputs: &[],
            value: &summary,
        },
    );
    match node {
        Some(node) => {
            slot.store(node, Ordering::Relaxed);
            node & ID_MASK
        }
        None => 0,
    }
}

fn qualified_name(value: &Bound<'_, PyAny>) -> String {
    let py = value.py();
    let part = |attr| {
        value
            .getattr(attr)
            .and_then(|v| v.extract::<String>())
            .unwrap_or_default()
    };
    let module = part(intern!(py, "__module__"));
    let qualname = part(intern!(py, "__qualname__"));
    if module.is_empty() {
        qualname
    } else {
        format!("{module}.{qualname}")
    }
}

/// The wrapped function's or class's identity attributes: the pyclass's own
/// `__doc__` and `__module__` would otherwise answer for it.
macro_rules! forward_identity {
    ($wrapper:ty, $field:ident) => {
        #[pymethods]
        impl $wrapper {
            #[getter(__name__)]
            fn name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.$field.bind(py).getattr(intern!(py, "__name__"))
            }

            #[getter(__qualname__)]
            fn qualname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.$field.bind(py).getattr(intern!(py, "__qualname__"))
            }

            #[getter(__module__)]
            fn module<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.$field.bind(py).getattr(intern!(py, "__module__"))
            }

            #[getter(__doc__)]
            fn doc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.$field.bind(py).getattr(intern!(py, "__doc__"))
            }

            /// The original, untraced function or class.
            #[getter(__wrapped__)]
            fn wrapped<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
                self.$field.bind(py).clone().into_any()
            }
        }
    };
}

forward_identity!(TracedFunction, function);

/// A traced module's function, put in the module in place of the original.
/// In a traced class's body it stands for an instance method (`method`):
/// its first argument is the receiver, so `Base.f(self, ...)`, `super().f()`
/// and `obj.f()` are all Dispatch nodes.
#[pyclass(frozen, module = "hltpy", name = "TracedFunction")]
pub struct TracedFunction {
    function: Py<PyAny>,
    /// A classmethod's class, passed first without an Argument node.
    receiver: Option<Py<PyAny>>,
    method: bool,
    /// A method whose answer must be raw (see `RAW_ANSWERS`).
    raw_answer: bool,
    name: String,
    /// `module.qualname`, the name of its Function node (read once: a
    /// call should not look it up again).
    qualified: String,
    node: AtomicU64,
}

impl TracedFunction {
    /// An instance method of a traced class, put in the class's body.
    pub fn method(function: &Bound<'_, PyAny>) -> PyResult<Self> {
        let plain = Self::new(function, None)?;
        Ok(TracedFunction {
            method: true,
            raw_answer: RAW_ANSWERS.contains(&plain.name.as_str()),
            ..plain
        })
    }

    /// The original, untraced function.
    pub fn function(&self) -> &Py<PyAny> {
        &self.function
    }

    /// A call with the receiver first. A traced receiver runs the body
    /// traced (a Dispatch). An object made outside the capture is not
    /// traced: the body runs on raw values, so nothing traced is stored in
    /// it, and the call is one UDispatch when it was given traced values.
    fn call_method(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let function = self.function.bind(py);
        let receiver = args.get_item(0)?;
        let rest = args.get_slice(1, args.len());
        if let Ok(traced) = receiver.cast::<Traced>() {
            let site = CallSite::dispatch_on(&self.name, traced.get().node_id(py));
            return call_traced(py, site, function, Some(&receiver), &rest, kwargs);
        }
        if !touches_trace(&rest, kwargs) {
            return Ok(function.call(args, kwargs)?.unbind());
        }
        if self.raw_answer {
            let raw = RawCall::new(py, &rest, kwargs)?;
            return Ok(raw.call(function, Some(&receiver))?.unbind());
        }
        let bound = bind_method(function, &receiver)?;
        call_untraced(py, &bound, None, &rest, kwargs)
    }
}

// CPython's constructor of bound methods (not in pyo3's bindings).
extern "C" {
    fn PyMethod_New(
        function: *mut pyo3::ffi::PyObject,
        instance: *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject;
}

/// A bound method object (`types.MethodType(callable, instance)`).
fn bind_method<'py>(
    callable: &Bound<'py, PyAny>,
    instance: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: both pointers are live objects and the GIL is held; a null
    // result comes with a Python error set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            callable.py(),
            PyMethod_New(callable.as_ptr(), instance.as_ptr()),
        )
    }
}

/// Dunders whose answer CPython checks for a builtin type: called on an
/// object made outside the capture they always answer raw.
const RAW_ANSWERS: &[&str] = &[
    "__hash__",
    "__bool__",
    "__len__",
    "__index__",
    "__int__",
    "__float__",
    "__complex__",
    "__str__",
    "__repr__",
    "__bytes__",
    "__format__",
    "__length_hint__",
    "__sizeof__",
    "__fspath__",
    "__init__",
];

#[pymethods]
impl TracedFunction {
    #[new]
    #[pyo3(signature = (function, receiver = None))]
    fn new(function: &Bound<'_, PyAny>, receiver: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        if !function.is_instance_of::<pyo3::types::PyFunction>() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "hltpy can trace Python functions only, not {}",
                crate::values::bounded_repr(function, 80)
            )));
        }
        registry::register_function(function)?;
        let name: String = function.getattr("__name__")?.extract()?;
        Ok(TracedFunction {
            function: function.clone().unbind(),
            receiver: receiver.map(|r| r.clone().unbind()),
            method: false,
            raw_answer: false,
            name,
            qualified: qualified_name(function),
            node: AtomicU64::new(NO_NODE),
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let function = self.function.bind(py);
        let receiver = self.receiver.as_ref().map(|r| r.bind(py));
        if !recording() {
            return call_through(function, receiver, args, kwargs).map(Bound::unbind);
        }
        if self.method && !args.is_empty() {
            return self.call_method(py, args, kwargs);
        }
        let node = definition_node(
            py,
            &self.node,
            NodeKind::Function,
            Some(&self.qualified),
            function,
        );
        call_traced(
            py,
            CallSite::call(&self.name, node),
            function,
            receiver,
            args,
            kwargs,
        )
    }

    /// In a class body it binds like a function. Outside a capture, and
    /// for the raw-answer dunders of an object that is not traced (CPython
    /// asking for `repr`, `hash`, …), a method binds its original function:
    /// those calls cost what they cost untraced.
    fn __get__<'py>(
        slf: &Bound<'py, Self>,
        instance: Option<&Bound<'py, PyAny>>,
        _owner: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        match instance.filter(|i| !i.is_none()) {
            Some(instance)
                if this.method
                    && (!recording()
                        || (this.raw_answer && !instance.is_instance_of::<Traced>())) =>
            {
                bind_method(this.function.bind(slf.py()), instance)
            }
            Some(instance) => bind_method(slf.as_any(), instance),
            None => Ok(slf.clone().into_any()),
        }
    }

    fn __getattr__<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.function.bind(py).getattr(name)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<traced function {}>",
            qualified_name(self.function.bind(py))
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.function)?;
        visit.call(&self.receiver)
    }
}

/// A traced module's class, put in the module in place of the original.
/// Calling it makes a traced object; `isinstance`, `issubclass` and
/// subclassing still see the original class.
#[pyclass(frozen, module = "hltpy", name = "TracedClass")]
pub struct TracedClass {
    class: Py<PyType>,
    /// Its `__init__` cannot run with a proxy as `self` (a frozen
    /// dataclass's sets attributes with `object.__setattr__`): it runs on
    /// the raw object, and the NewInit still links the arguments.
    raw_init: bool,
    /// `module.qualname`: the name of its Class, Obj and NewInit nodes.
    name: String,
    node: AtomicU64,
}

#[pymethods]
impl TracedClass {
    /// Instance methods in the class's body are replaced by traced ones,
    /// so they run traced however they are reached: through an object,
    /// the class (`Base.__init__(self)`) or `super()`.
    #[new]
    fn new(class: &Bound<'_, PyType>) -> PyResult<Self> {
        // A frozen dataclass's __init__ sets attributes with
        // object.__setattr__, a builtin type's subclass's calls the
        // builtin's: both refuse a proxy as `self`.
        let frozen = class
            .getattr(intern!(class.py(), "__dataclass_params__"))
            .and_then(|params| params.getattr(intern!(class.py(), "frozen"))?.is_truthy())
            .unwrap_or(false);
        let raw_init = frozen || registry::derives_from_builtin(class);
        for (name, function) in registry::register_class(class)? {
            let name = name.cast_into::<PyString>()?;
            if raw_init && name.to_str()? == "__init__" {
                continue;
            }
            class
                .as_any()
                .setattr(name, TracedFunction::method(&function)?)?;
        }
        Ok(TracedClass {
            class: class.clone().unbind(),
            raw_init,
            name: qualified_name(class.as_any()),
            node: AtomicU64::new(NO_NODE),
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let class = self.class.bind(py);
        if !recording() {
            return Ok(class.call(args, kwargs)?.unbind());
        }
        let class_name = &self.name;
        let class_node = definition_node(
            py,
            &self.node,
            NodeKind::Class,
            Some(class_name),
            class.as_any(),
        );
        let Some(call_ref) = recorder::reserve_id(py) else {
            return Ok(class.call(args, kwargs)?.unbind());
        };
        let raw_args = PyTuple::new(py, args.iter().map(|a| flow::raw(&a)))?;
        let raw_kwargs = raw_keywords(py, kwargs)?;
        // object.__new__ refuses extra arguments when __init__ is not
        // overridden; give them only to a class's own __new__.
        let new = class.getattr(intern!(py, "__new__"))?;
        let object_new = py
            .get_type::<pyo3::types::PyAny>()
            .getattr(intern!(py, "__new__"))?;
        let object = if new.is(&object_new) {
            new.call1((class,))?
        } else {
            let mut all = vec![class.clone().into_any()];
            all.extend(raw_args.iter());
            new.call(PyTuple::new(py, all)?, raw_kwargs.as_ref())?
        };
        if !object.is_instance(class)? {
            return Ok(object.unbind());
        }
        let summary = Summary::of(&object);
        let obj_node = record(
            py,
            Node {
                id: None,
                kind: NodeKind::Obj,
                name: Some(class_name),
                inputs: &[hltpy_schema::NodeInput::new(Role::Class, class_node)],
                value: &summary,
            },
        )
        .unwrap_or(NO_NODE);
        let initializing = Flavor::Object {
            initializing: std::sync::atomic::AtomicBool::new(true),
        };
        // The object's one proxy: `self` in `__init__`, then the result.
        let receiver = crate::proxy::proxy_of(py, object.clone(), obj_node, initializing)?;
        let init = class.getattr(intern!(py, "__init__"))?;
        let head = vec![
            (Role::Class, class_node),
            (Role::Object, obj_node & ID_MASK),
        ];
        let traced_init = registry::traced_body(&init).filter(|_| !self.raw_init);
        let outcome = crate::proxy::building(&object, || {
            if let Some(init) = traced_init {
                let site = CallSite {
                    kind: NodeKind::NewInit,
                    name: class_name,
                    head: head.into_iter().collect(),
                    reserved: Some(call_ref),
                    value: Some(object.clone().unbind()),
                };
                invoke(py, site, &init, Some(receiver.as_any()), args, kwargs)
                    .map(|(_, node, _)| node)
            } else {
                untraced_init(py, &init, &object, class_name, head, call_ref, args, kwargs)
            }
        });
        receiver.get().finish_init();
        receiver.get().set_node(outcome?);
        Ok(receiver.into_any().unbind())
    }

    fn __instancecheck__(&self, py: Python<'_>, instance: &Bound<'_, PyAny>) -> PyResult<bool> {
        flow::raw(instance).is_instance(self.class.bind(py))
    }

    fn __subclasscheck__(&self, py: Python<'_>, subclass: &Bound<'_, PyAny>) -> PyResult<bool> {
        let subclass = match subclass.cast::<TracedClass>() {
            Ok(traced) => traced.get().class.bind(py).clone().into_any(),
            Err(_) => subclass.clone(),
        };
        subclass.cast::<PyType>()?.is_subclass(self.class.bind(py))
    }

    /// `class Sub(TracedClassWrapper)` subclasses the original class.
    fn __mro_entries__<'py>(
        &self,
        py: Python<'py>,
        _bases: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.class.bind(py)])
    }

    /// Attributes are the class's own (methods, dunders, class variables,
    /// descriptors); only what the class lacks is asked of the wrapper
    /// (`__wrapped__`, `__mro_entries__`).
    fn __getattribute__<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let attribute = match slf.get().class.bind(py).getattr(name) {
            Ok(attribute) => attribute,
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {
                // SAFETY: live objects, GIL held; null comes with an error set.
                let own = unsafe {
                    Bound::from_owned_ptr_or_err(
                        py,
                        pyo3::ffi::PyObject_GenericGetAttr(slf.as_ptr(), name.as_ptr()),
                    )
                };
                return own.map_err(|_| err);
            }
            Err(err) => return Err(err),
        };
        // `Cls.__new__(Cls)` (the seed's new_init, pickle's and copy's
        // idiom) passes the wrapper where `__new__` wants a type.
        if name.to_str()? == "__new__" {
            let new = ClassNew {
                new: attribute.unbind(),
            };
            return Ok(Bound::new(py, new)?.into_any());
        }
        // Static methods come out as plain functions, class methods bound
        // to the class: both run traced.
        if registry::is_traced_function(&attribute) {
            return Ok(Bound::new(py, TracedFunction::new(&attribute, None)?)?.into_any());
        }
        if let Some((function, owner)) = crate::values::method_parts(&attribute) {
            if registry::is_traced_function(&function) {
                let wrapper = TracedFunction::new(&function, Some(&owner))?;
                return Ok(Bound::new(py, wrapper)?.into_any());
            }
        }
        Ok(attribute)
    }

    /// `Cls.counter += 1` sets the class variable of the user's class.
    fn __setattr__(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.class.bind(py).setattr(name, flow::storable(value)?)
    }

    fn __delattr__(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<()> {
        self.class.bind(py).delattr(name)
    }

    /// The original, untraced class.
    #[getter(__wrapped__)]
    fn wrapped<'py>(&self, py: Python<'py>) -> Bound<'py, PyType> {
        self.class.bind(py).clone()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<traced class {}>",
            qualified_name(self.class.bind(py).as_any())
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.class)
    }
}

/// `super` as seen by the code of traced modules: the builtin, with a
/// traced class accepted where it takes a class (`super(Cls, self)`).
/// Without arguments it is `super()` of the calling frame, as a C function
/// adds no frame of its own.
#[pyfunction(name = "super_", signature = (*args))]
pub fn traced_super<'py>(args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    let py = args.py();
    py.get_type::<pyo3::types::PySuper>()
        .call1(original_classes(args)?)
}

/// The arguments with each traced class replaced by its original class.
fn original_classes<'py>(args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyTuple>> {
    let py = args.py();
    PyTuple::new(
        py,
        args.iter().map(|arg| match arg.cast::<TracedClass>() {
            Ok(traced) => traced.get().class.bind(py).clone().into_any(),
            Err(_) => arg,
        }),
    )
}

/// A traced class's `__new__`: called with the original class where it
/// is given the wrapper.
#[pyclass(frozen, module = "hltpy")]
pub struct ClassNew {
    new: Py<PyAny>,
}

#[pymethods]
impl ClassNew {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        Ok(self
            .new
            .bind(py)
            .call(original_classes(args)?, kwargs)?
            .unbind())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.new)
    }
}

/// `__init__` inherited from an untraced class: it runs on the raw object
/// with raw arguments; the NewInit still links the arguments' nodes.
#[allow(clippy::too_many_arguments)]
fn untraced_init(
    py: Python<'_>,
    init: &Bound<'_, PyAny>,
    object: &Bound<'_, PyAny>,
    class_name: &str,
    head: Vec<(Role, u64)>,
    call_ref: NodeRef,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<NodeRef> {
    let mut inputs: Vec<OpInput<'_, '_>> = head
        .into_iter()
        .map(|(role, src)| OpInput {
            role,
            key: InputKey::None,
            operand: Operand::Node(src),
        })
        .collect();
    let mut raw = RawCall::new(py, args, kwargs)?;
    let operands = std::mem::take(&mut raw.operands);
    raw.push_inputs(operands, &mut inputs);
    let outcome = raw.call(init, Some(object));
    let summary = match &outcome {
        Ok(_) => Summary::of(object),
        Err(err) => Summary::raised(err, py),
    };
    let node = recorder::record_op(
        py,
        Some(call_ref),
        NodeKind::NewInit,
        Some(class_name),
        &inputs,
        &summary,
    )?;
    outcome.map(|_| node)
}

/// An untraced callable chosen by `hltpy.capture(trace_callables=[...])`:
/// a call with traced arguments gives a UCall node instead of being
/// invisible; a call on untraced data stays untraced.
#[pyclass(frozen, module = "hltpy", name = "TracedCallable")]
pub struct TracedCallable {
    callable: Py<PyAny>,
    /// The Const node of the callable in this capture (recorded once).
    node: AtomicU64,
}

#[pymethods]
impl TracedCallable {
    #[new]
    fn new(callable: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !callable.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "trace_callables takes callables, got {}",
                crate::values::bounded_repr(callable, 80)
            )));
        }
        Ok(TracedCallable {
            callable: callable.clone().unbind(),
            node: AtomicU64::new(NO_NODE),
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let callable = self.callable.bind(py);
        let touches_trace = touches_trace(args, kwargs);
        if !(recording() && touches_trace) {
            return Ok(callable.call(args, kwargs)?.unbind());
        }
        // The callable itself is an input, one Const per capture printed
        // with its module (`<built-in math.hypot>`): readers can tell which
        // function ran.
        let node = definition_node(py, &self.node, NodeKind::Const, None, callable);
        let head = OpInput::node(Role::Callable, node);
        call_untraced(py, callable, Some(head), args, kwargs)
    }

    fn __getattr__<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.callable.bind(py).getattr(name)
    }

    /// Equal to (and hashed as) the callable it stands for: a set of
    /// functions asked about it answers as for the original
    /// (`os.stat in os.supports_fd`, which `shutil` asks).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let other = match other.cast::<TracedCallable>() {
            Ok(wrapper) => wrapper.get().callable.bind(py).clone(),
            Err(_) => other.clone(),
        };
        self.callable.bind(py).eq(other)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.callable.bind(py).hash()
    }

    /// A class given (`decimal.Decimal`) still answers `isinstance` and
    /// `issubclass` while it is replaced, and can be subclassed.
    fn __instancecheck__(&self, py: Python<'_>, instance: &Bound<'_, PyAny>) -> PyResult<bool> {
        flow::raw(instance).is_instance(self.callable.bind(py))
    }

    fn __subclasscheck__(&self, py: Python<'_>, subclass: &Bound<'_, PyAny>) -> PyResult<bool> {
        let subclass = match subclass.cast::<TracedCallable>() {
            Ok(wrapper) => wrapper.get().callable.bind(py).clone(),
            Err(_) => subclass.clone(),
        };
        subclass
            .cast::<PyType>()?
            .is_subclass(self.callable.bind(py))
    }

    fn __mro_entries__<'py>(
        &self,
        py: Python<'py>,
        _bases: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.callable.bind(py)])
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<traced callable {}>",
            crate::values::bounded_repr(self.callable.bind(py), 80)
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.callable)
    }
}

fn is_traced_or_holds(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<Traced>() || flow::unwrap_deep(value, 0).is_some()
}

/// Is any argument traced, or a container holding a traced value?
fn touches_trace(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> bool {
    args.iter().any(|a| is_traced_or_holds(&a))
        || kwargs.is_some_and(|k| k.values().iter().any(|v| is_traced_or_holds(&v)))
}

forward_identity!(TracedCallable, callable);
