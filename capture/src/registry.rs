//! Which classes and function bodies belong to traced modules. Method calls
//! and operators on instances of these classes run their bodies traced.

use rustc_hash::FxHashMap;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyFunction, PyType};

use crate::calls::TracedFunction;

/// Address → object, holding a reference so the address stays unique.
type Table = Mutex<Option<FxHashMap<usize, Py<PyAny>>>>;
static TRACED_TYPES: Table = Mutex::new(None);
static TRACED_CODE: Table = Mutex::new(None);

fn insert(table: &Table, object: &Bound<'_, PyAny>) {
    let mut guard = table.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get_or_insert_with(FxHashMap::default)
        .insert(object.as_ptr() as usize, object.clone().unbind());
}

fn contains(table: &Table, object: &Bound<'_, PyAny>) -> bool {
    let guard = table.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .is_some_and(|t| t.contains_key(&(object.as_ptr() as usize)))
}

/// Marks a function's body as traced.
pub fn register_function(function: &Bound<'_, PyAny>) -> PyResult<()> {
    let code = function.getattr("__code__")?;
    insert(&TRACED_CODE, &code);
    Ok(())
}

/// Marks a class and the functions defined in its body (methods,
/// staticmethods, classmethods, property getters) as traced. Returns the
/// plain functions of its body (its instance methods, by name).
pub fn register_class<'py>(
    class: &Bound<'py, PyType>,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    insert(&TRACED_TYPES, class.as_any());
    // Earlier answers about subclasses may have changed.
    TYPE_ANSWERS.clear();
    let namespace = class.getattr("__dict__")?;
    let items = namespace.call_method0("items")?;
    let mut methods = Vec::new();
    for item in items.try_iter()? {
        let (name, member): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let function = if member.is_instance_of::<PyFunction>() {
            methods.push((name, member.clone()));
            Some(member)
        } else {
            // staticmethod / classmethod / property keep the function inside.
            ["__func__", "fget"]
                .iter()
                .find_map(|attr| member.getattr(*attr).ok())
                .filter(|f| f.is_instance_of::<PyFunction>())
        };
        if let Some(function) = function {
            register_function(&function)?;
        }
    }
    Ok(methods)
}

/// Is `value` a Python function whose body belongs to a traced module?
pub fn is_traced_function(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyFunction>()
        && value
            .getattr(pyo3::intern!(value.py(), "__code__"))
            .is_ok_and(|code| contains(&TRACED_CODE, &code))
}

/// The traced Python function behind `value`: `value` itself when it is
/// one, the wrapped function of a traced method put in a class's body.
pub fn traced_body<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    if let Ok(wrapper) = value.cast::<TracedFunction>() {
        return Some(wrapper.get().function().bind(value.py()).clone());
    }
    is_traced_function(value).then(|| value.clone())
}

/// The traced function that implements special method `name` for `value`,
/// if `value` is an instance of a traced class that defines one.
pub fn traced_special<'py>(value: &Bound<'py, PyAny>, name: &str) -> Option<Bound<'py, PyAny>> {
    let class = value.get_type();
    if !is_traced_type_or_subclass(&class) {
        return None;
    }
    traced_body(&class.getattr(name).ok()?)
}

/// Per-type answers, worked out once: type address → (type, answer). The
/// type is kept alive, so its address is not reused. Asked on hot paths.
pub struct TypeCache<T>(Mutex<Option<Answers<T>>>);

type Answers<T> = FxHashMap<usize, (Py<PyType>, T)>;

impl<T: Clone> TypeCache<T> {
    pub const fn new() -> Self {
        TypeCache(Mutex::new(None))
    }

    /// The answer for `class`. `work_out` runs without the cache's lock
    /// held: it may run Python code that asks the cache again.
    pub fn get(&self, class: &Bound<'_, PyType>, work_out: impl FnOnce() -> T) -> T {
        let key = class.as_ptr() as usize;
        if let Some((_, answer)) = self.lock().as_ref().and_then(|t| t.get(&key)) {
            return answer.clone();
        }
        let answer = work_out();
        self.lock()
            .get_or_insert_with(FxHashMap::default)
            .insert(key, (class.clone().unbind(), answer.clone()));
        answer
    }

    fn clear(&self) {
        let old = self.lock().take();
        drop(old);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Answers<T>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Is the type, or does it inherit from, a traced class?
static TYPE_ANSWERS: TypeCache<bool> = TypeCache::new();

pub fn is_traced_type_or_subclass(class: &Bound<'_, PyType>) -> bool {
    TYPE_ANSWERS.get(class, || {
        let guard = TRACED_TYPES.lock().unwrap_or_else(|p| p.into_inner());
        // A subclass defined outside the traced modules still runs the
        // traced methods it inherits.
        guard.as_ref().is_some_and(|types| {
            class
                .mro()
                .iter()
                .any(|base| types.contains_key(&(base.as_ptr() as usize)))
        })
    })
}

/// Does the type derive from a builtin type other than `object`? Asked
/// for each traced method call.
static BUILTIN_BASED: TypeCache<bool> = TypeCache::new();

pub fn derives_from_builtin(class: &Bound<'_, PyType>) -> bool {
    BUILTIN_BASED.get(class, || {
        let object = class.py().get_type::<pyo3::types::PyAny>();
        class.mro().iter().skip(1).any(|base| {
            let base = base.cast_into::<PyType>().expect("an MRO holds types");
            !base.is(&object) && !is_heap_type(&base)
        })
    })
}

/// Is `class` defined in Python (not a builtin or extension type)?
pub fn is_heap_type(class: &Bound<'_, PyType>) -> bool {
    // SAFETY: reads the flags of a live type object.
    let flags = unsafe { pyo3::ffi::PyType_GetFlags(class.as_type_ptr()) };
    flags & pyo3::ffi::Py_TPFLAGS_HEAPTYPE != 0
}
