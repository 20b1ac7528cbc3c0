//! Making and freeing `Traced` proxies without pyo3's generic object path.
//! Every traced operation makes one proxy and frees another; through pyo3
//! (`object.__new__`, its mutex-guarded free list, a panic-catching
//! deallocation trampoline) that cost ~470 instructions per proxy, about a
//! sixth of an operation. Here: a free list of dead proxies' memory, the
//! object initialised in place as the type [`proxy_types`] picks for its
//! value, and a `tp_dealloc` of our own.

use std::cell::UnsafeCell;
use std::mem::{align_of, size_of};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::PyTypeInfo;

use crate::proxy::{Flavor, Traced};
use crate::proxy_types;
use crate::state::NO_NODE;

/// Where a `Traced` lives inside its Python object, read from a proxy pyo3
/// made (so a pyo3 upgrade that moves things is detected, not trusted).
struct Layout {
    value_offset: isize,
    weaklist_offset: isize,
}

static LAYOUT: OnceLock<Layout> = OnceLock::new();

/// Memory of deallocated proxies, ready to be initialised again.
struct FreeList(UnsafeCell<Vec<*mut ffi::PyObject>>);

// SAFETY: only touched with the GIL held (the extension is built for
// CPython with a GIL; pushes and pops never overlap).
unsafe impl Sync for FreeList {}

static FREE: FreeList = FreeList(UnsafeCell::new(Vec::new()));

/// Enough for the proxies a deep expression keeps alive at once.
const FREE_LIST_CAPACITY: usize = 1024;

/// Checks the layout of pyo3's `Traced` objects and, when it is the one
/// this module writes, takes over their deallocation. Otherwise proxies
/// keep going through pyo3: slower, and all of pyo3's `Traced` type, which
/// offers every C protocol whatever the value (no path proxies).
pub fn install(py: Python<'_>) -> PyResult<()> {
    let probe = Bound::new(py, Traced::new(py.None(), NO_NODE, Flavor::Plain))?;
    let value_offset = probe.get() as *const Traced as isize - probe.as_ptr() as isize;
    drop(probe);
    let type_object = Traced::type_object_raw(py);
    // SAFETY: GIL held; pyo3 made this heap type and it lives as long as
    // the module.
    unsafe {
        let pointer = size_of::<*mut ffi::PyObject>() as isize;
        let after_value =
            (value_offset + size_of::<Traced>() as isize + pointer - 1) / pointer * pointer;
        let ty = &mut *type_object;
        let expected = ty.tp_weaklistoffset == after_value
            && ty.tp_basicsize == after_value + pointer
            && ty.tp_itemsize == 0
            && align_of::<Traced>() <= pointer as usize
            && ty.tp_flags & ffi::Py_TPFLAGS_HAVE_GC != 0
            && ty.tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
            && ty.tp_flags & ffi::Py_TPFLAGS_BASETYPE == 0;
        if !expected {
            return Ok(());
        }
        let _ = LAYOUT.set(Layout {
            value_offset,
            weaklist_offset: ty.tp_weaklistoffset,
        });
        ty.tp_dealloc = Some(dealloc);
    }
    Ok(())
}

/// Are proxies made and freed here (rather than through pyo3)?
pub fn installed() -> bool {
    LAYOUT.get().is_some()
}

/// A new proxy object holding `traced`.
pub fn new_proxy(py: Python<'_>, traced: Traced) -> PyResult<Bound<'_, Traced>> {
    let Some(layout) = LAYOUT.get() else {
        return Bound::new(py, traced);
    };
    let type_object = proxy_types::type_for(py, traced.value.bind(py))?;
    // SAFETY: GIL held. A free-list block is the memory of a deallocated
    // proxy of this type (untracked, weak list empty); a fresh one comes
    // zeroed and tracked from PyType_GenericAlloc. Either way the `Traced`
    // is written at the offset pyo3's own proxies use before anything can
    // read it.
    unsafe {
        let object = match (*FREE.0.get()).pop() {
            Some(object) => {
                ffi::PyObject_Init(object, type_object);
                write_contents(object, layout, traced);
                ffi::PyObject_GC_Track(object.cast());
                object
            }
            None => {
                let object = ffi::PyType_GenericAlloc(type_object, 0);
                if object.is_null() {
                    return Err(PyErr::fetch(py));
                }
                write_contents(object, layout, traced);
                object
            }
        };
        Ok(Bound::from_owned_ptr(py, object).cast_into_unchecked())
    }
}

unsafe fn write_contents(object: *mut ffi::PyObject, layout: &Layout, traced: Traced) {
    let base = object.cast::<u8>();
    unsafe {
        base.offset(layout.value_offset)
            .cast::<Traced>()
            .write(traced);
        *base
            .offset(layout.weaklist_offset)
            .cast::<*mut ffi::PyObject>() = std::ptr::null_mut();
    }
}

/// `tp_dealloc` of `Traced`: weak references cleared first (their
/// callbacks may look the value up in the identity table, where a proxy
/// with no references left is skipped), then the contents released, then
/// the memory kept for the next proxy.
unsafe extern "C" fn dealloc(object: *mut ffi::PyObject) {
    let layout = LAYOUT
        .get()
        .expect("installed before taking over tp_dealloc");
    unsafe {
        ffi::PyObject_GC_UnTrack(object.cast());
        let base = object.cast::<u8>();
        let weaklist = base
            .offset(layout.weaklist_offset)
            .cast::<*mut ffi::PyObject>();
        if !(*weaklist).is_null() {
            ffi::PyObject_ClearWeakRefs(object);
        }
        // May run arbitrary code (the value's own deallocation), which may
        // make and free proxies: the free list is not borrowed across it.
        Traced::release(base.offset(layout.value_offset).cast::<Traced>());
        let ty = ffi::Py_TYPE(object);
        let free = &mut *FREE.0.get();
        if free.len() < FREE_LIST_CAPACITY {
            free.push(object);
        } else {
            ffi::PyObject_GC_Del(object.cast());
        }
        // Instances of a heap type own a reference to it.
        ffi::Py_DECREF(ty.cast());
    }
}
