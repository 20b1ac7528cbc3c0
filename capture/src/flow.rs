//! How values enter and leave the trace: the node an operand stands for
//! (its own, a Deep of its traced items, or a new Const), the raw value an
//! operation really runs on, and the proxy its result is handed back in.

use hltpy_schema::{InputKey, NodeInput, NodeKind, Role};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PySlice, PyString, PyTuple};

use crate::proxy::{shared_proxy, without_identity, Flavor, Traced};
use crate::proxy_memory::new_proxy;
use crate::proxy_types::as_proxy;
use crate::recorder::{record, Node};
use crate::state::{self, NodeRef, ValuesMode};
use crate::summary::{Operand, Summary};

/// Containers nested deeper than this are passed through as they are.
const MAX_DEPTH: usize = 32;

/// Splits an operand into the raw value to compute with and the node it
/// stands for. Deep containers are recorded here (they are rare).
pub fn prepare<'py>(value: &Bound<'py, PyAny>) -> (Bound<'py, PyAny>, Operand<'py>) {
    let py = value.py();
    if let Some(traced) = as_proxy(value) {
        let traced = traced.get();
        return (
            traced.value.bind(py).clone(),
            Operand::Node(traced.node_id(py)),
        );
    }
    if let Some(raw) = unwrap_deep(value, 0) {
        let id = record_deep(value, &raw, 0);
        return (raw, Operand::Node(id));
    }
    (value.clone(), Operand::Const(Summary::of(value)))
}

/// Like [`prepare`], but a mutable builtin container (list, dict, set)
/// holding traced values is kept as the user's own object, not a raw copy:
/// a traced function that mutates its argument mutates the caller's list.
pub fn prepare_keeping<'py>(value: &Bound<'py, PyAny>) -> (Bound<'py, PyAny>, Operand<'py>) {
    if !is_mutable_container(value) {
        return prepare(value);
    }
    match unwrap_deep(value, 0) {
        Some(raw) => {
            let id = record_deep(value, &raw, 0);
            (value.clone(), Operand::Node(id))
        }
        None => (value.clone(), Operand::Const(Summary::of(value))),
    }
}

fn is_mutable_container(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyList>()
        || value.is_exact_instance_of::<PyDict>()
        || value.is_exact_instance_of::<PySet>()
}

/// Replaces the traced values inside a mutable builtin container (and the
/// containers it holds) by their raw values, in place: what a traced
/// SetAttr or SetItem stores in the user's data keeps its identity (an
/// alias of it sees the same list) and holds nothing of hltpy.
pub fn unwrap_in_place(value: &Bound<'_, PyAny>) -> PyResult<()> {
    unwrap_in_place_at(value, 0)
}

fn unwrap_in_place_at<'py>(value: &Bound<'py, PyAny>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    // The raw form of an item: a proxy's value, a tuple's unwrapped copy,
    // a mutable container unwrapped in place (itself).
    let item = |v: &Bound<'py, PyAny>| -> PyResult<Option<Bound<'py, PyAny>>> {
        if is_mutable_container(v) {
            unwrap_in_place_at(v, depth + 1)?;
            return Ok(None);
        }
        Ok(match v.cast::<Traced>() {
            Ok(traced) => Some(raw(traced.as_any())),
            Err(_) => unwrap_deep(v, depth + 1),
        })
    };
    if let Ok(list) = value.cast_exact::<PyList>() {
        for index in 0..list.len() {
            if let Some(raw_item) = item(&list.get_item(index)?)? {
                list.set_item(index, raw_item)?;
            }
        }
    } else if let Ok(dict) = value.cast_exact::<PyDict>() {
        let pairs: Vec<_> = dict.iter().collect();
        if pairs.iter().any(|(key, _)| key.is_instance_of::<Traced>()) {
            dict.clear();
            for (key, val) in pairs {
                let val = item(&val)?.unwrap_or(val);
                dict.set_item(raw(&key), val)?;
            }
        } else {
            for (key, val) in pairs {
                if let Some(raw_val) = item(&val)? {
                    dict.set_item(key, raw_val)?;
                }
            }
        }
    } else if let Ok(set) = value.cast_exact::<PySet>() {
        let items: Vec<_> = set.iter().collect();
        if items
            .iter()
            .any(|v| v.is_instance_of::<Traced>() || unwrap_deep(v, depth + 1).is_some())
        {
            set.clear();
            for v in items {
                set.add(raw(&v))?;
            }
        }
    }
    Ok(())
}

/// What storing `value` in the user's data stores: a proxy's value, a
/// mutable container itself with its traced items made raw in place (an
/// alias sees the same list), anything else in its raw form.
pub fn storable<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let value = match value.cast::<Traced>() {
        Ok(traced) => traced.get().value.bind(value.py()).clone(),
        Err(_) => value.clone(),
    };
    if is_mutable_container(&value) {
        unwrap_in_place(&value)?;
        return Ok(value);
    }
    Ok(unwrap_deep(&value, 0).unwrap_or(value))
}

/// After an untraced call that was given `copy`, the raw copy of the
/// user's list or dict `original` (which holds traced values): if the call
/// changed the copy (`heapq.heappush(heap, x)`), the user's container gets
/// the change, so the program computes what it would untraced.
pub fn write_back(original: &Bound<'_, PyAny>, copy: &Bound<'_, PyAny>) -> PyResult<()> {
    let unchanged = |a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>| raw(a).is(b);
    if let (Ok(original), Ok(copy)) = (original.cast::<PyList>(), copy.cast::<PyList>()) {
        let same = original.len() == copy.len()
            && original
                .iter()
                .zip(copy.iter())
                .all(|(a, b)| unchanged(&a, &b));
        if !same {
            original.set_slice(0, original.len(), copy)?;
        }
        return Ok(());
    }
    if let (Ok(original), Ok(copy)) = (original.cast::<PyDict>(), copy.cast::<PyDict>()) {
        let same = original.len() == copy.len()
            && original.iter().all(|(key, value)| {
                copy.get_item(raw(&key))
                    .ok()
                    .flatten()
                    .is_some_and(|v| unchanged(&value, &v))
            });
        if !same {
            original.clear();
            original.update(copy.as_mapping())?;
        }
    }
    Ok(())
}

/// The node an operand stands for, recording a Const or Deep if needed.
pub fn node_of(value: &Bound<'_, PyAny>) -> u64 {
    match prepare(value) {
        (_, Operand::Node(id)) => id,
        (raw, Operand::Const(summary)) => record_const(&raw, &summary),
    }
}

pub fn record_const(value: &Bound<'_, PyAny>, summary: &Summary<'_>) -> u64 {
    let id = record(
        value.py(),
        Node {
            id: None,
            kind: NodeKind::Const,
            name: None,
            inputs: &[],
            value: summary,
        },
    );
    id.map_or(0, |node| node & state::ID_MASK)
}

fn record_deep(original: &Bound<'_, PyAny>, raw: &Bound<'_, PyAny>, depth: usize) -> u64 {
    let mut keys: Vec<String> = Vec::new();
    let mut ids: Vec<u64> = Vec::new();
    let mut add = |key: String, item: &Bound<'_, PyAny>| {
        let id = if let Ok(traced) = item.cast::<Traced>() {
            traced.get().node_id(item.py())
        } else if let Some(raw_item) = unwrap_deep(item, depth + 1) {
            record_deep(item, &raw_item, depth + 1)
        } else {
            record_const(item, &Summary::of(item))
        };
        keys.push(key);
        ids.push(id);
    };
    if let Ok(dict) = original.cast::<PyDict>() {
        // Dict keys are user data: with values="types" only positions are kept.
        let keys_kept = state::values_mode() != ValuesMode::Types;
        for (index, (key, item)) in dict.iter().enumerate() {
            let key = if keys_kept {
                crate::values::bounded_repr(&key, 80)
            } else {
                index.to_string()
            };
            add(key, &item);
        }
    } else if let Ok(slice) = original.cast::<PySlice>() {
        for part in ["start", "stop", "step"] {
            if let Ok(item) = slice.getattr(part) {
                if !item.is_none() {
                    add(part.to_string(), &item);
                }
            }
        }
    } else if let Ok(items) = original.try_iter() {
        for (index, item) in items.flatten().enumerate() {
            add(index.to_string(), &item);
        }
    }
    let inputs: Vec<NodeInput<'_>> = keys
        .iter()
        .zip(&ids)
        .map(|(key, id)| NodeInput::keyed(Role::Item, InputKey::Name(key), *id))
        .collect();
    let summary = Summary::of(raw);
    let id = record(
        raw.py(),
        Node {
            id: None,
            kind: NodeKind::Deep,
            name: None,
            inputs: &inputs,
            value: &summary,
        },
    );
    id.map_or(0, |node| node & state::ID_MASK)
}

/// The raw form of a value: proxies replaced by their values, also inside
/// builtin containers (rebuilt only when they hold a proxy). A traced
/// container can hold proxies too (items stored by a traced SetItem).
pub fn raw<'py>(value: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let value = match value.cast::<Traced>() {
        Ok(traced) => traced.get().value.bind(value.py()).clone(),
        Err(_) => value.clone(),
    };
    unwrap_deep(&value, 0).unwrap_or(value)
}

/// `Some(copy without proxies)` if `value` is a builtin container that holds
/// a proxy at any depth, else `None` (the value can be used as it is).
#[inline]
pub fn unwrap_deep<'py>(value: &Bound<'py, PyAny>, depth: usize) -> Option<Bound<'py, PyAny>> {
    // Numbers and strings, most operands and items, hold nothing traced:
    // answered inline, without the call into the container walk.
    if value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyString>()
    {
        return None;
    }
    unwrap_container(value, depth)
}

fn unwrap_container<'py>(value: &Bound<'py, PyAny>, depth: usize) -> Option<Bound<'py, PyAny>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let py = value.py();
    let item = |v: &Bound<'py, PyAny>| -> Option<Bound<'py, PyAny>> {
        if let Ok(traced) = v.cast::<Traced>() {
            return Some(traced.get().value.bind(py).clone());
        }
        unwrap_deep(v, depth + 1)
    };
    let rebuilt_items = |items: Vec<Bound<'py, PyAny>>| -> Option<Vec<Bound<'py, PyAny>>> {
        let mut changed = false;
        let out: Vec<_> = items
            .into_iter()
            .map(|v| match item(&v) {
                Some(raw) => {
                    changed = true;
                    raw
                }
                None => v,
            })
            .collect();
        changed.then_some(out)
    };
    if let Ok(tuple) = value.cast_exact::<PyTuple>() {
        let items = rebuilt_items(tuple.iter().collect())?;
        return PyTuple::new(py, items).ok().map(Bound::into_any);
    }
    if let Ok(list) = value.cast_exact::<PyList>() {
        let items = rebuilt_items(list.iter().collect())?;
        return Some(PyList::new(py, items).ok()?.into_any());
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        let mut changed = false;
        let out = PyDict::new(py);
        for (key, val) in dict.iter() {
            let key = item(&key).inspect(|_| changed = true).unwrap_or(key);
            let val = item(&val).inspect(|_| changed = true).unwrap_or(val);
            out.set_item(key, val).ok()?;
        }
        return changed.then(|| out.into_any());
    }
    if let Ok(set) = value.cast_exact::<PySet>() {
        let items = rebuilt_items(set.iter().collect())?;
        return PySet::new(py, items).ok().map(Bound::into_any);
    }
    if let Ok(set) = value.cast_exact::<PyFrozenSet>() {
        let items = rebuilt_items(set.iter().collect())?;
        return PyFrozenSet::new(py, items).ok().map(Bound::into_any);
    }
    if let Ok(slice) = value.cast_exact::<PySlice>() {
        let parts: Vec<_> = ["start", "stop", "step"]
            .iter()
            .map(|p| slice.getattr(*p).ok())
            .collect::<Option<_>>()?;
        let items = rebuilt_items(parts)?;
        let builtins = py.import("builtins").ok()?;
        return builtins
            .getattr("slice")
            .ok()?
            .call1((&items[0], &items[1], &items[2]))
            .ok();
    }
    None
}

/// Hands a result back to the program as a proxy of node `node` (the
/// value's one proxy when it has an identity). The singletons programs
/// test with `is` (`None`, `True`, `False`, `...`, `NotImplemented`) stay
/// raw, and so do classes and exceptions (`exc_type is KeyError`, `raise
/// err`: a proxy is neither the class nor an exception) and asynchronous
/// objects (see [`is_asynchronous`]).
pub fn wrap(py: Python<'_>, value: Bound<'_, PyAny>, node: NodeRef) -> PyResult<Py<PyAny>> {
    // Numbers and strings first: the common case, and never singletons.
    if without_identity(&value) {
        return Ok(
            new_proxy(py, Traced::new(value.unbind(), node, Flavor::Plain))?
                .into_any()
                .unbind(),
        );
    }
    if is_singleton(&value)
        || value.is_instance_of::<pyo3::types::PyType>()
        || value.is_instance_of::<pyo3::exceptions::PyBaseException>()
        || is_asynchronous(&value)
    {
        return Ok(value.unbind());
    }
    Ok(shared_proxy(py, value, node, Flavor::Plain)?
        .into_any()
        .unbind())
}

/// Coroutines, futures, tasks, async generators: objects an event loop
/// steps through their type's async slots. A proxy has none (it could not
/// be awaited), and were it given them asyncio would step it as the
/// object it claims to be: they are handed to the program raw, untraced.
/// (A traced coroutine function's own coroutine is traced by the call:
/// see `coroutines`.)
fn is_asynchronous(value: &Bound<'_, PyAny>) -> bool {
    // SAFETY: GIL held; a type object's async slots are plain pointers.
    unsafe {
        let slots = (*pyo3::ffi::Py_TYPE(value.as_ptr())).tp_as_async;
        !slots.is_null()
            && ((*slots).am_await.is_some()
                || (*slots).am_aiter.is_some()
                || (*slots).am_anext.is_some())
    }
}

fn is_singleton(value: &Bound<'_, PyAny>) -> bool {
    let py = value.py();
    value.is_none()
        || value.is_exact_instance_of::<pyo3::types::PyBool>()
        || value.is(py.Ellipsis())
        || value.is(py.NotImplemented())
}

/// A raw result that is itself a stored proxy (an attribute set by SetAttr,
/// an item set by SetItem, a traced value inside a container): its raw
/// value and the node it came from.
pub fn source_of<'py>(result: Bound<'py, PyAny>) -> (Bound<'py, PyAny>, Option<u64>) {
    let py = result.py();
    match as_proxy(&result) {
        Some(traced) => {
            let traced = traced.get();
            (traced.value.bind(py).clone(), Some(traced.node_id(py)))
        }
        None => (result, None),
    }
}
