//! Which traced write put a value where it is. SetAttr and SetItem store
//! the raw value in the user's own object (nothing of hltpy stays in user
//! data); this side table remembers each write, so a later read of the same
//! slot that finds the very same value links back to it (`source` input).
//!
//! An entry lives as long as its container: a weak reference's callback
//! drops the entries of an object that dies. Builtin lists, dicts, sets and
//! bytearrays cannot be weakly referenced; they have no finalizer either,
//! so the table keeps them alive until the capture ends (which no program
//! can observe). Other objects without weak references get no links. An
//! entry holds its value, so a slot's address match is never a reused one.

use rustc_hash::FxHashMap;
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyDict, PyList, PySet, PyString, PyWeakrefReference};

use crate::state::{current_id, NodeRef};

/// A slot of a container: an attribute or an item.
pub enum Slot<'a, 'py> {
    Attr(&'a Bound<'py, PyString>),
    Item(&'a Bound<'py, PyAny>),
}

impl Slot<'_, '_> {
    /// Attribute names and item keys by their hash; the value check on
    /// reading makes a collision harmless. Unhashable keys get no link.
    fn key(&self) -> Option<(bool, isize)> {
        match self {
            Slot::Attr(name) => name.hash().ok().map(|h| (false, h)),
            Slot::Item(key) => key.hash().ok().map(|h| (true, h)),
        }
    }
}

struct Written {
    node: NodeRef,
    value: Py<PyAny>,
}

struct Container {
    /// The weak reference that forgets this container, or the container.
    _keeper: Py<PyAny>,
    slots: FxHashMap<(bool, isize), Written>,
}

#[derive(Default)]
struct Table {
    containers: FxHashMap<usize, Container>,
    /// Weak reference address → container address.
    by_weakref: FxHashMap<usize, usize>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// The table's lock. Nothing that can run Python code (allocation, a
/// reference count reaching zero) happens while it is held: a finalizer
/// could come back here. Removed entries are dropped after unlocking.
fn table() -> MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Remembers that node `node` wrote `value` into `slot` of `container`.
pub fn wrote(
    container: &Bound<'_, PyAny>,
    slot: Slot<'_, '_>,
    node: NodeRef,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let Some(key) = slot.key() else {
        return Ok(());
    };
    let address = container.as_ptr() as usize;
    let written = Written {
        node,
        value: value.clone().unbind(),
    };
    // Ok(what the slot held) for a known container, else the write back.
    let outcome = {
        let mut guard = table();
        match guard.as_mut().and_then(|t| t.containers.get_mut(&address)) {
            Some(known) => Ok(known.slots.insert(key, written)),
            None => Err(written),
        }
    };
    match outcome {
        Ok(replaced) => {
            drop(replaced);
            Ok(())
        }
        Err(written) => first_write(container, key, written),
    }
}

fn first_write(container: &Bound<'_, PyAny>, key: (bool, isize), written: Written) -> PyResult<()> {
    let py = container.py();
    let builtin = container.is_exact_instance_of::<PyList>()
        || container.is_exact_instance_of::<PyDict>()
        || container.is_exact_instance_of::<PySet>()
        || container.is_exact_instance_of::<PyByteArray>();
    let (keeper, weakref) = if builtin {
        (container.clone().unbind(), None)
    } else {
        let callback = forget_callback(py)?;
        match PyWeakrefReference::new_with(container, callback) {
            Ok(weakref) => {
                let address = weakref.as_ptr() as usize;
                (weakref.into_any().unbind(), Some(address))
            }
            Err(_) => return Ok(()),
        }
    };
    let address = container.as_ptr() as usize;
    let replaced = {
        let mut guard = table();
        let table = guard.get_or_insert_with(Table::default);
        if let Some(weakref) = weakref {
            table.by_weakref.insert(weakref, address);
        }
        let mut slots = FxHashMap::default();
        slots.insert(key, written);
        table.containers.insert(
            address,
            Container {
                _keeper: keeper,
                slots,
            },
        )
    };
    drop(replaced);
    Ok(())
}

/// The node that wrote `value` into `slot` of `container` in this capture,
/// if that write is what the slot still holds.
pub fn source(
    container: &Bound<'_, PyAny>,
    slot: Slot<'_, '_>,
    value: &Bound<'_, PyAny>,
) -> Option<u64> {
    let key = slot.key()?;
    let guard = table();
    let written = guard
        .as_ref()?
        .containers
        .get(&(container.as_ptr() as usize))?
        .slots
        .get(&key)?;
    if written.value.as_ptr() != value.as_ptr() {
        return None;
    }
    current_id(written.node)
}

/// A deleted slot: a later value there was not written by that node.
pub fn forget(container: &Bound<'_, PyAny>, slot: Slot<'_, '_>) {
    let Some(key) = slot.key() else {
        return;
    };
    let removed = table()
        .as_mut()
        .and_then(|t| t.containers.get_mut(&(container.as_ptr() as usize)))
        .and_then(|c| c.slots.remove(&key));
    drop(removed);
}

/// Forgets every write (a capture ends or starts).
pub fn clear() {
    let old = table().take();
    drop(old);
}

/// Called by a container's weak reference when the container dies.
#[pyfunction]
fn forget_container(weakref: &Bound<'_, PyAny>) {
    let removed = {
        let mut guard = table();
        guard.as_mut().and_then(|t| {
            let address = t.by_weakref.remove(&(weakref.as_ptr() as usize))?;
            t.containers.remove(&address)
        })
    };
    drop(removed);
}

fn forget_callback(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static CALLBACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CALLBACK
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(wrap_pyfunction!(forget_container, py)?.into_any().unbind())
        })
        .map(|callback| callback.bind(py))
}
