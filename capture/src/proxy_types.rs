//! The type a proxy gets: C code asks a type's slots, not `isinstance`,
//! whether an object is an index, a buffer, a callable, an iterator or a
//! path, and then treats it as one. A proxy offers exactly the protocols
//! of those its value's type offers, so C code takes the path it takes
//! for the raw value: `os.stat(traced_str)` asks `__fspath__` (a proxy
//! with `nb_index` would be taken for a file descriptor), `callable(
//! traced_int)` is False, a proxy of a float is no buffer.
//!
//! Each set of protocols is a subclass of `Traced` made once, on first
//! use, from pyo3's type with the slots its values lack cleared; all are
//! named `Traced` and share its layout, so they share proxy memory.

use std::cell::UnsafeCell;
use std::ptr::null_mut;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::PyTypeInfo;

use crate::proxy::{self, Traced};

const INDEX: usize = 1;
const BUFFER: usize = 2;
const CALL: usize = 4;
const NEXT: usize = 8;
/// `__fspath__`, which pyo3's type lacks: only the types of str and
/// bytes values and of objects with an `__fspath__` of their own have it.
const PATH: usize = 16;
/// What pyo3's `Traced` itself offers.
const ALL_SLOTS: usize = INDEX | BUFFER | CALL | NEXT;

/// The type of each set of protocols, made on first use (never freed).
struct Types(UnsafeCell<[*mut ffi::PyTypeObject; 32]>);

// SAFETY: only touched with the GIL held.
unsafe impl Sync for Types {}

static TYPES: Types = Types(UnsafeCell::new([null_mut(); 32]));

/// Makes pyo3's `Traced` immutable, as the types made from it are (3.12
/// deprecates immutable subclasses of a mutable type): nothing sets
/// attributes on it, and no program should.
pub fn install(py: Python<'_>) {
    let base = Traced::type_object_raw(py);
    // SAFETY: GIL held, at module initialisation, before any proxy exists.
    unsafe {
        (*base).tp_flags |= ffi::Py_TPFLAGS_IMMUTABLETYPE;
        ffi::PyType_Modified(base);
    }
}

/// `value` as a proxy, if it is one. The types are `Traced` and its direct
/// subclasses (nobody else may subclass it): two pointer comparisons, where
/// a subtype check walks a raw value's bases.
pub fn as_proxy<'a, 'py>(value: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, Traced>> {
    let base = Traced::type_object_raw(value.py());
    // SAFETY: GIL held; a type's `tp_base` is a plain pointer.
    let is_proxy = unsafe {
        let ty = ffi::Py_TYPE(value.as_ptr());
        ty == base || (*ty).tp_base == base
    };
    // SAFETY: checked just above.
    is_proxy.then(|| unsafe { value.cast_unchecked::<Traced>() })
}

/// The type for a new proxy of `value`.
pub fn type_for(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<*mut ffi::PyTypeObject> {
    let protocols = protocols_of(value);
    // SAFETY: GIL held; entries are set once and live as long as the module.
    unsafe {
        let known = (*TYPES.0.get())[protocols];
        if !known.is_null() {
            return Ok(known);
        }
        let made = make(py, protocols)?;
        (*TYPES.0.get())[protocols] = made;
        Ok(made)
    }
}

fn protocols_of(value: &Bound<'_, PyAny>) -> usize {
    // SAFETY: GIL held; a type object's slot tables are plain pointers.
    let (from_slots, is_path) = unsafe {
        let ty = &*ffi::Py_TYPE(value.as_ptr());
        let mut protocols = 0;
        if !ty.tp_as_number.is_null() && (*ty.tp_as_number).nb_index.is_some() {
            protocols |= INDEX;
        }
        if !ty.tp_as_buffer.is_null() && (*ty.tp_as_buffer).bf_getbuffer.is_some() {
            protocols |= BUFFER;
        }
        if ty.tp_call.is_some() {
            protocols |= CALL;
        }
        // Classes get a placeholder that says "no `__next__`" (as PyIter_Check reads it).
        if ty
            .tp_iternext
            .is_some_and(|next| next as usize != no_next(value.py()))
        {
            protocols |= NEXT;
        }
        let path =
            ffi::PyUnicode_Check(value.as_ptr()) != 0 || ffi::PyBytes_Check(value.as_ptr()) != 0;
        (protocols, path)
    };
    // Numbers and strings: decided without a lookup. Bytes are buffers
    // too (`b"".join`, `hashlib`, files' `write`); `os` functions take them
    // as paths through `__fspath__` (3.11 asks for the buffer first and
    // warns that bytes-like paths are deprecated, as it does untraced for
    // a bytearray).
    if is_path {
        return from_slots | PATH;
    }
    if value.is_exact_instance_of::<pyo3::types::PyInt>()
        || value.is_exact_instance_of::<pyo3::types::PyFloat>()
    {
        return from_slots;
    }
    let name = pyo3::intern!(value.py(), "__fspath__");
    // SAFETY: GIL held; `_PyType_Lookup` reads the type's MRO through the
    // method cache, returns a borrowed reference or NULL and sets no error.
    let has_fspath =
        unsafe { !_PyType_Lookup(ffi::Py_TYPE(value.as_ptr()), name.as_ptr()).is_null() };
    if has_fspath {
        from_slots | PATH
    } else {
        from_slots
    }
}

unsafe extern "C" {
    /// CPython's attribute lookup on a type without raising (3.11-3.13
    /// export it); `hasattr` would make and drop an AttributeError.
    fn _PyType_Lookup(ty: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// The `tp_iternext` CPython gives a class without `__next__`
/// (`_PyObject_NextNotImplemented`, not exported by 3.13): read from one.
fn no_next(py: Python<'_>) -> usize {
    static NO_NEXT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *NO_NEXT.get_or_init(|| {
        let probe = py.get_type::<pyo3::types::PyType>().call1((
            "probe",
            PyTuple::empty(py),
            PyDict::new(py),
        ));
        match probe {
            // SAFETY: GIL held; `probe` is a type object.
            Ok(probe) => unsafe {
                (*probe.as_ptr().cast::<ffi::PyTypeObject>())
                    .tp_iternext
                    .map_or(0, |next| next as usize)
            },
            Err(_) => 0,
        }
    })
}

/// A subclass of `Traced` offering `protocols`.
fn make(py: Python<'_>, protocols: usize) -> PyResult<*mut ffi::PyTypeObject> {
    let base = Traced::type_object_raw(py);
    if protocols == ALL_SLOTS {
        return Ok(base);
    }
    // SAFETY: GIL held. `base` is pyo3's heap type, alive as long as the
    // module; the subclass is made by CPython from a spec and then has its
    // own slot tables (a heap type's `tp_as_number` and `tp_as_buffer`
    // point into itself), which are the only ones changed.
    unsafe {
        let mut slots = vec![
            ffi::PyType_Slot {
                slot: ffi::Py_tp_dealloc,
                pfunc: (*base)
                    .tp_dealloc
                    .map_or(null_mut(), |f| f as *mut std::ffi::c_void),
            },
            ffi::PyType_Slot {
                slot: ffi::Py_tp_traverse,
                pfunc: (*base)
                    .tp_traverse
                    .map_or(null_mut(), |f| f as *mut std::ffi::c_void),
            },
        ];
        if protocols & PATH != 0 {
            slots.push(ffi::PyType_Slot {
                slot: ffi::Py_tp_methods,
                pfunc: path_methods().cast(),
            });
        }
        slots.push(ffi::PyType_Slot {
            slot: 0,
            pfunc: null_mut(),
        });
        let mut spec = ffi::PyType_Spec {
            name: c"hltpy.Traced".as_ptr(),
            basicsize: 0,
            itemsize: 0,
            flags: (ffi::Py_TPFLAGS_DEFAULT
                | ffi::Py_TPFLAGS_HAVE_GC
                | ffi::Py_TPFLAGS_IMMUTABLETYPE) as _,
            slots: slots.as_mut_ptr(),
        };
        // pyo3's type refuses subclasses (nobody else may make one): it
        // accepts this one while it is made.
        let flags = (*base).tp_flags;
        (*base).tp_flags |= ffi::Py_TPFLAGS_BASETYPE;
        let bases = ffi::PyTuple_Pack(1, base.cast::<ffi::PyObject>());
        let made = if bases.is_null() {
            null_mut()
        } else {
            let made = ffi::PyType_FromSpecWithBases(&mut spec, bases);
            ffi::Py_DECREF(bases);
            made
        };
        (*base).tp_flags = flags;
        if made.is_null() {
            return Err(PyErr::fetch(py));
        }
        let ty = &mut *made.cast::<ffi::PyTypeObject>();
        if protocols & INDEX == 0 {
            (*ty.tp_as_number).nb_index = None;
        }
        if protocols & BUFFER == 0 {
            (*ty.tp_as_buffer).bf_getbuffer = None;
            (*ty.tp_as_buffer).bf_releasebuffer = None;
        }
        if protocols & CALL == 0 {
            ty.tp_call = None;
            ty.tp_vectorcall_offset = 0;
            ty.tp_flags &= !ffi::Py_TPFLAGS_HAVE_VECTORCALL;
        }
        if protocols & NEXT == 0 {
            ty.tp_iternext = None;
        }
        ffi::PyType_Modified(ty);
        Ok(ty)
    }
}

/// The method table of path proxies: `__fspath__` alone.
fn path_methods() -> *mut ffi::PyMethodDef {
    let methods = Box::new([
        ffi::PyMethodDef {
            ml_name: c"__fspath__".as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunction: fspath,
            },
            ml_flags: ffi::METH_NOARGS,
            ml_doc: c"The wrapped value's file system path (os.fspath).".as_ptr(),
        },
        ffi::PyMethodDef::zeroed(),
    ]);
    // Type objects keep pointing at their method table: it lives as long
    // as the process, like the types (at most 16 of them).
    Box::leak(methods).as_mut_ptr()
}

/// `__fspath__` of a path proxy, called by CPython with the GIL held.
unsafe extern "C" fn fspath(
    object: *mut ffi::PyObject,
    _no_arguments: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method with the GIL held and `object` an
    // instance of the type whose table holds it, a subclass of `Traced`.
    let py = unsafe { Python::assume_attached() };
    let result = std::panic::catch_unwind(|| {
        let proxy = unsafe { Bound::from_borrowed_ptr(py, object).cast_into_unchecked::<Traced>() };
        proxy::fspath(&proxy)
    });
    match result {
        Ok(Ok(path)) => path.into_ptr(),
        Ok(Err(err)) => {
            err.restore(py);
            null_mut()
        }
        Err(_) => {
            pyo3::exceptions::PyRuntimeError::new_err("hltpy: __fspath__ of a traced value failed")
                .restore(py);
            null_mut()
        }
    }
}
