//! The Python value domain that re-evaluation computes in: the builtin
//! types with CPython's printing and equality, objects of traced classes,
//! and `Opaque` for what hltpy cannot rebuild (kept as type + repr).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use hltpy_schema::bounded_repr;
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

use crate::pymath::PythonVersion;

/// A Python int: machine-sized while it fits, arbitrary precision after.
#[derive(Clone, Debug)]
pub enum Int {
    Small(i64),
    Big(Rc<BigInt>),
}

impl Int {
    /// The canonical form: `Small` whenever the value fits.
    pub fn from_big(value: BigInt) -> Int {
        match value.to_i64() {
            Some(small) => Int::Small(small),
            None => Int::Big(Rc::new(value)),
        }
    }

    pub fn to_big(&self) -> BigInt {
        match self {
            Int::Small(v) => BigInt::from(*v),
            Int::Big(v) => (**v).clone(),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Int::Small(v) => Some(*v),
            Int::Big(_) => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Int::Small(0))
    }

    pub fn is_negative(&self) -> bool {
        match self {
            Int::Small(v) => *v < 0,
            Int::Big(v) => v.is_negative(),
        }
    }

    /// Bits of the absolute value (Python's `int.bit_length`).
    pub fn bits(&self) -> u64 {
        match self {
            Int::Small(v) => 64 - v.unsigned_abs().leading_zeros() as u64,
            Int::Big(v) => v.bits(),
        }
    }

    /// Python's `float(int)`: rounded to nearest, `None` when too large.
    pub fn to_f64(&self) -> Option<f64> {
        let value = match self {
            Int::Small(v) => *v as f64,
            Int::Big(v) => v.to_f64()?,
        };
        value.is_finite().then_some(value)
    }
}

impl PartialEq for Int {
    fn eq(&self, other: &Int) -> bool {
        match (self, other) {
            (Int::Small(a), Int::Small(b)) => a == b,
            (Int::Big(a), Int::Big(b)) => a == b,
            _ => false, // canonical forms never mix for one value
        }
    }
}

impl std::fmt::Display for Int {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Int::Small(v) => write!(f, "{v}"),
            Int::Big(v) => write!(f, "{v}"),
        }
    }
}

/// An object of a traced class: its class name and the attributes that
/// were set on it, in order. Shared and mutable, as Python objects are:
/// the SetAttr nodes of `__init__` fill the object the Obj node made.
#[derive(Debug)]
pub struct Object {
    pub class: Rc<str>,
    pub attrs: RefCell<Vec<(Rc<str>, Value)>>,
    /// Every write to its attributes that a pass saw agreed with the
    /// recording by value (eval clears it at the first that did not, or
    /// when code it does not follow may have changed the object).
    pub writes_agreed: std::cell::Cell<bool>,
}

impl Object {
    /// An object of `class` with no attributes yet.
    pub fn new(class: Rc<str>) -> Object {
        Object {
            class,
            attrs: Default::default(),
            writes_agreed: std::cell::Cell::new(true),
        }
    }

    /// Is the object's whole state known to equal the recorded run's: it
    /// has attributes, every write to them agreed by value, and each holds
    /// an immutable value (a list held could have changed untraced) or
    /// an object whose state is known in turn.
    pub fn state_agrees(&self) -> bool {
        self.agrees_at(0)
    }

    fn agrees_at(&self, depth: usize) -> bool {
        fn settled(value: &Value, depth: usize) -> bool {
            match value {
                Value::None
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Complex(..)
                | Value::Str(_)
                | Value::Bytes(_) => true,
                Value::Tuple(items) => items.iter().all(|item| settled(item, depth)),
                Value::Object(object) => depth < 8 && object.agrees_at(depth + 1),
                _ => false,
            }
        }
        let attrs = match self.attrs.try_borrow() {
            Ok(attrs) => attrs,
            Err(_) => return false,
        };
        self.writes_agreed.get()
            && !attrs.is_empty()
            && attrs.iter().all(|(_, v)| settled(v, depth))
    }

    pub fn attr(&self, name: &str) -> Option<Value> {
        self.attrs
            .borrow()
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.clone())
    }

    pub fn set_attr(&self, name: Rc<str>, value: Value) {
        let mut attrs = self.attrs.borrow_mut();
        match attrs.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => attrs.push((name, value)),
        }
    }
}

/// A value of a traced program, as far as hltpy can know it.
#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(Int),
    Float(f64),
    Complex(f64, f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<[Value]>),
    /// Lists and dicts are shared and mutable, as in Python: a SetItem
    /// changes the list every node holding it sees.
    List(Rc<RefCell<Vec<Value>>>),
    /// Insertion order, as Python keeps it.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Set(Rc<[Value]>),
    FrozenSet(Rc<[Value]>),
    /// start, stop, step.
    Slice(Rc<[Value; 3]>),
    /// start, stop, step.
    Range(Rc<[Int; 3]>),
    Object(Rc<Object>),
    /// A module, by its name (`<module math>`).
    Module(Rc<str>),
    /// A builtin function by its qualified name (`len`, `math.sqrt`).
    Builtin(Rc<str>),
    /// A dict view (`dict_items`, `dict_keys`, `dict_values`) with its items.
    View(&'static str, Rc<[Value]>),
    /// An iterator over a value, with its Python type name (`list_iterator`).
    Iter(Rc<(Value, Rc<str>)>),
    /// A method bound to a value: `receiver.name`.
    Method(Rc<(Value, Rc<str>)>),
    /// Something hltpy cannot rebuild: its type name and recorded repr.
    Opaque(Rc<Opaque>),
    /// The exception an operation raised: its type and its message.
    Raised(Rc<Raised>),
}

/// See [`Value::downgrade`].
pub enum WeakValue {
    List(std::rc::Weak<RefCell<Vec<Value>>>),
    Dict(std::rc::Weak<RefCell<Vec<(Value, Value)>>>),
    Set(std::rc::Weak<[Value]>),
    Opaque(std::rc::Weak<Opaque>),
}

impl WeakValue {
    /// Is the value still held somewhere?
    pub fn is_alive(&self) -> bool {
        match self {
            WeakValue::List(weak) => weak.strong_count() > 0,
            WeakValue::Dict(weak) => weak.strong_count() > 0,
            WeakValue::Set(weak) => weak.strong_count() > 0,
            WeakValue::Opaque(weak) => weak.strong_count() > 0,
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Opaque {
    pub type_name: Rc<str>,
    pub repr: Option<Rc<str>>,
}

#[derive(Debug, PartialEq)]
pub struct Raised {
    pub type_name: &'static str,
    /// The exception's arguments as its repr shows them: `'division by zero'`.
    pub args: String,
}

impl Value {
    pub fn int(value: i64) -> Value {
        Value::Int(Int::Small(value))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(items)))
    }

    pub fn dict(pairs: Vec<(Value, Value)>) -> Value {
        Value::Dict(Rc::new(RefCell::new(pairs)))
    }

    /// The items of a tuple, list, set, frozenset or dict view, lent to `f`.
    pub fn with_items<R>(&self, f: impl FnOnce(&[Value]) -> R) -> Option<R> {
        match self {
            Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items)
            | Value::View(_, items) => Some(f(items)),
            Value::List(items) => Some(f(&items.borrow())),
            _ => None,
        }
    }

    pub fn str(text: &str) -> Value {
        Value::Str(Rc::from(text))
    }

    /// An exception with one message (none when empty).
    pub fn raised(type_name: &'static str, message: impl AsRef<str>) -> Value {
        let message = message.as_ref();
        let args = if message.is_empty() {
            String::new()
        } else {
            str_repr(message)
        };
        Value::raised_with(type_name, args)
    }

    /// An exception whose arguments are written out: `34, 'out of range'`.
    pub fn raised_with(type_name: &'static str, args: String) -> Value {
        Value::Raised(Rc::new(Raised { type_name, args }))
    }

    pub fn opaque(type_name: &str, repr: Option<&str>) -> Value {
        Value::Opaque(Rc::new(Opaque {
            type_name: Rc::from(type_name),
            repr: repr.map(Rc::from),
        }))
    }

    /// The name of the value's type as the trace's `type` column writes it.
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Slice(_) => "slice",
            Value::Range(_) => "range",
            Value::Object(object) => &object.class,
            Value::Module(_) => "module",
            Value::Builtin(_) => "builtin_function_or_method",
            Value::View(kind, _) => kind,
            Value::Iter(iter) => &iter.1,
            // A method of a traced class's object is a Python bound
            // method; one of a builtin value is a builtin.
            Value::Method(method) if matches!(method.0, Value::Object(_)) => "method",
            Value::Method(_) => "builtin_function_or_method",
            Value::Opaque(opaque) => &opaque.type_name,
            Value::Raised(raised) => raised.type_name,
        }
    }

    /// The identity of a value that can change in place (a list, dict,
    /// set, or an object hltpy only knows by its repr), as `id()` would
    /// tell it: its allocation.
    pub fn identity(&self) -> Option<usize> {
        match self {
            Value::List(items) => Some(Rc::as_ptr(items) as *const () as usize),
            Value::Dict(pairs) => Some(Rc::as_ptr(pairs) as *const () as usize),
            Value::Set(items) => Some(Rc::as_ptr(items) as *const () as usize),
            Value::Opaque(opaque) => Some(Rc::as_ptr(opaque) as *const () as usize),
            _ => None,
        }
    }

    /// A weak reference to a value with an identity: while it exists,
    /// that identity is not reused by another value.
    pub fn downgrade(&self) -> Option<WeakValue> {
        Some(match self {
            Value::List(items) => WeakValue::List(Rc::downgrade(items)),
            Value::Dict(pairs) => WeakValue::Dict(Rc::downgrade(pairs)),
            Value::Set(items) => WeakValue::Set(Rc::downgrade(items)),
            Value::Opaque(opaque) => WeakValue::Opaque(Rc::downgrade(opaque)),
            _ => return None,
        })
    }

    /// Is this an object of a user's class, or a container holding one
    /// (within the items a bounded repr shows)?
    pub fn holds_object(&self) -> bool {
        fn holds(value: &Value, depth: usize) -> bool {
            if depth > bounded_repr::MAX_DEPTH {
                return false;
            }
            let any = |items: &[Value]| items.iter().take(256).any(|v| holds(v, depth + 1));
            match value {
                Value::Object(_) => true,
                Value::Method(method) => matches!(method.0, Value::Object(_)),
                Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => any(items),
                Value::View(_, items) => any(items),
                Value::List(items) => items.try_borrow().is_ok_and(|items| any(&items)),
                Value::Dict(pairs) => pairs.try_borrow().is_ok_and(|pairs| {
                    pairs
                        .iter()
                        .take(256)
                        .any(|(k, v)| holds(k, depth + 1) || holds(v, depth + 1))
                }),
                _ => false,
            }
        }
        holds(self, 0)
    }

    /// Is this a value hltpy computed with (not an opaque stand-in)?
    pub fn is_known(&self) -> bool {
        match self {
            Value::Opaque(_) | Value::Raised(_) => false,
            Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
                items.iter().all(Value::is_known)
            }
            Value::List(items) => items
                .try_borrow()
                .is_ok_and(|items| items.iter().all(Value::is_known)),
            Value::Dict(pairs) => pairs
                .try_borrow()
                .is_ok_and(|pairs| pairs.iter().all(|(k, v)| k.is_known() && v.is_known())),
            Value::Slice(parts) => parts.iter().all(Value::is_known),
            Value::Method(method) => method.0.is_known(),
            Value::Iter(iter) => iter.0.is_known(),
            Value::View(_, items) => items.iter().all(Value::is_known),
            _ => true,
        }
    }

    /// Python's `repr()`, as capture writes it (`<mod.C object>` for
    /// objects, without addresses).
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out, usize::MAX, 0);
        out
    }

    /// The repr cut as capture cuts it: containers stop adding items once
    /// `max` bytes are written (then `...`), and the whole is cut at `max`
    /// bytes with `…`.
    pub fn bounded_repr(&self, max: usize) -> String {
        let mut out = String::new();
        self.write_repr(&mut out, max, 0);
        bounded_repr::cut(out, max)
    }

    /// Writes the repr; like capture, nesting deeper than 8 (or a list that
    /// holds itself) prints as `...`.
    fn write_repr(&self, out: &mut String, max: usize, depth: usize) {
        if bounded_repr::elide_deeper(depth, out) {
            return;
        }
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float(v) => out.push_str(&float_repr(*v)),
            Value::Complex(re, im) => out.push_str(&complex_repr(*re, *im)),
            Value::Str(text) => out.push_str(&str_repr(text)),
            Value::Bytes(bytes) => out.push_str(&bytes_repr(bytes)),
            Value::Tuple(items) => {
                let close = bounded_repr::tuple_close(items.len());
                write_items(out, items.iter(), "(", close, max, depth);
            }
            Value::List(items) => match items.try_borrow() {
                Ok(items) => write_items(out, items.iter(), "[", "]", max, depth),
                Err(_) => out.push_str("[...]"),
            },
            Value::Dict(pairs) => {
                let Ok(pairs) = pairs.try_borrow() else {
                    out.push_str("{...}");
                    return;
                };
                bounded_repr::write_items(out, pairs.iter(), "{", "}", max, |out, (key, value)| {
                    key.write_repr(out, max, depth + 1);
                    out.push_str(": ");
                    value.write_repr(out, max, depth + 1);
                });
            }
            Value::Set(items) if items.is_empty() => out.push_str("set()"),
            Value::Set(items) => write_items(out, items.iter(), "{", "}", max, depth),
            Value::FrozenSet(items) => {
                write_items(out, items.iter(), "frozenset({", "})", max, depth)
            }
            Value::Slice(parts) => write_items(out, parts.iter(), "slice(", ")", max, depth),
            Value::Range(parts) => {
                let [start, stop, step] = &**parts;
                if matches!(step, Int::Small(1)) {
                    let _ = write!(out, "range({start}, {stop})");
                } else {
                    let _ = write!(out, "range({start}, {stop}, {step})");
                }
            }
            Value::View(kind, items) => {
                out.push_str(kind);
                write_items(out, items.iter(), "([", "])", max, depth);
            }
            Value::Iter(iter) => {
                let _ = write!(out, "<{} object>", iter.1);
            }
            Value::Object(object) => {
                let _ = write!(out, "<{} object>", object.class);
            }
            Value::Module(name) => {
                let _ = write!(out, "<module {name}>");
            }
            // As capture prints it: with its module (`<built-in math.sqrt>`).
            Value::Builtin(name) => {
                let _ = write!(out, "<built-in {name}>");
            }
            Value::Method(method) => match &method.0 {
                Value::Object(object) => {
                    let class = object.class.rsplit('.').next().unwrap_or(&object.class);
                    let _ = write!(out, "<bound method {class}.{}>", method.1);
                }
                receiver => {
                    let _ = write!(out, "<built-in {}.{}>", receiver.type_name(), method.1);
                }
            },
            Value::Opaque(opaque) => match &opaque.repr {
                Some(repr) => out.push_str(repr),
                None => {
                    let _ = write!(out, "<{}>", opaque.type_name);
                }
            },
            Value::Raised(raised) => {
                let _ = write!(out, "raised {}({})", raised.type_name, raised.args);
            }
        }
    }

    /// Python's truth value, when hltpy knows it.
    pub fn truth(&self) -> Option<bool> {
        Some(match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(v) => !v.is_zero(),
            Value::Float(v) => *v != 0.0,
            Value::Complex(re, im) => *re != 0.0 || *im != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => !items.is_empty(),
            Value::List(items) => !items.borrow().is_empty(),
            Value::Dict(pairs) => !pairs.borrow().is_empty(),
            Value::View(_, items) => !items.is_empty(),
            Value::Iter(_) => true,
            Value::Range(_) => return crate::python::range_len(self).map(|n| n > 0),
            Value::Module(_) | Value::Builtin(_) | Value::Method(_) | Value::Slice(_) => true,
            Value::Object(_) | Value::Opaque(_) | Value::Raised(_) => return None,
        })
    }
}

fn write_items<'a>(
    out: &mut String,
    items: impl Iterator<Item = &'a Value>,
    open: &str,
    close: &str,
    max: usize,
    depth: usize,
) {
    bounded_repr::write_items(out, items, open, close, max, |out, item| {
        item.write_repr(out, max, depth + 1)
    });
}

/// CPython's `repr(float)`: the shortest digits that read back the same,
/// positional from 1e-4 up to 1e16, scientific outside.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let (digits, exponent) = shortest_digits(value.abs());
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}

/// The shortest decimal digits that read back as `value` (positive,
/// finite) and the decimal exponent of the first: Rust's, but where two
/// such digit strings are exactly as close to `value`, the one ending in an
/// even digit, as CPython's `repr` picks (1801384307415321.25 prints as
/// ...321.2; Rust's shortest form rounds that tie up).
fn shortest_digits(value: f64) -> (String, i32) {
    let (digits, exponent) = rust_shortest_digits(value);
    let last = digits.as_bytes()[digits.len() - 1] - b'0';
    if last % 2 == 0 || !may_be_a_decimal_tie(value) {
        return (digits, exponent);
    }
    // An odd last digit: is an even neighbour as good? Only on an exact
    // tie, which the value's exact binary expansion tells.
    let lower = format!("{}{}", &digits[..digits.len() - 1], last - 1);
    let reads_back = |candidate: &str| {
        format!("{}.{}e{exponent}", &candidate[..1], &candidate[1..])
            .parse::<f64>()
            .is_ok_and(|parsed| parsed == value)
    };
    if last >= 1 && reads_back(&lower) && is_midpoint(value, &lower, exponent) {
        return (lower, exponent);
    }
    if last < 9 {
        let upper = format!("{}{}", &digits[..digits.len() - 1], last + 1);
        if reads_back(&upper) && is_midpoint(value, &digits, exponent) {
            return (upper, exponent);
        }
    }
    (digits, exponent)
}

/// Rust's shortest round-tripping digits of `value` (its `{:e}`,
/// "d.ddde±x") and the decimal exponent of the first; a tie rounds up.
fn rust_shortest_digits(value: f64) -> (String, i32) {
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is a number");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exponent)
}

/// Can `value` (positive, finite) be exactly halfway between two decimals
/// of at most 17 digits? A midpoint's digits end in 5 and number at most
/// 18, so the value's exact decimal form must too. For `m * 2**p` (m odd):
/// with p >= 0 it is an integer, and 5 must divide m; with p < 0 its exact
/// digits are those of `m * 5**-p` (odd: no trailing zero), which must stay
/// under 10**18. Most floats fail both: the exact check (two parses and a
/// big-number product) is then skipped. It was most of compile's time
/// spent printing floats.
fn may_be_a_decimal_tie(value: f64) -> bool {
    let (mantissa, power_of_two) = binary_parts(value);
    if mantissa == 0 {
        return false;
    }
    let zeros = mantissa.trailing_zeros();
    let (odd, power_of_two) = (mantissa >> zeros, power_of_two + zeros as i32);
    if power_of_two >= 0 {
        return odd % 5 == 0;
    }
    // 5**26 alone passes 10**18.
    let fives = power_of_two.unsigned_abs();
    fives <= 25 && u128::from(odd) * 5u128.pow(fives) < 10u128.pow(18)
}

/// A finite float's magnitude as `mantissa * 2**power_of_two`, exactly.
pub fn binary_parts(value: f64) -> (u64, i32) {
    let bits = value.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    }
}

/// Is `value` exactly halfway between the decimal `digits` (first digit at
/// 10**exponent) and the next one up in the last digit?
fn is_midpoint(value: f64, digits: &str, exponent: i32) -> bool {
    use num_bigint::BigUint;
    let (mantissa, power_of_two) = binary_parts(value);
    // value = mantissa * 2**power_of_two; the candidate midpoint is
    // (digits + 0.5) * 10**(exponent - len + 1) = (10*digits + 5) * 10**scale.
    let scale = exponent - digits.len() as i32;
    let Ok(digits) = digits.parse::<BigUint>() else {
        return false;
    };
    let midpoint = digits * 10u32 + 5u32;
    // Compare mantissa * 2**p with midpoint * 10**scale, both sides made
    // integers by moving negative powers across.
    let mut left = BigUint::from(mantissa);
    let mut right = midpoint;
    if power_of_two >= 0 {
        left <<= power_of_two as usize;
    } else {
        right <<= (-power_of_two) as usize;
    }
    let ten = BigUint::from(10u32);
    if scale >= 0 {
        right *= ten.pow(scale as u32);
    } else {
        left *= ten.pow((-scale) as u32);
    }
    left == right
}

/// CPython's `repr(complex)`: `(1+2j)`, `2j`, `(-0-1j)`.
pub fn complex_repr(re: f64, im: f64) -> String {
    let part = |v: f64| {
        // Parts print like floats, but without ".0" on whole numbers.
        let text = float_repr(v);
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    };
    if re == 0.0 && re.is_sign_positive() {
        return format!("{}j", part(im));
    }
    let imaginary = part(im);
    let sign = if imaginary.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{imaginary}j)", part(re))
}

/// CPython's `repr(str)`: single quotes unless the text holds a single
/// quote and no double quote; escapes for backslash, quotes and
/// non-printable characters.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = c as u32;
                let _ = if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x10000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

thread_local! {
    /// The CPython whose `repr` this thread's values print as: which
    /// characters a string's repr escapes depends on the Unicode database
    /// that CPython was built with. A value prints deep inside containers,
    /// with no run at hand, so a run sets it once for its thread
    /// ([`print_as`]); the newest otherwise.
    static PRINTS_AS: std::cell::Cell<u32> = const { std::cell::Cell::new(PythonVersion::NEWEST.minor) };
}

/// Values printed on this thread from now on print as `python`'s `repr`.
pub fn print_as(python: PythonVersion) {
    PRINTS_AS.with(|minor| minor.set(python.minor));
}

/// Python's `str.isprintable` for one character, as the CPython of
/// [`print_as`] answers it (as the oldest one known for older versions).
pub(crate) fn is_printable(c: char) -> bool {
    use crate::unicode_printable::{NEWEST, OLDER};
    let code = c as u32;
    // Printable ASCII is printable in every version: no table lookup for
    // the characters most strings are made of.
    if (0x20..0x7f).contains(&code) {
        return true;
    }
    let minor = PRINTS_AS.with(std::cell::Cell::get);
    let within = |ranges: &[(u32, u32)]| {
        let at = ranges.partition_point(|&(_, end)| end < code);
        ranges.get(at).is_some_and(|&(start, _)| start <= code)
    };
    let differs_from_newest = minor < NEWEST.0
        && OLDER
            .iter()
            .find(|(version, _, _)| *version >= minor)
            .is_some_and(|(_, _, changed)| within(changed));
    within(NEWEST.2) == differs_from_newest
}

/// CPython's `repr(bytes)`.
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            b => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote as char);
    out
}

#[cfg(test)]
mod tests {

    /// The table the capture's tests print too: eval's value of each
    /// literal prints the text both must.
    #[test]
    fn the_shared_repr_table_prints_as_it_says() {
        for case in hltpy_schema::bounded_repr::CASES {
            let value = crate::literal::parse(case.literal)
                .unwrap_or_else(|| panic!("{} is a literal", case.literal));
            assert_eq!(value.bounded_repr(case.max), case.expected, "{case:?}");
        }
    }

    use super::*;

    #[test]
    fn strings_escape_what_the_recording_cpython_does_not_print() {
        // As each CPython answered chr(c).isprintable() (3.10 to 3.13):
        // U+1F6DD came with Unicode 14, U+1F6DC with 15.0, U+2FFC with 15.1.
        let answers = [
            (10, [true, false, false, false, false, false, false]),
            (11, [true, false, false, false, true, false, false]),
            (12, [true, false, true, false, true, false, false]),
            (13, [true, false, true, true, true, false, false]),
        ];
        let chars = [
            'a',
            '\u{378}',
            '\u{1f6dc}',
            '\u{2ffc}',
            '\u{1f6dd}',
            '\n',
            '\u{3000}',
        ];
        for (minor, printable) in answers {
            print_as(PythonVersion { minor });
            let got: Vec<bool> = chars.iter().map(|c| is_printable(*c)).collect();
            assert_eq!(got, printable, "3.{minor}");
        }
        print_as(PythonVersion { minor: 11 });
        assert_eq!(str_repr("\u{1f6dc}"), "'\\U0001f6dc'");
        print_as(PythonVersion::NEWEST);
        assert_eq!(str_repr("\u{1f6dc}"), "'\u{1f6dc}'");
    }

    #[test]
    fn floats_print_as_cpython_does() {
        for (value, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1.2338405969061735e176, "1.2338405969061735e+176"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (123456.789, "123456.789"),
            // Ties between two shortest forms go to the even digit.
            (1801384307415321.0 + 0.25, "1801384307415321.2"),
            (1316875666848860.0 + 0.25, "1316875666848860.2"),
            (5e-324, "5e-324"),
            (2f64.powi(-25), "2.9802322387695312e-08"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(float_repr(value), text);
        }
    }

    /// The quick test for a tie never skips one: over floats near every
    /// power of ten, halves and quarters of integers and random bits, an
    /// odd last digit either fails it or takes the exact check, and the
    /// exact check finds no tie where it fails.
    #[test]
    fn the_tie_prefilter_skips_only_floats_without_a_tie() {
        let mut values = vec![
            1801384307415321.0 + 0.25,
            1316875666848860.0 + 0.25,
            0.5,
            2.5,
            5e-324,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = f64::from_bits(state >> 1);
            if value.is_finite() && value > 0.0 {
                values.push(value);
            }
        }
        for exponent in -30..30 {
            let power = 10f64.powi(exponent);
            for step in -3..=3 {
                values.push(f64::from_bits((power.to_bits() as i64 + step) as u64));
            }
        }
        // 2**-25 = 2.98023223876953125e-08: a tie with the most fives.
        values.extend((1..80).map(|power| 2f64.powi(-power)));
        for whole in 1..5000_u64 {
            values.push(whole as f64 + 0.5);
            values.push(whole as f64 * 1e12 + 0.25);
            values.push((whole * 5) as f64 * 2f64.powi(40));
        }
        let mut ties = 0;
        for value in values {
            // Before a tie goes to the even digits.
            let (digits, exponent) = rust_shortest_digits(value);
            let last = digits.as_bytes()[digits.len() - 1] - b'0';
            let lower_tie = last % 2 == 1
                && is_midpoint(
                    value,
                    &format!("{}{}", &digits[..digits.len() - 1], last - 1),
                    exponent,
                );
            let upper_tie = last % 2 == 1 && is_midpoint(value, &digits, exponent);
            if lower_tie || upper_tie {
                ties += 1;
                assert!(may_be_a_decimal_tie(value), "{value:e} is a tie");
            }
        }
        assert!(ties >= 2, "the sample holds known ties");
    }

    #[test]
    fn strings_and_complex_print_as_cpython_does() {
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'\"b\n"), "'a\\'\"b\\n'");
        assert_eq!(str_repr("\u{7}é"), "'\\x07é'");
        assert_eq!(complex_repr(1.0, 2.0), "(1+2j)");
        assert_eq!(complex_repr(0.0, 2.0), "2j");
        assert_eq!(complex_repr(-0.0, -1.0), "(-0-1j)");
        assert_eq!(bytes_repr(b"a'\x00"), "b\"a'\\x00\"");
    }

    #[test]
    fn containers_print_and_cut_as_capture_does() {
        let list = Value::list(vec![Value::int(1), Value::str("x"), Value::None]);
        assert_eq!(list.repr(), "[1, 'x', None]");
        let one = Value::Tuple(Rc::from(vec![Value::Float(0.5)]));
        assert_eq!(one.repr(), "(0.5,)");
        let long = Value::list((0..100).map(Value::int).collect());
        let cut = long.bounded_repr(20);
        assert_eq!(cut, "[0, 1, 2, 3, 4, 5, 6…");
    }
}
