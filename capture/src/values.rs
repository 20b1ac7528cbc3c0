//! What a node records of its value: the type, a typed scalar where the value
//! is an int/float/bool/str, else a bounded, address-free printable form.
//! Computed before the recorder lock is taken, because a user's `__repr__`
//! is arbitrary Python code; a repr that raises is recorded, never raised.

use hltpy_schema::bounded_repr;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple, PyType,
};
use pyo3::{ffi, intern};

use crate::registry::TypeCache;
use crate::state::{self, suspended, ValuesMode};
use crate::summary::{type_name, Scalar, Summary};

/// Ints wider than this many bits are summarised instead of printed:
/// printing is quadratic and CPython refuses very long ones.
const MAX_PRINTED_INT_BITS: u64 = 4096;

impl<'py> Summary<'py> {
    /// What the running capture keeps of `value` (see [`ValuesMode`]).
    pub fn of(value: &Bound<'py, PyAny>) -> Self {
        let ty = value.get_type();
        let scalar = match state::values_mode() {
            ValuesMode::Types => Scalar::Absent,
            mode => scalar_of(value, state::max_repr(), mode),
        };
        Summary {
            ty: Some(ty),
            scalar,
            // Only an `on_node` callback needs the value itself.
            object: state::listening().then(|| value.clone()),
        }
    }

    /// The summary of an operation that raised: the exception's type and,
    /// unless only types are kept, its message.
    pub fn raised(err: &PyErr, py: Python<'py>) -> Self {
        let exception = err.value(py);
        let text = match state::values_mode() {
            ValuesMode::Full => format!(
                "raised {}",
                bounded_repr(exception.as_any(), state::max_repr())
            ),
            _ => format!("raised {}", type_name(&exception.get_type())),
        };
        Summary {
            ty: Some(exception.get_type()),
            scalar: Scalar::Repr(text),
            object: Some(exception.clone().into_any()),
        }
    }
}

fn scalar_of<'py>(value: &Bound<'py, PyAny>, max_repr: usize, mode: ValuesMode) -> Scalar<'py> {
    // Exact checks first: they are the hot path, and subclasses (IntEnum,
    // str subclasses with a custom repr) deserve their repr instead.
    if value.is_exact_instance_of::<PyBool>() {
        return Scalar::Bool(value.is_truthy().unwrap_or(false));
    }
    if value.is_exact_instance_of::<PyInt>() {
        return int_scalar(value);
    }
    if value.is_exact_instance_of::<PyFloat>() {
        // SAFETY: checked to be an exact float above.
        return Scalar::Float(unsafe { ffi::PyFloat_AS_DOUBLE(value.as_ptr()) });
    }
    if value.is_exact_instance_of::<PyString>() {
        let text = value.cast::<PyString>().expect("checked exact str");
        let short = text.len().map(|n| n <= max_repr).unwrap_or(false);
        if short && text.to_str().is_ok() {
            return Scalar::Str(text.clone());
        }
        // Lone surrogates cannot be UTF-8; long strings are cut. Both are
        // kept as a repr, which escapes what UTF-8 cannot hold.
        return repr_unless_scalars_only(value, max_repr, mode);
    }
    // A bound method is fetched on every method call; its type and the
    // GetAttr's name say all there is, and printing it is not cheap.
    if is_method(value) {
        return Scalar::Absent;
    }
    repr_unless_scalars_only(value, max_repr, mode)
}

fn repr_unless_scalars_only<'py>(
    value: &Bound<'py, PyAny>,
    max_repr: usize,
    mode: ValuesMode,
) -> Scalar<'py> {
    match mode {
        ValuesMode::Full => Scalar::Repr(bounded_repr(value, max_repr)),
        _ => Scalar::Absent,
    }
}

fn int_scalar<'py>(value: &Bound<'py, PyAny>) -> Scalar<'py> {
    let mut overflow = 0;
    // SAFETY: `value` is an exact int; the call cannot run Python code.
    let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
    if overflow == 0 && !(small == -1 && PyErr::occurred(value.py())) {
        return Scalar::Int(small);
    }
    let bits: u64 = value
        .call_method0(intern!(value.py(), "bit_length"))
        .and_then(|b| b.extract())
        .unwrap_or(u64::MAX);
    if bits > MAX_PRINTED_INT_BITS {
        return Scalar::Repr(format!("<int of {bits} bits>"));
    }
    Scalar::Repr(
        value
            .str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "<int>".into()),
    )
}

/// A printable form of any value, at most about `max` bytes, free of memory
/// addresses (so traces of two runs can be compared), never raising.
pub fn bounded_repr(value: &Bound<'_, PyAny>, max: usize) -> String {
    let mut out = String::new();
    write_bounded(value, max, 0, &mut out);
    bounded_repr::cut(out, max)
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    open: &str,
    close: &str,
    max: usize,
    depth: usize,
    out: &mut String,
) {
    bounded_repr::write_items(out, items, open, close, max, |out, item| {
        write_bounded(&item, max, depth + 1, out)
    });
}

fn write_bounded(value: &Bound<'_, PyAny>, max: usize, depth: usize, out: &mut String) {
    let py = value.py();
    if bounded_repr::elide_deeper(depth, out) {
        return;
    }
    // Builtin containers: only look at as many items as fit, so that a
    // million-element list costs no more than a short one.
    if let Ok(list) = value.cast_exact::<PyList>() {
        return write_items(list.iter(), "[", "]", max, depth, out);
    }
    if let Ok(tuple) = value.cast_exact::<PyTuple>() {
        let close = bounded_repr::tuple_close(tuple.len());
        return write_items(tuple.iter(), "(", close, max, depth, out);
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        return bounded_repr::write_items(out, dict.iter(), "{", "}", max, |out, (key, item)| {
            write_bounded(&key, max, depth + 1, out);
            out.push_str(": ");
            write_bounded(&item, max, depth + 1, out);
        });
    }
    if let Ok(set) = value.cast_exact::<PySet>() {
        if set.is_empty() {
            out.push_str("set()");
            return;
        }
        return write_items(set.iter(), "{", "}", max, depth, out);
    }
    if let Ok(set) = value.cast_exact::<PyFrozenSet>() {
        return write_items(set.iter(), "frozenset({", "})", max, depth, out);
    }
    if let Ok(traced) = value.cast::<crate::proxy::Traced>() {
        return write_bounded(traced.get().value.bind(py), max, depth, out);
    }
    let ty = value.get_type();
    match REPR_RULES.get(&ty, || work_out_repr_rule(&ty)) {
        ReprRule::Default(text) => return out.push_str(&text),
        ReprRule::Named => {
            if let Some(text) = named_repr(value, &ty) {
                return out.push_str(&text);
            }
        }
        // Printed item by item, as far as fits: their own repr prints
        // every item, and a node per `self.data[i]` of a 10,000-item
        // array made each read cost the whole array.
        ReprRule::Array => {
            if let Ok(code) = value.getattr(intern!(py, "typecode")) {
                let code = code.to_string();
                if code != "u" {
                    out.push_str(&format!("array('{code}'"));
                    if value.len().unwrap_or(0) > 0 {
                        if let Ok(items) = value.try_iter() {
                            write_items(items.flatten(), ", [", "]", max, depth, out);
                        }
                    }
                    return out.push(')');
                }
            }
        }
        ReprRule::Deque => {
            let maxlen = value
                .getattr(intern!(py, "maxlen"))
                .ok()
                .filter(|m| !m.is_none());
            if let Ok(items) = value.try_iter() {
                write_items(items.flatten(), "deque([", "]", max, depth, out);
                if let Some(maxlen) = maxlen {
                    out.push_str(&format!(", maxlen={maxlen}"));
                }
                return out.push(')');
            }
        }
        ReprRule::Own => {}
    }
    let repr = suspended(|| value.repr());
    match repr {
        Ok(text) => out.push_str(&text.to_string_lossy()),
        Err(err) => {
            // Ctrl-C can land inside a user's __repr__ that hltpy called;
            // swallowing it would leave the program uninterruptible, so the
            // traced operation raises it. (Re-arming the signal instead let
            // it fire in the next __repr__ hltpy called, again and again.)
            if err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                state::owe(err.clone_ref(py));
            }
            let kind = err
                .get_type(py)
                .name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push_str(&format!(
                "<repr of {} raised {kind}>",
                type_name(&value.get_type())
            ));
        }
    }
}

/// How values of one type are printed without a memory address.
#[derive(Clone)]
enum ReprRule {
    /// Functions, methods, modules, generators, classes: named per value.
    Named,
    /// The default `object.__repr__` ("<mod.C object at 0x…>"): the same
    /// address-free text for every value of the type.
    Default(std::sync::Arc<str>),
    /// The type's own `__repr__`.
    Own,
    /// `array.array`: its items as far as they fit.
    Array,
    /// `collections.deque`: its items as far as they fit.
    Deque,
}

/// How each type prints, asked for every object-valued node (a `__repr__`
/// assigned to a class after its first value was recorded is not noticed).
static REPR_RULES: TypeCache<ReprRule> = TypeCache::new();

fn work_out_repr_rule(ty: &Bound<'_, PyType>) -> ReprRule {
    let py = ty.py();
    let named = [
        "function",
        "builtin_function_or_method",
        "method",
        "method-wrapper",
        "wrapper_descriptor",
        "method_descriptor",
        "module",
        "generator",
    ];
    let is_named = ty
        .name()
        .is_ok_and(|n| named.contains(&n.to_string_lossy().as_ref()));
    if is_named || ty.is_subclass_of::<PyType>().unwrap_or(false) {
        return ReprRule::Named;
    }
    match type_name(ty).as_str() {
        "array.array" => return ReprRule::Array,
        "collections.deque" => return ReprRule::Deque,
        _ => {}
    }
    let object_repr = py
        .get_type::<pyo3::types::PyAny>()
        .getattr(intern!(py, "__repr__"));
    let own_repr = ty.getattr(intern!(py, "__repr__"));
    match (object_repr, own_repr) {
        (Ok(object_repr), Ok(own_repr)) if own_repr.is(&object_repr) => {
            ReprRule::Default(format!("<{} object>", type_name(ty)).into())
        }
        _ => ReprRule::Own,
    }
}

fn named_repr(value: &Bound<'_, PyAny>, ty: &Bound<'_, PyType>) -> Option<String> {
    let py = value.py();
    let qualname = |v: &Bound<'_, PyAny>| {
        v.getattr(intern!(py, "__qualname__"))
            .and_then(|q| q.extract::<String>())
            .ok()
    };
    if let Ok(class) = value.cast::<PyType>() {
        return Some(format!("<class {}>", type_name(class)));
    }
    let ty_name = ty.name().ok()?.to_string_lossy().into_owned();
    match ty_name.as_str() {
        "module" => Some(format!(
            "<module {}>",
            value.getattr(intern!(py, "__name__")).ok()?
        )),
        "generator" => Some(format!("<generator {}>", qualname(value)?)),
        "function" => Some(format!("<function {}>", qualname(value)?)),
        "method" => Some(format!("<bound method {}>", qualname(value)?)),
        // With its module when it has one (`<built-in math.hypot>`), so a
        // reader knows where to find it; methods of builtin types have none.
        _ => {
            let module = value
                .getattr(intern!(py, "__module__"))
                .ok()
                .and_then(|m| m.extract::<String>().ok())
                .filter(|m| m != "builtins");
            Some(match module {
                Some(module) => format!("<built-in {module}.{}>", qualname(value)?),
                None => format!("<built-in {}>", qualname(value)?),
            })
        }
    }
}

extern "C" {
    /// `types.MethodType` and its accessors, not exported by pyo3-ffi.
    static mut PyMethod_Type: ffi::PyTypeObject;
    fn PyMethod_Function(method: *mut ffi::PyObject) -> *mut ffi::PyObject;
    fn PyMethod_Self(method: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// The function and receiver of a bound method (`types.MethodType`), read
/// from the object itself: every method call through a proxy asks, and
/// `getattr(m, "__func__")` is a dictionary lookup each.
pub fn method_parts<'py>(
    value: &Bound<'py, PyAny>,
) -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if !is_method(value) {
        return None;
    }
    let py = value.py();
    // SAFETY: `value` is a live method object (checked above), GIL held;
    // both accessors return borrowed references it keeps alive, taken as
    // new references here.
    unsafe {
        let function = PyMethod_Function(value.as_ptr());
        let receiver = PyMethod_Self(value.as_ptr());
        Some((
            Bound::from_borrowed_ptr(py, function),
            Bound::from_borrowed_ptr(py, receiver),
        ))
    }
}

/// Is `value` a bound method of a Python function (`types.MethodType`)?
pub fn is_method(value: &Bound<'_, PyAny>) -> bool {
    // SAFETY: only the address of CPython's static method type is taken.
    unsafe { ffi::Py_TYPE(value.as_ptr()) == std::ptr::addr_of_mut!(PyMethod_Type) }
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use pyo3::types::PyDict;

    use super::*;

    /// The values a Python snippet defines, by name, in an interpreter of
    /// the test's own.
    fn with_values(source: &str, test: impl FnOnce(&Bound<'_, PyDict>)) {
        Python::attach(|py| {
            let names = PyDict::new(py);
            let code = CString::new(source).expect("no NUL in a test");
            py.run(&code, Some(&names), None).expect("the snippet runs");
            test(&names);
        });
    }

    fn value<'py>(names: &Bound<'py, PyDict>, name: &str) -> Bound<'py, PyAny> {
        names
            .get_item(name)
            .expect("a dict lookup")
            .expect("the snippet defines it")
    }

    /// The table eval's tests print too: the capture of each literal's
    /// value prints the text both must.
    #[test]
    fn the_shared_repr_table_prints_as_it_says() {
        for case in bounded_repr::CASES {
            with_values(&format!("v = {}", case.literal), |names| {
                let printed = bounded_repr(&value(names, "v"), case.max);
                assert_eq!(printed, case.expected, "{case:?}");
            });
        }
    }

    #[test]
    fn values_that_fit_print_as_their_repr() {
        with_values(
            "import array, collections\n\
             cases = [[1, 2.5, 'a\\n\\'\"', b'x\\x00', None, True], (1,), (), \
             {'a': [1, (2, 3)], 3: {4}}, set(), frozenset({1}), [[[[1]]]], \
             array.array('d', [1.0, 2.5]), array.array('b'), \
             collections.deque([1, 2], maxlen=3), collections.deque(), \
             '\\xe9\\U0001f600\\x00\\u0378', 2**200, -0.0, float('nan'), 1e300 * 10, 3+4j]\n",
            |names| {
                let cases = value(names, "cases");
                for case in cases.try_iter().expect("a list").flatten() {
                    let python = case.repr().expect("repr").to_string();
                    assert_eq!(bounded_repr(&case, 10_000), python);
                }
            },
        );
    }

    #[test]
    fn a_long_value_is_cut_at_max_on_a_character_boundary_and_marked() {
        with_values(
            "numbers = list(range(100_000))\ntext = '\\xe9' * 100\n",
            |names| {
                let numbers = bounded_repr(&value(names, "numbers"), 50);
                assert!(numbers.starts_with("[0, 1, 2, 3,"), "{numbers}");
                assert!(numbers.ends_with('…'), "{numbers}");
                assert!(numbers.len() <= 50 + '…'.len_utf8(), "{numbers}");
                // 'é' is two bytes: a cut at 12 bytes keeps the quote and
                // five of them, never half of one.
                let text = bounded_repr(&value(names, "text"), 12);
                assert_eq!(text, "'ééééé…");
            },
        );
    }

    #[test]
    fn objects_print_without_their_address() {
        with_values(
            "__name__ = 'user'\nimport math\n\
             class Plain: pass\n\
             def function(): pass\n\
             class Raises:\n    def __repr__(self): raise ValueError('no')\n\
             cases = [Plain(), function, math, len, math.hypot, Plain, (x for x in ()), Raises()]\n",
            |names| {
                let cases = value(names, "cases");
                let printed: Vec<String> = cases
                    .try_iter()
                    .expect("a list")
                    .flatten()
                    .map(|case| bounded_repr(&case, 1000))
                    .collect();
                assert_eq!(
                    printed,
                    [
                        "<user.Plain object>",
                        "<function function>",
                        "<module math>",
                        "<built-in len>",
                        "<built-in math.hypot>",
                        "<class user.Plain>",
                        "<generator <genexpr>>",
                        "<repr of user.Raises raised ValueError>",
                    ]
                );
            },
        );
    }

    #[test]
    fn nesting_deeper_than_eight_is_elided() {
        with_values("deep = [[[[[[[[[[[1]]]]]]]]]]]\n", |names| {
            assert_eq!(
                bounded_repr(&value(names, "deep"), 1000),
                "[[[[[[[[[...]]]]]]]]]"
            );
        });
    }
}
