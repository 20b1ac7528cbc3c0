//! CPython's semantics for the builtin types, as re-evaluation needs them:
//! operators (big ints, `//` and `%` signs, true division, `**`, numeric
//! promotion, bool as int, sequence concatenation and repetition),
//! comparisons (containers included), `in`, indexing and slicing, a
//! documented list of builtins and `math` functions, and common methods of
//! str/list/dict/tuple. What is not covered is [`Unknown`]: the caller keeps
//! the recorded value and counts it as opaque — never a guess.

use std::cmp::Ordering;
use std::rc::Rc;

use hltpy_schema::{BinOp, CmpOp, UnOp};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::pymath::{self, PythonVersion};
use crate::value::{Int, Value};

/// Why a result could not be computed: the operation is outside what
/// hltpy re-evaluates, or an operand is not known.
#[derive(Debug, Clone, PartialEq)]
pub struct Unknown(pub String);

pub type Outcome = Result<Value, Unknown>;

fn unknown<T>(reason: impl Into<String>) -> Result<T, Unknown> {
    Err(Unknown(reason.into()))
}

/// Results larger than this many bits (ints) or items (sequences) are not
/// computed: `2 ** 10**12` must end quickly, as an opaque result.
const MAX_INT_BITS: u64 = 1 << 22;
const MAX_ITEMS: usize = 1 << 22;

/// The `math` functions `UCall` re-evaluates (as `math.NAME`); which
/// builtins it re-evaluates is `call_builtin_in`'s match. Anything else
/// stays opaque.
pub const MATH: &[&str] = &[
    "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "floor", "ceil", "trunc", "fabs", "hypot", "isfinite", "isinf",
    "isnan", "copysign", "pow", "degrees", "radians",
];
/// Methods of builtin values `UDispatch` re-evaluates.
pub const METHODS: &[&str] = &[
    "upper",
    "lower",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "join",
    "replace",
    "startswith",
    "endswith",
    "find",
    "title",
    "capitalize",
    "isdigit",
    "isalpha",
    "items",
    "keys",
    "values",
    "get",
    "index",
    "count",
    "copy",
    "conjugate",
    "bit_length",
    "is_integer",
];
/// Methods of builtin values that change their receiver in place: lists
/// and dicts (`UDispatch` re-evaluates them, see `mutate`), and sets.
pub const IN_PLACE_METHODS: &[&str] = &[
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "reverse",
    "sort",
    "setdefault",
    "popitem",
    "update",
    "add",
    "discard",
    "difference_update",
    "intersection_update",
    "symmetric_difference_update",
];

/// A number of one of Python's numeric types (bool counts as int).
#[derive(Clone)]
enum Num {
    I(Int),
    F(f64),
    C(f64, f64),
}

fn num(value: &Value) -> Option<Num> {
    match value {
        Value::Bool(b) => Some(Num::I(Int::Small(*b as i64))),
        Value::Int(i) => Some(Num::I(i.clone())),
        Value::Float(f) => Some(Num::F(*f)),
        Value::Complex(re, im) => Some(Num::C(*re, *im)),
        _ => None,
    }
}

/// `float(x)` of an int or float operand; an int too large raises.
fn float_of(x: &Num) -> Result<f64, Value> {
    match x {
        Num::I(i) => i
            .to_f64()
            .ok_or_else(|| Value::raised("OverflowError", "int too large to convert to float")),
        Num::F(f) => Ok(*f),
        Num::C(re, _) => Ok(*re),
    }
}

fn complex_of(x: &Num) -> Result<(f64, f64), Value> {
    match x {
        Num::C(re, im) => Ok((*re, *im)),
        other => Ok((float_of(other)?, 0.0)),
    }
}

fn int_value(value: BigInt) -> Outcome {
    if value.bits() > MAX_INT_BITS {
        return unknown(format!(
            "an int of {} bits is larger than hltpy recomputes",
            value.bits()
        ));
    }
    Ok(Value::Int(Int::from_big(value)))
}

/// Applies a binary operator by its dunder name without the `r` of a
/// reflected form (`__add__`): `a OP b`.
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Outcome {
    // bool & | ^ bool stays a bool.
    if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
        match op {
            BinOp::And => return Ok(Value::Bool(x & y)),
            BinOp::Or => return Ok(Value::Bool(x | y)),
            BinOp::Xor => return Ok(Value::Bool(x ^ y)),
            _ => {}
        }
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        let integral = matches!((&x, &y), (Num::I(_), Num::I(_)));
        let int_only = matches!(
            op,
            BinOp::And | BinOp::Or | BinOp::Xor | BinOp::LShift | BinOp::RShift | BinOp::MatMul
        );
        if op == BinOp::MatMul || (int_only && !integral) {
            return Ok(unsupported(op, a, b));
        }
        let complex = matches!(x, Num::C(..)) || matches!(y, Num::C(..));
        if complex && matches!(op, BinOp::FloorDiv | BinOp::Mod | BinOp::DivMod) {
            return Ok(unsupported(op, a, b));
        }
        return numeric(op, &x, &y);
    }
    if !a.is_known() || !b.is_known() {
        return unknown(format!("{op} of a value hltpy does not know"));
    }
    sequence_op(op, a, b)
}

fn numeric(op: BinOp, x: &Num, y: &Num) -> Outcome {
    match (x, y) {
        (Num::I(a), Num::I(b)) => int_op(op, a, b),
        (Num::C(..), _) | (_, Num::C(..)) => {
            let (a, b) = match (complex_of(x), complex_of(y)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(raised), _) | (_, Err(raised)) => return Ok(raised),
            };
            complex_op(op, a, b)
        }
        _ => match (float_of(x), float_of(y)) {
            (Ok(a), Ok(b)) => float_op(op, a, b),
            (Err(raised), _) | (_, Err(raised)) => Ok(raised),
        },
    }
}

fn int_op(op: BinOp, a: &Int, b: &Int) -> Outcome {
    // The common case: both fit in 64 bits and so does the result.
    if let (Int::Small(x), Int::Small(y)) = (a, b) {
        let (x, y) = (*x, *y);
        let fast = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::FloorDiv if y != 0 => {
                x.checked_div_euclid(y).map(|_| Integer::div_floor(&x, &y))
            }
            BinOp::Mod if y != 0 => x.checked_rem_euclid(y).map(|_| Integer::mod_floor(&x, &y)),
            BinOp::And => Some(x & y),
            BinOp::Or => Some(x | y),
            BinOp::Xor => Some(x ^ y),
            _ => None,
        };
        if let Some(result) = fast {
            return Ok(Value::int(result));
        }
    }
    let (x, y) = (a.to_big(), b.to_big());
    match op {
        BinOp::Add => int_value(x + y),
        BinOp::Sub => int_value(x - y),
        BinOp::Mul => {
            if a.bits() + b.bits() > MAX_INT_BITS {
                return unknown("an int product larger than hltpy recomputes");
            }
            int_value(x * y)
        }
        BinOp::FloorDiv | BinOp::Mod | BinOp::DivMod if y.is_zero() => Ok(Value::raised(
            "ZeroDivisionError",
            match op {
                BinOp::Mod => "integer modulo by zero",
                _ => "integer division or modulo by zero",
            },
        )),
        BinOp::FloorDiv => int_value(x.div_floor(&y)),
        BinOp::Mod => int_value(x.mod_floor(&y)),
        BinOp::DivMod => {
            let (q, r) = x.div_mod_floor(&y);
            Ok(Value::Tuple(Rc::from(vec![int_value(q)?, int_value(r)?])))
        }
        BinOp::TrueDiv => int_true_div(&x, &y),
        BinOp::Pow => int_pow(a, b),
        BinOp::LShift | BinOp::RShift => {
            if y.is_negative() {
                return Ok(Value::raised("ValueError", "negative shift count"));
            }
            let shift = y.to_u64().unwrap_or(u64::MAX);
            if op == BinOp::RShift {
                let shift = shift.min(x.bits() + 1);
                // Python's >> floors, as BigInt's >> does for negatives.
                return int_value(x >> shift);
            }
            if x.is_zero() {
                return Ok(Value::int(0));
            }
            if x.bits().saturating_add(shift) > MAX_INT_BITS {
                return unknown("a shifted int larger than hltpy recomputes");
            }
            int_value(x << shift)
        }
        BinOp::And => int_value(x & y),
        BinOp::Or => int_value(x | y),
        BinOp::Xor => int_value(x ^ y),
        _ => unknown(format!("{op} on int")),
    }
}

/// `int / int`, correctly rounded as CPython does it (not via two floats,
/// which would round twice for ints beyond 2**53).
fn int_true_div(x: &BigInt, y: &BigInt) -> Outcome {
    if y.is_zero() {
        return Ok(Value::raised("ZeroDivisionError", "division by zero"));
    }
    const EXACT: u64 = 53;
    if x.bits() <= EXACT && y.bits() <= EXACT {
        let (a, b) = (x.to_f64().unwrap_or(0.0), y.to_f64().unwrap_or(1.0));
        return Ok(Value::Float(a / b));
    }
    let negative = x.is_negative() != y.is_negative();
    let (a, b) = (x.abs(), y.abs());
    if a.is_zero() {
        return Ok(Value::Float(if negative { -0.0 } else { 0.0 }));
    }
    // Scale so the quotient has 55-56 bits, keep a sticky bit for the
    // remainder, and let the int-to-float conversion round once.
    let shift = 55i64 - (a.bits() as i64 - b.bits() as i64);
    let (numerator, denominator) = if shift >= 0 {
        (a << shift as u64, b)
    } else {
        (a, b << (-shift) as u64)
    };
    let (quotient, remainder) = numerator.div_rem(&denominator);
    let sticky = if remainder.is_zero() { 0u8 } else { 1u8 };
    let quotient = quotient | BigInt::from(sticky);
    let mantissa = quotient.to_f64().unwrap_or(f64::INFINITY);
    let result = scale(mantissa, -shift);
    if result.is_infinite() {
        return Ok(Value::raised(
            "OverflowError",
            "integer division result too large for a float",
        ));
    }
    Ok(Value::Float(if negative { -result } else { result }))
}

/// `value * 2**exponent` without overflowing the intermediate power.
fn scale(mut value: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        value *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        value *= 2f64.powi(-1000);
        exponent += 1000;
    }
    value * 2f64.powi(exponent as i32)
}

fn int_pow(base: &Int, exponent: &Int) -> Outcome {
    if exponent.is_negative() {
        // int ** negative int is a float.
        let b = match base.to_f64() {
            Some(b) => b,
            None => {
                return Ok(Value::raised(
                    "OverflowError",
                    "int too large to convert to float",
                ))
            }
        };
        let e = exponent.to_f64().unwrap_or(f64::NEG_INFINITY);
        return float_op(BinOp::Pow, b, e);
    }
    if base.bits() <= 1 {
        // 0, 1 and -1 to any power, however large.
        let odd = exponent.to_big().is_odd();
        let result = match base.as_i64() {
            _ if exponent.is_zero() => 1,
            Some(-1) if odd => -1,
            Some(-1) => 1,
            Some(v) => v,
            None => 1,
        };
        return Ok(Value::int(result));
    }
    let bits = (base.bits() - 1).saturating_mul(exponent.as_i64().unwrap_or(i64::MAX) as u64);
    if bits > MAX_INT_BITS {
        return unknown(format!(
            "an int power of at least {bits} bits is larger than hltpy recomputes"
        ));
    }
    let e = exponent.as_i64().expect("small: checked by the size bound") as u32;
    int_value(num_traits::pow::Pow::pow(base.to_big(), e))
}

fn float_op(op: BinOp, a: f64, b: f64) -> Outcome {
    let value = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::TrueDiv => {
            if b == 0.0 {
                return Ok(Value::raised("ZeroDivisionError", "float division by zero"));
            }
            a / b
        }
        BinOp::FloorDiv => {
            if b == 0.0 {
                return Ok(Value::raised(
                    "ZeroDivisionError",
                    "float floor division by zero",
                ));
            }
            float_divmod(a, b).0
        }
        BinOp::Mod => {
            if b == 0.0 {
                return Ok(Value::raised("ZeroDivisionError", "float modulo"));
            }
            float_divmod(a, b).1
        }
        BinOp::DivMod => {
            if b == 0.0 {
                return Ok(Value::raised("ZeroDivisionError", "float divmod()"));
            }
            let (q, r) = float_divmod(a, b);
            return Ok(Value::Tuple(Rc::from(vec![
                Value::Float(q),
                Value::Float(r),
            ])));
        }
        BinOp::Pow => return float_pow(a, b),
        _ => return unknown(format!("{op} on float")),
    };
    Ok(Value::Float(value))
}

/// CPython's float `divmod` (floatobject.c): the remainder takes the
/// divisor's sign, the quotient is floored and exact where possible.
fn float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut r#mod = vx % wx;
    let mut div = (vx - r#mod) / wx;
    if r#mod != 0.0 {
        if (wx < 0.0) != (r#mod < 0.0) {
            r#mod += wx;
            div -= 1.0;
        }
    } else {
        r#mod = 0.0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0f64.copysign(vx / wx)
    };
    (floordiv, r#mod)
}

/// CPython's `float ** float` (float_pow): its special cases, a complex
/// result for a negative base and a fractional exponent, OverflowError
/// on overflow.
fn float_pow(x: f64, y: f64) -> Outcome {
    if y == 0.0 {
        return Ok(Value::Float(1.0));
    }
    if x.is_nan() {
        return Ok(Value::Float(if y == 0.0 { 1.0 } else { x }));
    }
    if y.is_nan() {
        return Ok(Value::Float(if x == 1.0 { 1.0 } else { y }));
    }
    if x == 0.0 && y < 0.0 && y.is_finite() {
        return Ok(Value::raised(
            "ZeroDivisionError",
            "0.0 cannot be raised to a negative power",
        ));
    }
    if x < 0.0 && x.is_finite() && y.is_finite() && y.floor() != y {
        return unknown("a negative float to a fractional power (a complex result)");
    }
    let result = x.powf(y);
    if result.is_infinite() && x.is_finite() && y.is_finite() {
        return Ok(Value::raised_with(
            "OverflowError",
            "34, 'Numerical result out of range'".into(),
        ));
    }
    Ok(Value::Float(result))
}

fn complex_op(op: BinOp, (a, b): (f64, f64), (c, d): (f64, f64)) -> Outcome {
    let (re, im) = match op {
        BinOp::Add => (a + c, b + d),
        BinOp::Sub => (a - c, b - d),
        BinOp::Mul => (a * c - b * d, a * d + b * c),
        _ => return unknown(format!("{op} on complex")),
    };
    Ok(Value::Complex(re, im))
}

fn repeat(items: &[Value], times: &Int) -> Result<Vec<Value>, Unknown> {
    let times = times.as_i64().unwrap_or(i64::MAX).max(0) as usize;
    if items.len().saturating_mul(times) > MAX_ITEMS {
        return unknown("a repeated sequence larger than hltpy recomputes");
    }
    Ok(items
        .iter()
        .cloned()
        .cycle()
        .take(items.len() * times)
        .collect())
}

fn repetition_count(value: &Value) -> Option<Int> {
    match value {
        Value::Int(i) => Some(i.clone()),
        Value::Bool(b) => Some(Int::Small(*b as i64)),
        _ => None,
    }
}

fn sequence_op(op: BinOp, a: &Value, b: &Value) -> Outcome {
    match (op, a, b) {
        (BinOp::Add, Value::Str(x), Value::Str(y)) => {
            Ok(Value::Str(Rc::from(format!("{x}{y}").as_str())))
        }
        (BinOp::Add, Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes([&x[..], &y[..]].concat().into()))
        }
        (BinOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            Ok(Value::Tuple(x.iter().chain(y.iter()).cloned().collect()))
        }
        (BinOp::Add, Value::List(x), Value::List(y)) => {
            let joined: Vec<Value> = x
                .borrow()
                .iter()
                .chain(y.borrow().iter())
                .cloned()
                .collect();
            Ok(Value::list(joined))
        }
        (BinOp::Mul, seq, count) | (BinOp::Mul, count, seq)
            if repetition_count(count).is_some()
                && matches!(
                    seq,
                    Value::Str(_) | Value::Tuple(_) | Value::List(_) | Value::Bytes(_)
                ) =>
        {
            let times = repetition_count(count).expect("checked");
            match seq {
                Value::Str(s) => {
                    let n = times.as_i64().unwrap_or(i64::MAX).max(0) as usize;
                    if s.len().saturating_mul(n) > MAX_ITEMS {
                        return unknown("a repeated str larger than hltpy recomputes");
                    }
                    Ok(Value::Str(Rc::from(s.repeat(n).as_str())))
                }
                Value::Bytes(s) => {
                    let n = times.as_i64().unwrap_or(i64::MAX).max(0) as usize;
                    if s.len().saturating_mul(n) > MAX_ITEMS {
                        return unknown("a repeated bytes larger than hltpy recomputes");
                    }
                    Ok(Value::Bytes(s.repeat(n).into()))
                }
                Value::Tuple(items) => Ok(Value::Tuple(repeat(items, &times)?.into())),
                Value::List(items) => Ok(Value::list(repeat(&items.borrow(), &times)?)),
                _ => unreachable!("matched above"),
            }
        }
        (BinOp::Mod, Value::Str(_), _) => unknown("%-formatting of a str"),
        (BinOp::Or, Value::Dict(x), Value::Dict(y)) => {
            let mut pairs: Vec<(Value, Value)> = x.borrow().clone();
            for (key, value) in y.borrow().iter() {
                match pairs.iter_mut().find(|(k, _)| eq(k, key) == Some(true)) {
                    Some(slot) => slot.1 = value.clone(),
                    None => pairs.push((key.clone(), value.clone())),
                }
            }
            Ok(Value::dict(pairs))
        }
        (_, Value::Set(_) | Value::FrozenSet(_), Value::Set(_) | Value::FrozenSet(_)) => {
            set_op(op, a, b)
        }
        // CPython's own wording for a sequence and something it cannot
        // take: `'a' + 1`, `(1,) * 1.5`.
        (BinOp::Add, Value::Str(_) | Value::Tuple(_) | Value::List(_), _) => Ok(Value::raised(
            "TypeError",
            format!(
                "can only concatenate {} (not \"{}\") to {}",
                a.type_name(),
                b.type_name(),
                a.type_name()
            ),
        )),
        // bytes takes any buffer: what is not one is named.
        (BinOp::Add, Value::Bytes(_), other)
            if !matches!(other, Value::Object(_) | Value::Opaque(_)) =>
        {
            Ok(Value::raised(
                "TypeError",
                format!("can't concat {} to bytes", other.type_name()),
            ))
        }
        (BinOp::Mul, Value::Str(_) | Value::Bytes(_) | Value::Tuple(_) | Value::List(_), other)
        | (BinOp::Mul, other, Value::Str(_) | Value::Bytes(_) | Value::Tuple(_) | Value::List(_))
            if !matches!(other, Value::Object(_) | Value::Opaque(_)) =>
        {
            Ok(Value::raised(
                "TypeError",
                format!(
                    "can't multiply sequence by non-int of type '{}'",
                    other.type_name()
                ),
            ))
        }
        _ => Ok(unsupported(op, a, b)),
    }
}

/// CPython's TypeError for operands of types an operator does not take.
fn unsupported(op: BinOp, a: &Value, b: &Value) -> Value {
    Value::raised(
        "TypeError",
        format!(
            "unsupported operand type(s) for {}: '{}' and '{}'",
            op.error_name(),
            a.type_name(),
            b.type_name()
        ),
    )
}

/// Set algebra without hashing: membership by Python equality, the
/// left operand's order first (the order of a set is not compared).
fn set_op(op: BinOp, a: &Value, b: &Value) -> Outcome {
    let (Value::Set(x) | Value::FrozenSet(x)) = a else {
        unreachable!("caller checked")
    };
    let (Value::Set(y) | Value::FrozenSet(y)) = b else {
        unreachable!("caller checked")
    };
    let in_y = |v: &Value| y.iter().any(|w| eq(v, w) == Some(true));
    let in_x = |v: &Value| x.iter().any(|w| eq(v, w) == Some(true));
    let items: Vec<Value> = match op {
        BinOp::And => x.iter().filter(|v| in_y(v)).cloned().collect(),
        BinOp::Or => x
            .iter()
            .chain(y.iter().filter(|v| !in_x(v)))
            .cloned()
            .collect(),
        BinOp::Sub => x.iter().filter(|v| !in_y(v)).cloned().collect(),
        BinOp::Xor => x
            .iter()
            .filter(|v| !in_y(v))
            .chain(y.iter().filter(|v| !in_x(v)))
            .cloned()
            .collect(),
        _ => return unknown(format!("{op} on sets")),
    };
    Ok(match a {
        Value::FrozenSet(_) => Value::FrozenSet(items.into()),
        _ => Value::Set(items.into()),
    })
}

/// Unary operators by dunder name.
pub fn unary(op: UnOp, a: &Value) -> Outcome {
    match (op, num(a)) {
        (UnOp::Neg, Some(Num::I(i))) => int_value(-i.to_big()),
        (UnOp::Pos, Some(Num::I(i))) => Ok(Value::Int(i)),
        (UnOp::Abs, Some(Num::I(i))) => int_value(i.to_big().abs()),
        (UnOp::Invert, Some(Num::I(i))) => int_value(!i.to_big()),
        (UnOp::Neg, Some(Num::F(f))) => Ok(Value::Float(-f)),
        (UnOp::Pos, Some(Num::F(f))) => Ok(Value::Float(f)),
        (UnOp::Abs, Some(Num::F(f))) => Ok(Value::Float(f.abs())),
        (UnOp::Neg, Some(Num::C(re, im))) => Ok(Value::Complex(-re, -im)),
        (UnOp::Pos, Some(Num::C(re, im))) => Ok(Value::Complex(re, im)),
        (UnOp::Abs, Some(Num::C(re, im))) => Ok(Value::Float(re.hypot(im))),
        _ if !a.is_known() || matches!(a, Value::Object(_)) => {
            unknown(format!("{op} on {}", a.type_name()))
        }
        (_, _) => Ok(Value::raised(
            "TypeError",
            format!(
                "bad operand type for {}: '{}'",
                op.error_name(),
                a.type_name()
            ),
        )),
    }
}

/// Python's `a == b`, when hltpy can tell.
pub fn eq(a: &Value, b: &Value) -> Option<bool> {
    eq_within(a, b, 0)
}

/// Containers nested deeper than this (or holding themselves) are not
/// compared: CPython would raise RecursionError.
const MAX_NESTING: usize = 200;

fn eq_within(a: &Value, b: &Value, depth: usize) -> Option<bool> {
    if depth > MAX_NESTING {
        return None;
    }
    let eq = |p: &Value, q: &Value| eq_within(p, q, depth + 1);
    // Inside a container, CPython compares items by identity first, so a
    // NaN may equal itself there; a trace does not record identity.
    if depth > 0 && has_nan(a) && has_nan(b) {
        return None;
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Some(num_cmp(&x, &y).is_some_and(|o| o == Ordering::Equal));
    }
    match (a, b) {
        (Value::None, Value::None) => Some(true),
        (Value::Str(x), Value::Str(y)) => Some(x == y),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x == y),
        (Value::Tuple(_) | Value::List(_), Value::Tuple(_) | Value::List(_))
            if a.type_name() == b.type_name() =>
        {
            let x = a.with_items(|x| x.to_vec())?;
            let y = b.with_items(|y| y.to_vec())?;
            if x.len() != y.len() {
                return Some(false);
            }
            for (p, q) in x.iter().zip(y.iter()) {
                if !eq(p, q)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Dict(x), Value::Dict(y)) => {
            if Rc::ptr_eq(x, y) {
                return Some(true);
            }
            let (x, y) = (x.try_borrow().ok()?, y.try_borrow().ok()?);
            if x.len() != y.len() {
                return Some(false);
            }
            for (key, value) in x.iter() {
                let Some((_, other)) = y.iter().find(|(k, _)| eq(k, key) == Some(true)) else {
                    return Some(false);
                };
                if !eq(value, other)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            Some(x.len() == y.len() && x.iter().all(|v| y.iter().any(|w| eq(v, w) == Some(true))))
        }
        (Value::Range(x), Value::Range(y)) => Some(x == y),
        (Value::Slice(x), Value::Slice(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                if !eq(p, q)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Object(x), Value::Object(y)) if Rc::ptr_eq(x, y) => Some(true),
        (Value::Object(_) | Value::Opaque(_) | Value::Raised(_) | Value::Method(_), _)
        | (_, Value::Object(_) | Value::Opaque(_) | Value::Raised(_) | Value::Method(_)) => None,
        (Value::Module(x), Value::Module(y)) | (Value::Builtin(x), Value::Builtin(y)) => {
            Some(x == y)
        }
        // Values of different builtin types are unequal.
        _ => Some(false),
    }
}

/// Exact ordering of two real numbers (an int beyond 2**53 against a float
/// is compared exactly, as CPython does); `None` when a NaN is involved or
/// one is complex.
fn num_cmp(x: &Num, y: &Num) -> Option<Ordering> {
    match (x, y) {
        (Num::I(a), Num::I(b)) => Some(match (a, b) {
            (Int::Small(p), Int::Small(q)) => p.cmp(q),
            _ => a.to_big().cmp(&b.to_big()),
        }),
        (Num::F(a), Num::F(b)) => a.partial_cmp(b),
        (Num::I(a), Num::F(b)) => int_float_cmp(a, *b),
        (Num::F(a), Num::I(b)) => int_float_cmp(b, *a).map(Ordering::reverse),
        (Num::C(a, b), Num::C(c, d)) => (a == c && b == d).then_some(Ordering::Equal),
        (Num::C(a, b), other) | (other, Num::C(a, b)) => {
            if *b != 0.0 {
                return None;
            }
            num_cmp(&Num::F(*a), other).filter(|o| *o == Ordering::Equal)
        }
    }
}

fn int_float_cmp(a: &Int, b: f64) -> Option<Ordering> {
    if b.is_nan() {
        return None;
    }
    if b.is_infinite() {
        return Some(if b > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    if let Int::Small(v) = a {
        if v.unsigned_abs() < 1 << 53 {
            return (*v as f64).partial_cmp(&b);
        }
    }
    let floor = b.floor();
    let whole = BigInt::from(floor as i128);
    let whole = if floor.abs() < 1e38 {
        whole
    } else {
        // Beyond i128: build the integer from the float's bits.
        let (mantissa, exponent, sign) = num_traits::float::FloatCore::integer_decode(floor);
        let magnitude = BigInt::from(mantissa) << exponent.max(0) as u64;
        if sign < 0 {
            -magnitude
        } else {
            magnitude
        }
    };
    Some(match a.to_big().cmp(&whole) {
        Ordering::Equal if b > floor => Ordering::Less,
        other => other,
    })
}

/// Python's ordering comparison (`<` etc.): `Ok(Some(ordering))`, a
/// TypeError for types without an order, or unknown.
fn order(a: &Value, b: &Value, symbol: &str) -> Result<Option<Ordering>, Value> {
    let refused = || {
        Value::raised(
            "TypeError",
            format!(
                "'{symbol}' not supported between instances of '{}' and '{}'",
                a.type_name(),
                b.type_name()
            ),
        )
    };
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        if matches!(x, Num::C(..)) || matches!(y, Num::C(..)) {
            return Err(refused());
        }
        return Ok(num_cmp(&x, &y));
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(Some(x.cmp(y))),
        (Value::Tuple(_) | Value::List(_), Value::Tuple(_) | Value::List(_))
            if a.type_name() == b.type_name() =>
        {
            let (Some(x), Some(y)) = (a.with_items(|x| x.to_vec()), b.with_items(|y| y.to_vec()))
            else {
                return Err(refused());
            };
            // Lexicographic: the first unequal pair decides.
            for (p, q) in x.iter().zip(y.iter()) {
                match eq(p, q) {
                    Some(true) => continue,
                    Some(false) => return order(p, q, symbol),
                    None => return Ok(None),
                }
            }
            Ok(Some(x.len().cmp(&y.len())))
        }
        _ => Err(refused()),
    }
}

/// A comparison by dunder name (`__lt__`, `__eq__`, …).
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Outcome {
    let symbol = op.symbol();
    let wanted: &[Ordering] = match op {
        CmpOp::Eq | CmpOp::Ne => {
            let Some(equal) = eq(a, b) else {
                if has_nan(a) {
                    return unknown(NAN_IN_CONTAINERS);
                }
                return unknown(format!(
                    "== between {} and {}",
                    a.type_name(),
                    b.type_name()
                ));
            };
            return Ok(Value::Bool(equal == (op == CmpOp::Eq)));
        }
        CmpOp::Lt => &[Ordering::Less],
        CmpOp::Le => &[Ordering::Less, Ordering::Equal],
        CmpOp::Gt => &[Ordering::Greater],
        CmpOp::Ge => &[Ordering::Greater, Ordering::Equal],
    };
    if !a.is_known() || !b.is_known() {
        return unknown(format!("{symbol} with a value hltpy does not know"));
    }
    if let (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) = (a, b) {
        // Subset and superset: every item of one is in the other.
        let within = |small: &[Value], large: &[Value]| -> Result<bool, Unknown> {
            for item in small {
                if position_of(large, item)?.is_none() {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let answer = match op {
            CmpOp::Le => within(x, y)?,
            CmpOp::Lt => x.len() < y.len() && within(x, y)?,
            CmpOp::Ge => within(y, x)?,
            CmpOp::Gt => y.len() < x.len() && within(y, x)?,
            CmpOp::Eq | CmpOp::Ne => unreachable!("answered by equality above"),
        };
        return Ok(Value::Bool(answer));
    }
    match order(a, b, symbol) {
        Ok(Some(ordering)) => Ok(Value::Bool(wanted.contains(&ordering))),
        Ok(None) if matches!(a, Value::Tuple(_) | Value::List(_)) => {
            if has_nan(a) || has_nan(b) {
                unknown(NAN_IN_CONTAINERS)
            } else {
                unknown(format!("{symbol} between containers of unknown items"))
            }
        }
        // A NaN compares false with everything.
        Ok(None) => Ok(Value::Bool(false)),
        Err(raised) => Ok(raised),
    }
}

const NAN_IN_CONTAINERS: &str =
    "containers holding NaN compare items by identity first, which a trace does not record";

fn has_nan(value: &Value) -> bool {
    match value {
        Value::Float(f) => f.is_nan(),
        Value::Tuple(_) | Value::List(_) => value
            .with_items(|items| items.iter().any(has_nan))
            .unwrap_or(false),
        _ => false,
    }
}

/// The type that makes `value` unhashable (a list, or a tuple holding a
/// dict), as CPython names it; None when hashable or not known.
fn unhashable(value: &Value) -> Option<&'static str> {
    match value {
        Value::List(_) => Some("list"),
        Value::Dict(_) => Some("dict"),
        Value::Set(_) => Some("set"),
        Value::Tuple(items) => items.iter().find_map(unhashable),
        _ => None,
    }
}

/// `item in container`.
pub fn contains(container: &Value, item: &Value) -> Outcome {
    // A dict or set hashes the item first; a set looks a set item up as
    // the frozenset of it.
    let hashed = match container {
        Value::Dict(_) => true,
        Value::Set(_) | Value::FrozenSet(_) => !matches!(item, Value::Set(_)),
        _ => false,
    };
    if let Some(kind) = unhashable(item).filter(|_| hashed) {
        return Ok(Value::raised(
            "TypeError",
            format!("unhashable type: '{kind}'"),
        ));
    }
    let found = match container {
        Value::Str(s) => match item {
            Value::Str(needle) => s.contains(&**needle),
            other => {
                return Ok(Value::raised(
                    "TypeError",
                    format!(
                        "'in <string>' requires string as left operand, not {}",
                        other.type_name()
                    ),
                ))
            }
        },
        Value::Tuple(_)
        | Value::List(_)
        | Value::Set(_)
        | Value::FrozenSet(_)
        | Value::View(..) => {
            let items = container
                .with_items(|items| items.to_vec())
                .expect("a sequence");
            let mut found = false;
            for candidate in items.iter() {
                match eq(candidate, item) {
                    Some(true) => {
                        found = true;
                        break;
                    }
                    Some(false) => {}
                    None => return unknown("`in` over items hltpy does not know"),
                }
            }
            found
        }
        Value::Dict(pairs) => {
            let mut found = false;
            for (key, _) in pairs.borrow().iter() {
                match eq(key, item) {
                    Some(true) => {
                        found = true;
                        break;
                    }
                    Some(false) => {}
                    None => return unknown("`in` over keys hltpy does not know"),
                }
            }
            found
        }
        Value::Range(_) => match item {
            Value::Int(_) | Value::Bool(_) => {
                let Some(n) = range_len(container) else {
                    return unknown("`in` over a huge range");
                };
                let Value::Range(parts) = container else {
                    unreachable!()
                };
                let i = repetition_count(item).expect("an int").to_big();
                let [start, _, step] = &**parts;
                let offset = i - start.to_big();
                let step = step.to_big();
                offset.mod_floor(&step).is_zero() && {
                    let index = offset.div_floor(&step);
                    !index.is_negative() && index < BigInt::from(n)
                }
            }
            _ => return unknown("`in` over a range of a non-int"),
        },
        _ => return unknown(format!("`in` over {}", container.type_name())),
    };
    Ok(Value::Bool(found))
}

/// `len(range)`, when it fits in 64 bits.
pub fn range_len(value: &Value) -> Option<u64> {
    let Value::Range(parts) = value else {
        return None;
    };
    let [start, stop, step] = &**parts;
    let (start, stop, step) = (start.to_big(), stop.to_big(), step.to_big());
    let span: BigInt = if step.is_positive() {
        stop - start + &step - 1
    } else {
        start - stop - &step - 1
    };
    let n = span.div_floor(&step.abs());
    if n.is_negative() {
        Some(0)
    } else {
        n.to_u64()
    }
}

/// `len(value)`.
pub fn len(value: &Value) -> Outcome {
    let n = match value {
        Value::Str(s) => s.chars().count(),
        Value::Bytes(b) => b.len(),
        Value::Tuple(_)
        | Value::List(_)
        | Value::Set(_)
        | Value::FrozenSet(_)
        | Value::View(..) => value.with_items(<[Value]>::len).expect("a collection"),
        Value::Dict(pairs) => pairs.borrow().len(),
        Value::Range(_) => match range_len(value) {
            Some(n) => return Ok(Value::Int(Int::Small(n as i64))),
            None => return unknown("len of a huge range"),
        },
        // Builtin scalars have no length (a class of the program's may).
        Value::Int(_)
        | Value::Float(_)
        | Value::Bool(_)
        | Value::Complex(..)
        | Value::None
        | Value::Slice(_) => {
            return Ok(Value::raised(
                "TypeError",
                format!("object of type '{}' has no len()", value.type_name()),
            ))
        }
        _ => return unknown(format!("len of {}", value.type_name())),
    };
    Ok(Value::int(n as i64))
}

/// The items of an iterable hltpy can enumerate in Python's order.
pub fn items_of(value: &Value) -> Result<Vec<Value>, Unknown> {
    Ok(match value {
        Value::Tuple(items) | Value::View(_, items) => items.to_vec(),
        Value::List(items) => items.borrow().clone(),
        Value::Iter(iter) => return items_of(&iter.0),
        Value::Str(s) => s
            .chars()
            .map(|c| Value::Str(Rc::from(c.to_string())))
            .collect(),
        Value::Bytes(b) => b.iter().map(|v| Value::int(*v as i64)).collect(),
        Value::Dict(pairs) => pairs.borrow().iter().map(|(k, _)| k.clone()).collect(),
        Value::Range(parts) => {
            let n = range_len(value).filter(|n| *n as usize <= MAX_ITEMS);
            let Some(n) = n else {
                return unknown("the items of a huge range");
            };
            let [start, _, step] = &**parts;
            let (start, step) = (start.to_big(), step.to_big());
            (0..n)
                .map(|i| Value::Int(Int::from_big(&start + &step * BigInt::from(i))))
                .collect()
        }
        Value::Set(_) | Value::FrozenSet(_) => {
            return unknown("iteration order of a set (it depends on hashes)")
        }
        other => return unknown(format!("the items of {}", other.type_name())),
    })
}

/// The `index`-th item an iterator over `value` gives (for Iteration nodes).
pub fn nth_item(value: &Value, index: u64) -> Outcome {
    if let Value::Range(parts) = value {
        let [start, _, step] = &**parts;
        return int_value(start.to_big() + step.to_big() * BigInt::from(index));
    }
    // The one item, not a copy of them all: a loop over a list of n items
    // cost n^2 copies (float's 100,000 points: 300 s of `report`).
    let index = index as usize;
    let item = match value {
        Value::Tuple(items) | Value::View(_, items) => items.get(index).cloned(),
        Value::List(items) => items.borrow().get(index).cloned(),
        Value::Iter(iter) => return nth_item(&iter.0, index as u64),
        Value::Str(s) => s
            .chars()
            .nth(index)
            .map(|c| Value::Str(Rc::from(c.to_string()))),
        Value::Bytes(b) => b.get(index).map(|v| Value::int(*v as i64)),
        Value::Dict(pairs) => pairs.borrow().get(index).map(|(key, _)| key.clone()),
        other => items_of(other)?.get(index).cloned(),
    };
    Ok(item.unwrap_or_else(|| Value::raised("StopIteration", "")))
}

/// A Python index (bool and int) as i64, or a TypeError to give back.
fn index_of(key: &Value, container: &str) -> Result<Option<i64>, Value> {
    match key {
        Value::Int(Int::Small(i)) => Ok(Some(*i)),
        Value::Int(Int::Big(_)) => Ok(None),
        Value::Bool(b) => Ok(Some(*b as i64)),
        other => Err(Value::raised(
            "TypeError",
            format!(
                "{container} indices must be integers or slices, not {}",
                other.type_name()
            ),
        )),
    }
}

/// Resolves a slice against a length, as `slice.indices` does.
fn slice_indices(parts: &[Value; 3], length: i64) -> Result<(i64, i64, i64), Value> {
    let part = |v: &Value| -> Result<Option<i64>, Value> {
        match v {
            Value::None => Ok(None),
            Value::Int(i) => Ok(Some(i.as_i64().unwrap_or(if i.is_negative() {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            }))),
            Value::Bool(b) => Ok(Some(*b as i64)),
            _ => Err(Value::raised(
                "TypeError",
                "slice indices must be integers or None or have an __index__ method",
            )),
        }
    };
    let step = part(&parts[2])?.unwrap_or(1);
    if step == 0 {
        return Err(Value::raised("ValueError", "slice step cannot be zero"));
    }
    let clamp = |v: Option<i64>, default: i64| -> i64 {
        match v {
            None => default,
            Some(v) if v < 0 => {
                let v = v + length;
                if v < 0 {
                    if step < 0 {
                        -1
                    } else {
                        0
                    }
                } else {
                    v
                }
            }
            Some(v) if v >= length => {
                if step < 0 {
                    length - 1
                } else {
                    length
                }
            }
            Some(v) => v,
        }
    };
    let (default_start, default_stop) = if step < 0 {
        (length - 1, -1)
    } else {
        (0, length)
    };
    Ok((
        clamp(part(&parts[0])?, default_start),
        clamp(part(&parts[1])?, default_stop),
        step,
    ))
}

fn slice_positions(parts: &[Value; 3], length: usize) -> Result<Vec<usize>, Value> {
    let (start, stop, step) = slice_indices(parts, length as i64)?;
    let mut positions = Vec::new();
    let mut at = start;
    while (step > 0 && at < stop) || (step < 0 && at > stop) {
        positions.push(at as usize);
        at += step;
    }
    Ok(positions)
}

/// `container[key]`: indexing and slicing of tuples, lists, str, bytes,
/// ranges; dict lookup.
pub fn get_item(container: &Value, key: &Value) -> Outcome {
    let name = container.type_name();
    if let Value::Dict(pairs) = container {
        for (k, v) in pairs.borrow().iter() {
            match eq(k, key) {
                Some(true) => return Ok(v.clone()),
                Some(false) => {}
                None => return unknown("a dict lookup among keys hltpy does not know"),
            }
        }
        return Ok(Value::raised_with("KeyError", key.repr()));
    }
    if let Value::Slice(parts) = key {
        let result = match container {
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                slice_positions(parts, chars.len())
                    .map(|p| Value::Str(Rc::from(p.iter().map(|i| chars[*i]).collect::<String>())))
            }
            Value::Bytes(b) => slice_positions(parts, b.len())
                .map(|p| Value::Bytes(p.iter().map(|i| b[*i]).collect::<Vec<_>>().into())),
            Value::Tuple(items) => slice_positions(parts, items.len())
                .map(|p| Value::Tuple(p.iter().map(|i| items[*i].clone()).collect())),
            Value::List(items) => {
                let items = items.borrow();
                slice_positions(parts, items.len())
                    .map(|p| Value::list(p.iter().map(|i| items[*i].clone()).collect()))
            }
            Value::Range(range) => {
                let Some(n) = range_len(container) else {
                    return unknown("a slice of a huge range");
                };
                let n = n as i64;
                match slice_indices(parts, n) {
                    Ok((start, stop, step)) => {
                        let [r_start, _, r_step] = &**range;
                        let at = |i: i64| {
                            Int::from_big(r_start.to_big() + r_step.to_big() * BigInt::from(i))
                        };
                        Ok(Value::Range(Rc::new([
                            at(start),
                            at(stop),
                            Int::from_big(r_step.to_big() * BigInt::from(step)),
                        ])))
                    }
                    Err(raised) => Err(raised),
                }
            }
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Complex(..) => {
                Err(Value::raised(
                    "TypeError",
                    format!("'{name}' object is not subscriptable"),
                ))
            }
            _ => return unknown(format!("slicing {name}")),
        };
        return Ok(result.unwrap_or_else(|raised| raised));
    }
    let length = match container {
        Value::Str(s) => s.chars().count(),
        Value::Bytes(b) => b.len(),
        Value::Range(_) => match range_len(container) {
            Some(n) => n as usize,
            None => return unknown("indexing a huge range"),
        },
        Value::Tuple(items) => items.len(),
        Value::List(items) => items.borrow().len(),
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Complex(..) => {
            return Ok(Value::raised(
                "TypeError",
                format!("'{name}' object is not subscriptable"),
            ))
        }
        _ => return unknown(format!("indexing {name}")),
    };
    let index = match index_of(key, name) {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Ok(Value::raised(
                "IndexError",
                "cannot fit 'int' into an index-sized integer",
            ))
        }
        Err(raised) => return Ok(raised),
    };
    let position = if index < 0 {
        index + length as i64
    } else {
        index
    };
    if position < 0 || position >= length as i64 {
        // CPython names the sequence in this message, but for bytes.
        let message = match container {
            Value::Str(_) => "string index out of range".to_string(),
            Value::Range(_) => "range object index out of range".to_string(),
            Value::Bytes(_) => "index out of range".to_string(),
            _ => format!("{name} index out of range"),
        };
        return Ok(Value::raised("IndexError", message));
    }
    let position = position as usize;
    Ok(match container {
        Value::Str(s) => Value::Str(Rc::from(
            s.chars().nth(position).expect("in range").to_string(),
        )),
        Value::Bytes(b) => Value::int(b[position] as i64),
        Value::Range(_) => return nth_item(container, position as u64),
        Value::Tuple(items) => items[position].clone(),
        Value::List(items) => items.borrow()[position].clone(),
        _ => unreachable!("the length above covers the same types"),
    })
}

/// `container[key] = value` (or `del container[key]` when `value` is
/// None) on a list or dict, changing it where every holder sees it.
/// Gives None, or the exception Python raised.
pub fn set_item(container: &Value, key: &Value, value: Option<Value>) -> Outcome {
    match container {
        Value::List(items) => {
            if matches!(key, Value::Slice(_)) {
                return unknown("assignment to a slice of a list");
            }
            let mut items = items
                .try_borrow_mut()
                .map_err(|_| Unknown("a list changed while it is read".into()))?;
            let index = match index_of(key, "list") {
                Ok(Some(i)) => i,
                Ok(None) => return unknown("a list index beyond 64 bits"),
                Err(raised) => return Ok(raised),
            };
            let length = items.len() as i64;
            let position = if index < 0 { index + length } else { index };
            if position < 0 || position >= length {
                let what = if value.is_some() {
                    "assignment"
                } else {
                    "deletion"
                };
                return Ok(Value::raised(
                    "IndexError",
                    format!("list {what} index out of range"),
                ));
            }
            match value {
                Some(value) => items[position as usize] = value,
                None => {
                    items.remove(position as usize);
                }
            }
            Ok(Value::None)
        }
        Value::Dict(pairs) => {
            let mut pairs = pairs
                .try_borrow_mut()
                .map_err(|_| Unknown("a dict changed while it is read".into()))?;
            let mut found = None;
            for (index, (k, _)) in pairs.iter().enumerate() {
                match eq(k, key) {
                    Some(true) => {
                        found = Some(index);
                        break;
                    }
                    Some(false) => {}
                    None => return unknown("a dict key among keys hltpy does not know"),
                }
            }
            match (found, value) {
                (Some(index), Some(value)) => pairs[index].1 = value,
                (None, Some(value)) => pairs.push((key.clone(), value)),
                (Some(index), None) => {
                    pairs.remove(index);
                }
                (None, None) => return Ok(Value::raised_with("KeyError", key.repr())),
            }
            Ok(Value::None)
        }
        other => unknown(format!("item assignment on {}", other.type_name())),
    }
}

/// `value.name` of a builtin value: a bound method hltpy knows, or the
/// data attributes of numbers, slices and ranges.
pub fn get_attr(value: &Value, name: &str) -> Outcome {
    match (value, name) {
        (Value::Module(module), _) => {
            if &**module == "math" && MATH.contains(&name) {
                return Ok(Value::Builtin(Rc::from(format!("math.{name}").as_str())));
            }
            match (&**module, name) {
                ("math", "pi") => Ok(Value::Float(std::f64::consts::PI)),
                ("math", "e") => Ok(Value::Float(std::f64::consts::E)),
                ("math", "tau") => Ok(Value::Float(std::f64::consts::TAU)),
                ("math", "inf") => Ok(Value::Float(f64::INFINITY)),
                _ => unknown(format!("attribute {name} of module {module}")),
            }
        }
        (Value::Complex(re, _), "real") => Ok(Value::Float(*re)),
        (Value::Complex(_, im), "imag") => Ok(Value::Float(*im)),
        (Value::Int(_) | Value::Bool(_), "real" | "numerator") => unary(UnOp::Pos, value),
        (Value::Int(_) | Value::Bool(_), "imag") => Ok(Value::int(0)),
        (Value::Int(_) | Value::Bool(_), "denominator") => Ok(Value::int(1)),
        (Value::Float(f), "real") => Ok(Value::Float(*f)),
        (Value::Float(_), "imag") => Ok(Value::Float(0.0)),
        (Value::Slice(parts), "start" | "stop" | "step") => {
            let index = ["start", "stop", "step"]
                .iter()
                .position(|n| *n == name)
                .expect("named");
            Ok(parts[index].clone())
        }
        (Value::Range(parts), "start" | "stop" | "step") => {
            let index = ["start", "stop", "step"]
                .iter()
                .position(|n| *n == name)
                .expect("named");
            Ok(Value::Int(parts[index].clone()))
        }
        (Value::Object(object), _) => match object.attr(name) {
            Some(v) => Ok(v),
            None => unknown(format!(
                "attribute {name} of {} (not set in a traced __init__)",
                object.class
            )),
        },
        _ if METHODS.contains(&name) && value.is_known() => {
            Ok(Value::Method(Rc::new((value.clone(), Rc::from(name)))))
        }
        // `mutate` follows lists and dicts; a set's are opaque.
        (Value::List(_) | Value::Dict(_), _) if IN_PLACE_METHODS.contains(&name) => {
            Ok(Value::Method(Rc::new((value.clone(), Rc::from(name)))))
        }
        _ => unknown(format!("attribute {name} of {}", value.type_name())),
    }
}

fn str_arg(value: &Value) -> Option<&str> {
    match value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn string(text: impl AsRef<str>) -> Value {
    Value::Str(Rc::from(text.as_ref()))
}

/// A method of a builtin value, `receiver.name(*args)`.
pub fn call_method(
    receiver: &Value,
    name: &str,
    args: &[&Value],
    keywords: &[(&str, &Value)],
) -> Outcome {
    if !keywords.is_empty() {
        return unknown(format!("{name}() with keyword arguments"));
    }
    match (receiver, name, args) {
        (Value::Str(s), "upper", []) => Ok(string(s.to_uppercase())),
        (Value::Str(s), "lower", []) => Ok(string(s.to_lowercase())),
        (Value::Str(s), "strip", []) => Ok(string(s.trim_matches(is_py_space))),
        (Value::Str(s), "lstrip", []) => Ok(string(s.trim_start_matches(is_py_space))),
        (Value::Str(s), "rstrip", []) => Ok(string(s.trim_end_matches(is_py_space))),
        (Value::Str(s), "split", []) => Ok(Value::list(
            s.split(is_py_space)
                .filter(|p| !p.is_empty())
                .map(string)
                .collect(),
        )),
        (Value::Str(s), "split", [sep]) => match str_arg(sep) {
            Some("") => Ok(Value::raised("ValueError", "empty separator")),
            Some(sep) => Ok(Value::list(s.split(sep).map(string).collect())),
            None => unknown("split with a non-str separator"),
        },
        (Value::Str(s), "join", [items]) => {
            let parts = items_of(items)?;
            let mut texts = Vec::with_capacity(parts.len());
            for (index, part) in parts.iter().enumerate() {
                match str_arg(part) {
                    Some(text) => texts.push(text.to_string()),
                    None => {
                        return Ok(Value::raised(
                            "TypeError",
                            format!(
                                "sequence item {index}: expected str instance, {} found",
                                part.type_name()
                            ),
                        ))
                    }
                }
            }
            Ok(string(texts.join(s)))
        }
        (Value::Str(s), "replace", [old, new]) => match (str_arg(old), str_arg(new)) {
            (Some(old), Some(new)) if !old.is_empty() => Ok(string(s.replace(old, new))),
            _ => unknown("replace with these arguments"),
        },
        (Value::Str(s), "startswith", [prefix]) => match str_arg(prefix) {
            Some(p) => Ok(Value::Bool(s.starts_with(p))),
            None => unknown("startswith with a non-str"),
        },
        (Value::Str(s), "endswith", [suffix]) => match str_arg(suffix) {
            Some(p) => Ok(Value::Bool(s.ends_with(p))),
            None => unknown("endswith with a non-str"),
        },
        (Value::Str(s), "find", [needle]) => match str_arg(needle) {
            Some(n) => Ok(Value::int(
                s.find(n)
                    .map(|byte| s[..byte].chars().count() as i64)
                    .unwrap_or(-1),
            )),
            None => unknown("find with a non-str"),
        },
        (Value::Str(s), "index", [needle]) => match str_arg(needle) {
            Some(n) => Ok(match s.find(n) {
                Some(byte) => Value::int(s[..byte].chars().count() as i64),
                None => Value::raised("ValueError", "substring not found"),
            }),
            None => unknown("index with a non-str"),
        },
        (Value::Str(s), "count", [needle]) => match str_arg(needle) {
            Some("") => Ok(Value::int(s.chars().count() as i64 + 1)),
            Some(n) => Ok(Value::int(s.matches(n).count() as i64)),
            None => unknown("count with a non-str"),
        },
        (Value::Str(s), "isdigit", []) => Ok(Value::Bool(
            !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
        )),
        (Value::Str(s), "isalpha", []) => Ok(Value::Bool(
            !s.is_empty() && s.chars().all(char::is_alphabetic),
        )),
        (Value::Dict(pairs), "items", []) => Ok(Value::View(
            "dict_items",
            pairs
                .borrow()
                .iter()
                .map(|(k, v)| Value::Tuple(Rc::from(vec![k.clone(), v.clone()])))
                .collect(),
        )),
        (Value::Dict(pairs), "keys", []) => Ok(Value::View(
            "dict_keys",
            pairs.borrow().iter().map(|(k, _)| k.clone()).collect(),
        )),
        (Value::Dict(pairs), "values", []) => Ok(Value::View(
            "dict_values",
            pairs.borrow().iter().map(|(_, v)| v.clone()).collect(),
        )),
        (Value::Dict(pairs), "get", [key]) | (Value::Dict(pairs), "get", [key, _]) => {
            for (k, v) in pairs.borrow().iter() {
                match eq(k, key) {
                    Some(true) => return Ok(v.clone()),
                    Some(false) => {}
                    None => return unknown("get among keys hltpy does not know"),
                }
            }
            Ok(args.get(1).map(|d| (*d).clone()).unwrap_or(Value::None))
        }
        (Value::Dict(pairs), "copy", []) => Ok(Value::dict(pairs.borrow().clone())),
        (Value::List(items), "copy", []) => Ok(Value::list(items.borrow().clone())),
        (Value::Tuple(_) | Value::List(_), "index", [wanted]) => {
            let items = receiver.with_items(<[Value]>::to_vec).expect("a sequence");
            for (index, item) in items.iter().enumerate() {
                match eq(item, wanted) {
                    Some(true) => return Ok(Value::int(index as i64)),
                    Some(false) => {}
                    None => return unknown("index among items hltpy does not know"),
                }
            }
            Ok(Value::raised(
                "ValueError",
                format!("{} is not in {}", wanted.repr(), receiver.type_name()),
            ))
        }
        (Value::Tuple(_) | Value::List(_), "count", [wanted]) => {
            let items = receiver.with_items(<[Value]>::to_vec).expect("a sequence");
            let mut count = 0;
            for item in items.iter() {
                match eq(item, wanted) {
                    Some(true) => count += 1,
                    Some(false) => {}
                    None => return unknown("count among items hltpy does not know"),
                }
            }
            Ok(Value::int(count))
        }
        (Value::Bytes(haystack), "index" | "count", [wanted]) => {
            let needle: Vec<u8> = match wanted {
                Value::Bytes(bytes) => bytes.to_vec(),
                Value::Int(_) | Value::Bool(_) => match repetition_count(wanted) {
                    Some(Int::Small(byte @ 0..=255)) => vec![byte as u8],
                    _ => return Ok(Value::raised("ValueError", "byte must be in range(0, 256)")),
                },
                Value::Object(_) | Value::Opaque(_) => {
                    return unknown(format!("bytes.{name}() of a {}", wanted.type_name()))
                }
                other => {
                    return Ok(Value::raised(
                        "TypeError",
                        format!(
                            "argument should be integer or bytes-like object, not '{}'",
                            other.type_name()
                        ),
                    ))
                }
            };
            let found_at = |from: usize| {
                (from..=haystack.len().saturating_sub(needle.len()))
                    .find(|&at| haystack[at..].starts_with(&needle))
            };
            if name == "index" {
                return Ok(match found_at(0) {
                    Some(at) => Value::int(at as i64),
                    None => Value::raised("ValueError", "subsection not found"),
                });
            }
            // Non-overlapping occurrences; the empty one between every byte.
            if needle.is_empty() {
                return Ok(Value::int(haystack.len() as i64 + 1));
            }
            let (mut count, mut from) = (0, 0);
            while let Some(at) = found_at(from) {
                count += 1;
                from = at + needle.len();
            }
            Ok(Value::int(count))
        }
        (Value::List(_) | Value::Dict(_), _, _) => mutate(receiver, name, args),
        (Value::Int(i), "bit_length", []) => Ok(Value::int(i.bits() as i64)),
        (Value::Float(f), "is_integer", []) => Ok(Value::Bool(f.is_finite() && f.fract() == 0.0)),
        (Value::Complex(re, im), "conjugate", []) => Ok(Value::Complex(*re, -im)),
        (Value::Int(_) | Value::Float(_), "conjugate", []) => Ok(receiver.clone()),
        _ => unknown(format!("{}.{name}()", receiver.type_name())),
    }
}

/// The methods that change a list or dict in place, as CPython runs them;
/// the change is seen by every value holding the same list or dict.
fn mutate(receiver: &Value, name: &str, args: &[&Value]) -> Outcome {
    // Arguments are read before the receiver is borrowed for writing
    // (`xs.extend(xs)`).
    match (receiver, name, args) {
        (Value::List(items), "append", [item]) => {
            items.borrow_mut().push((*item).clone());
            Ok(Value::None)
        }
        (Value::List(items), "extend", [more]) => {
            let more = items_of(more)?;
            items.borrow_mut().extend(more);
            Ok(Value::None)
        }
        (Value::List(items), "insert", [index, item]) => {
            let Some(index) = int_arg(index).and_then(|i| i.as_i64()) else {
                return unknown("list.insert at an index hltpy does not know");
            };
            let mut items = items.borrow_mut();
            let length = items.len() as i64;
            let at = if index < 0 {
                (index + length).max(0)
            } else {
                index.min(length)
            };
            items.insert(at as usize, (*item).clone());
            Ok(Value::None)
        }
        (Value::List(items), "pop", []) | (Value::List(items), "pop", [_]) => {
            let mut items = items.borrow_mut();
            if items.is_empty() {
                return Ok(Value::raised("IndexError", "pop from empty list"));
            }
            let length = items.len() as i64;
            let index = match args.first() {
                None => length - 1,
                Some(index) => match int_arg(index).and_then(|i| i.as_i64()) {
                    Some(i) if i < 0 => i + length,
                    Some(i) => i,
                    None => return unknown("list.pop at an index hltpy does not know"),
                },
            };
            if !(0..length).contains(&index) {
                return Ok(Value::raised("IndexError", "pop index out of range"));
            }
            Ok(items.remove(index as usize))
        }
        (Value::List(items), "remove", [wanted]) => {
            let position = position_of(&items.borrow(), wanted)?;
            match position {
                Some(at) => {
                    items.borrow_mut().remove(at);
                    Ok(Value::None)
                }
                None => Ok(Value::raised("ValueError", "list.remove(x): x not in list")),
            }
        }
        (Value::List(items), "clear", []) => {
            items.borrow_mut().clear();
            Ok(Value::None)
        }
        (Value::List(items), "reverse", []) => {
            items.borrow_mut().reverse();
            Ok(Value::None)
        }
        (Value::List(items), "sort", []) => {
            let current = items.borrow().clone();
            match sorted(current)? {
                Value::List(sorted_items) => {
                    let sorted_items = sorted_items.borrow().clone();
                    *items.borrow_mut() = sorted_items;
                    Ok(Value::None)
                }
                raised => Ok(raised),
            }
        }
        (Value::Dict(pairs), "setdefault", [key])
        | (Value::Dict(pairs), "setdefault", [key, _]) => {
            let position = key_position(&pairs.borrow(), key)?;
            if let Some(at) = position {
                return Ok(pairs.borrow()[at].1.clone());
            }
            let default = args.get(1).map(|d| (*d).clone()).unwrap_or(Value::None);
            pairs.borrow_mut().push(((*key).clone(), default.clone()));
            Ok(default)
        }
        (Value::Dict(pairs), "pop", [key]) | (Value::Dict(pairs), "pop", [key, _]) => {
            let position = key_position(&pairs.borrow(), key)?;
            match (position, args.get(1)) {
                (Some(at), _) => Ok(pairs.borrow_mut().remove(at).1),
                (None, Some(default)) => Ok((*default).clone()),
                (None, None) => Ok(Value::raised_with("KeyError", key.repr())),
            }
        }
        (Value::Dict(pairs), "popitem", []) => match pairs.borrow_mut().pop() {
            Some((key, value)) => Ok(Value::Tuple(Rc::from(vec![key, value]))),
            None => Ok(Value::raised("KeyError", "popitem(): dictionary is empty")),
        },
        (Value::Dict(pairs), "update", [Value::Dict(other)]) => {
            let other = other.borrow().clone();
            for (key, value) in other {
                let position = key_position(&pairs.borrow(), &key)?;
                match position {
                    Some(at) => pairs.borrow_mut()[at].1 = value,
                    None => pairs.borrow_mut().push((key, value)),
                }
            }
            Ok(Value::None)
        }
        (Value::Dict(pairs), "clear", []) => {
            pairs.borrow_mut().clear();
            Ok(Value::None)
        }
        _ => unknown(format!("{}.{name}()", receiver.type_name())),
    }
}

/// Where `wanted` is among `items` (compared with `==`).
fn position_of(items: &[Value], wanted: &Value) -> Result<Option<usize>, Unknown> {
    for (at, item) in items.iter().enumerate() {
        match eq(item, wanted) {
            Some(true) => return Ok(Some(at)),
            Some(false) => {}
            None => return unknown("a search among items hltpy does not know"),
        }
    }
    Ok(None)
}

/// Where `key` is among a dict's keys.
fn key_position(pairs: &[(Value, Value)], key: &Value) -> Result<Option<usize>, Unknown> {
    for (at, (k, _)) in pairs.iter().enumerate() {
        match eq(k, key) {
            Some(true) => return Ok(Some(at)),
            Some(false) => {}
            None => return unknown("a search among keys hltpy does not know"),
        }
    }
    Ok(None)
}

/// Python's whitespace for `str.split()`/`strip()` (Unicode White_Space).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn float_arg(value: &Value) -> Result<f64, Result<Value, Unknown>> {
    match num(value) {
        Some(Num::C(..)) | None => Err(if value.is_known() {
            Ok(Value::raised(
                "TypeError",
                format!("must be real number, not {}", value.type_name()),
            ))
        } else {
            unknown("a math function of a value hltpy does not know")
        }),
        Some(n) => float_of(&n).map_err(Ok),
    }
}

/// `math.NAME(*args)`, as the CPython of `version` computes it.
fn call_math(name: &str, args: &[&Value], version: PythonVersion) -> Outcome {
    let recomputed = |outcome: pymath::MathOutcome| outcome.or_else(unknown);
    match (name, args) {
        ("isqrt" | "factorial" | "gcd" | "lcm" | "comb" | "perm", _) => {
            let ints: Option<Vec<Int>> = args.iter().map(|a| int_arg(a)).collect();
            let Some(ints) = ints else {
                return unknown(format!("math.{name} of a value that is not an int"));
            };
            return recomputed(pymath::of_ints(name, &ints));
        }
        ("fsum", [items]) => {
            let mut floats = Vec::new();
            for item in items_of(items)? {
                match float_arg(&item) {
                    Ok(f) => floats.push(f),
                    Err(result) => return result,
                }
            }
            return Ok(pymath::fsum(&floats));
        }
        ("prod", [items]) => {
            let mut product = Value::int(1);
            for item in items_of(items)? {
                product = binary(BinOp::Mul, &product, &item)?;
                if let Value::Raised(_) = product {
                    break;
                }
            }
            return Ok(product);
        }
        ("sumprod", [p, q]) => return sumprod(&items_of(p)?, &items_of(q)?),
        ("dist", [p, q]) => {
            let (p, q) = (items_of(p)?, items_of(q)?);
            if p.len() != q.len() {
                return Ok(Value::raised(
                    "ValueError",
                    "both points must have the same number of dimensions",
                ));
            }
            let mut differences = Vec::with_capacity(p.len());
            for (a, b) in p.iter().zip(&q) {
                let (a, b) = match (float_arg(a), float_arg(b)) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(result), _) | (_, Err(result)) => return result,
                };
                differences.push((a - b).abs());
            }
            return Ok(Value::Float(pymath::norm(&mut differences, version)));
        }
        ("ldexp", [x, exponent]) => {
            let x = match float_arg(x) {
                Ok(x) => x,
                Err(result) => return result,
            };
            let Some(exponent) = int_arg(exponent) else {
                return Ok(Value::raised(
                    "TypeError",
                    "Expected an int as second argument to ldexp.",
                ));
            };
            return Ok(pymath::ldexp_of(x, &exponent));
        }
        ("floor" | "ceil" | "trunc", [Value::Int(i)]) => return Ok(Value::Int(i.clone())),
        ("floor" | "ceil" | "trunc", [Value::Bool(b)]) => return Ok(Value::int(i64::from(*b))),
        ("log" | "log2" | "log10", [_] | [_, _]) => {
            // Each argument's logarithm as CPython's `loghelper` takes it:
            // an int too large for a float through its `frexp`.
            let function = if args.len() == 2 { "log" } else { name };
            let mut logarithms = Vec::with_capacity(2);
            for arg in args {
                let logarithm = match arg {
                    Value::Int(Int::Big(n)) if n.to_f64().is_none_or(f64::is_infinite) => {
                        recomputed(pymath::log_of_big_int(function, n))?
                    }
                    _ => match float_arg(arg) {
                        Ok(x) => recomputed(pymath::of_floats(function, &[x], version))?,
                        Err(result) => return result,
                    },
                };
                match logarithm {
                    Value::Float(f) => logarithms.push(f),
                    raised => return Ok(raised),
                }
            }
            return Ok(match logarithms.as_slice() {
                [_, base] if *base == 0.0 => {
                    Value::raised("ZeroDivisionError", "float division by zero")
                }
                [x, base] => Value::Float(x / base),
                [x] => Value::Float(*x),
                _ => unreachable!("one or two arguments"),
            });
        }
        _ => {}
    }
    let mut floats = Vec::with_capacity(args.len());
    for arg in args {
        match float_arg(arg) {
            Ok(f) => floats.push(f),
            Err(result) => return result,
        }
    }
    if let ("floor" | "ceil" | "trunc", [x]) = (name, floats.as_slice()) {
        let rounded = match name {
            "floor" => x.floor(),
            "ceil" => x.ceil(),
            _ => x.trunc(),
        };
        return float_to_int(rounded);
    }
    recomputed(pymath::of_floats(name, &floats, version))
}

/// `sum(items, start)`. From 3.12 CPython adds floats with a running
/// compensation (Neumaier's), folded in when the floats end; ints and
/// other values are added as `+` adds them.
fn sum(items: &[Value], start: &Value, version: PythonVersion) -> Outcome {
    let mut total = start.clone();
    let mut next = 0;
    if version.minor >= 12 {
        // Ints first, in a machine word; the first other item (or an
        // overflow) is added as `+` adds it and ends that phase.
        if let Value::Int(Int::Small(mut word)) = total {
            while let Some(item) = items.get(next) {
                next += 1;
                let small = match item {
                    Value::Int(Int::Small(x)) => Some(*x),
                    Value::Bool(b) => Some(i64::from(*b)),
                    _ => None,
                };
                if let Some(sum) = small.and_then(|x| word.checked_add(x)) {
                    word = sum;
                    total = Value::int(word);
                    continue;
                }
                total = binary(BinOp::Add, &total, item)?;
                break;
            }
        }
        // Then floats while they last.
        if let Value::Float(mut sum) = total {
            let mut compensation = 0.0f64;
            while let Some(item) = items.get(next) {
                match item {
                    Value::Float(x) => {
                        let t = sum + x;
                        compensation += if sum.abs() >= x.abs() {
                            (sum - t) + x
                        } else {
                            (x - t) + sum
                        };
                        sum = t;
                    }
                    Value::Int(Int::Small(x)) => sum += *x as f64,
                    Value::Bool(b) => sum += f64::from(u8::from(*b)),
                    _ => break,
                }
                next += 1;
            }
            // Not when it would turn an infinite or overflowed sum into NaN.
            if compensation != 0.0 && compensation.is_finite() {
                sum += compensation;
            }
            total = Value::Float(sum);
        }
    }
    for item in &items[next..] {
        if let Value::Raised(_) = total {
            break;
        }
        total = binary(BinOp::Add, &total, item)?;
    }
    Ok(total)
}

/// `math.sumprod(p, q)` as CPython computes it (3.12 on): pairs of ints
/// summed in a machine word while every product and sum fits, then pairs
/// of floats (or a float and an int) in triple length while the total stays
/// finite, then `total + p * q` for the rest. Each phase, once left, is
/// over, and its total is added to the running one as `+` adds it.
fn sumprod(p: &[Value], q: &[Value]) -> Outcome {
    let mut total = Value::int(0);
    let (mut in_ints, mut in_floats) = (true, true);
    let mut word: Option<i64> = None;
    let mut triple: Option<pymath::TripleLength> = None;
    for index in 0.. {
        let pair = match (p.get(index), q.get(index)) {
            (Some(a), Some(b)) => Some((a, b)),
            (None, None) => None,
            _ => {
                return Ok(Value::raised(
                    "ValueError",
                    "Inputs are not the same length",
                ))
            }
        };
        if in_ints {
            if let Some((Value::Int(Int::Small(a)), Value::Int(Int::Small(b)))) = pair {
                let sum = a
                    .checked_mul(*b)
                    .and_then(|product| product.checked_add(word.unwrap_or(0)));
                if let Some(sum) = sum {
                    word = Some(sum);
                    continue;
                }
            }
            in_ints = false;
            if let Some(word) = word.take() {
                total = binary(BinOp::Add, &total, &Value::int(word))?;
            }
        }
        if in_floats {
            let as_float = |value: &Value| match value {
                Value::Int(i) => i.to_f64(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            };
            let floats = match pair {
                Some((Value::Float(a), Value::Float(b))) => Some((*a, *b)),
                Some((Value::Float(a), b)) => as_float(b).map(|b| (*a, b)),
                Some((a, Value::Float(b))) => as_float(a).map(|a| (a, *b)),
                _ => None,
            };
            if let Some((a, b)) = floats {
                let next = triple.unwrap_or_default().add_product(a, b);
                if next.hi.is_finite() {
                    triple = Some(next);
                    continue;
                }
            }
            in_floats = false;
            if let Some(triple) = triple.take() {
                total = binary(BinOp::Add, &total, &Value::Float(triple.to_f64()))?;
            }
        }
        let Some((a, b)) = pair else { break };
        let term = binary(BinOp::Mul, a, b)?;
        if let Value::Raised(_) = term {
            return Ok(term);
        }
        total = binary(BinOp::Add, &total, &term)?;
        if let Value::Raised(_) = total {
            break;
        }
    }
    Ok(total)
}

/// `int(value)` of a whole float: CPython's errors for NaN and infinity.
fn float_to_int(value: f64) -> Outcome {
    if value.is_nan() {
        return Ok(Value::raised(
            "ValueError",
            "cannot convert float NaN to integer",
        ));
    }
    if value.is_infinite() {
        return Ok(Value::raised(
            "OverflowError",
            "cannot convert float infinity to integer",
        ));
    }
    if value.abs() < 9.0e18 {
        return Ok(Value::int(value as i64));
    }
    let (mantissa, exponent, sign) = num_traits::float::FloatCore::integer_decode(value);
    let magnitude = BigInt::from(mantissa) << exponent.max(0) as u64;
    int_value(if sign < 0 { -magnitude } else { magnitude })
}

/// `round(x)` and `round(x, n)` with CPython's half-to-even rule.
fn round(x: &Value, digits: Option<&Value>) -> Outcome {
    match (num(x), digits) {
        (Some(Num::I(i)), None | Some(Value::None)) => Ok(Value::Int(i)),
        (Some(Num::I(i)), Some(Value::Int(Int::Small(n)))) if *n >= 0 => Ok(Value::Int(i)),
        (Some(Num::I(i)), Some(Value::Int(Int::Small(n)))) if *n >= -4300 => {
            // To a multiple of 10**-n, half to even.
            let unit = BigInt::from(10u32).pow(n.unsigned_abs() as u32);
            int_value(nearest_multiple(&i.to_big(), &unit))
        }
        (Some(Num::F(f)), None | Some(Value::None)) => float_to_int(f.round_ties_even()),
        (Some(Num::F(f)), Some(Value::Int(Int::Small(n)))) => Ok(round_float(f, *n)),
        _ => unknown("round with these arguments"),
    }
}

/// The multiple of `unit` nearest to `x`, the even one on a tie.
fn nearest_multiple(x: &BigInt, unit: &BigInt) -> BigInt {
    let (quotient, remainder) = x.div_mod_floor(unit);
    let twice: BigInt = &remainder * 2;
    let up = match twice.cmp(unit) {
        Ordering::Greater => true,
        Ordering::Equal => quotient.is_odd(),
        Ordering::Less => false,
    };
    (if up { quotient + 1 } else { quotient }) * unit
}

/// `round(x, n)` of a float as CPython does it: the exact value of `x`
/// rounded half to even at the n-th decimal (dtoa's mode 3), read back
/// as the nearest float.
fn round_float(x: f64, n: i64) -> Value {
    // Beyond these a float has no such digits (CPython's NDIGITS_MAX/MIN).
    if !x.is_finite() || n > 323 {
        return Value::Float(x);
    }
    if n < -308 {
        return Value::Float(0.0 * x);
    }
    let (mantissa, power_of_two) = crate::value::binary_parts(x);
    // |x| * 10**n = numerator / denominator, exactly.
    let mut numerator = BigInt::from(mantissa);
    let mut denominator = BigInt::one();
    if power_of_two >= 0 {
        numerator <<= power_of_two as usize;
    } else {
        denominator <<= (-power_of_two) as usize;
    }
    let ten_to_n = BigInt::from(10u32).pow(n.unsigned_abs() as u32);
    if n >= 0 {
        numerator *= ten_to_n;
    } else {
        denominator *= ten_to_n;
    }
    let scaled = nearest_multiple(&numerator, &denominator) / denominator;
    // Rust's parse rounds correctly, as dtoa's strtod does.
    let rounded: f64 = format!("{scaled}e{}", -n).parse().unwrap_or(f64::INFINITY);
    if rounded.is_infinite() {
        return Value::raised("OverflowError", "rounded value too large to represent");
    }
    Value::Float(rounded.copysign(x))
}

fn int_arg(value: &Value) -> Option<Int> {
    match value {
        Value::Int(i) => Some(i.clone()),
        Value::Bool(b) => Some(Int::Small(*b as i64)),
        _ => None,
    }
}

/// The largest (or smallest) item, as `max`/`min` pick it: the first of
/// equal ones.
fn extreme(items: &[Value], largest: bool) -> Outcome {
    let name = if largest { "max" } else { "min" };
    let Some(first) = items.first() else {
        return Ok(Value::raised(
            "ValueError",
            format!("{name}() arg is an empty sequence"),
        ));
    };
    let mut best = first.clone();
    for item in &items[1..] {
        let better = compare(if largest { CmpOp::Gt } else { CmpOp::Lt }, item, &best)?;
        match better {
            Value::Bool(true) => best = item.clone(),
            Value::Bool(false) => {}
            raised => return Ok(raised),
        }
    }
    Ok(best)
}

/// `sorted(items)`: a stable sort by `<`, as CPython's.
fn sorted(mut items: Vec<Value>) -> Outcome {
    if items.len() > 1 << 16 {
        return unknown("sorting more items than hltpy recomputes");
    }
    // Insertion sort by `<` keeps stability and reports a TypeError as
    // Python would, without a comparator that can fail mid-sort.
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 {
            match compare(CmpOp::Lt, &items[j], &items[j - 1])? {
                Value::Bool(true) => {
                    items.swap(j, j - 1);
                    j -= 1;
                }
                Value::Bool(false) => break,
                raised => return Ok(raised),
            }
        }
    }
    Ok(Value::list(items))
}

/// A builtin function, by its qualified name (`len`, `math.sqrt`).
pub fn call_builtin(name: &str, args: &[&Value], keywords: &[(&str, &Value)]) -> Outcome {
    call_builtin_in(PythonVersion::NEWEST, name, args, keywords)
}

/// A builtin function as the CPython of `version` computes it.
pub fn call_builtin_in(
    version: PythonVersion,
    name: &str,
    args: &[&Value],
    keywords: &[(&str, &Value)],
) -> Outcome {
    if let Some(function) = name.strip_prefix("math.") {
        if !keywords.is_empty() {
            return unknown(format!("math.{function} with keyword arguments"));
        }
        return call_math(function, args, version);
    }
    if !keywords.is_empty() {
        return unknown(format!("{name}() with keyword arguments"));
    }
    if args.iter().any(|a| !a.is_known()) {
        return unknown(format!("{name}() of a value hltpy does not know"));
    }
    match (name, args) {
        ("ord", [x]) => {
            let (code, length) = match x {
                Value::Str(s) => {
                    let mut chars = s.chars();
                    (chars.next().map(u32::from), s.chars().count())
                }
                Value::Bytes(b) => (b.first().map(|byte| u32::from(*byte)), b.len()),
                other if other.is_known() => {
                    return Ok(Value::raised(
                        "TypeError",
                        format!(
                            "ord() expected string of length 1, but {} found",
                            other.type_name()
                        ),
                    ))
                }
                _ => return unknown("ord() of a value hltpy does not know"),
            };
            match code {
                Some(code) if length == 1 => Ok(Value::int(i64::from(code))),
                _ => Ok(Value::raised(
                    "TypeError",
                    format!("ord() expected a character, but string of length {length} found"),
                )),
            }
        }
        ("chr", [x]) => {
            let Some(code) = int_arg(x) else {
                return unknown("chr() of a value that is not an int");
            };
            match code.as_i64().filter(|c| (0..0x110000).contains(c)) {
                // Surrogates are Python strs but not Rust ones.
                Some(c) => match char::from_u32(c as u32) {
                    Some(c) => Ok(Value::Str(Rc::from(c.to_string()))),
                    None => unknown("chr() of a surrogate"),
                },
                None => Ok(Value::raised(
                    "ValueError",
                    "chr() arg not in range(0x110000)",
                )),
            }
        }
        ("len", [x]) => len(x),
        ("abs", [x]) => unary(UnOp::Abs, x),
        ("min" | "max", [x]) => extreme(&items_of(x)?, name == "max"),
        ("min" | "max", many) if many.len() > 1 => {
            let items: Vec<Value> = many.iter().map(|v| (*v).clone()).collect();
            extreme(&items, name == "max")
        }
        ("sum", [xs]) => sum(&items_of(xs)?, &Value::int(0), version),
        ("sum", [xs, start]) => sum(&items_of(xs)?, start, version),
        ("round", [x]) => round(x, None),
        ("round", [x, n]) => round(x, Some(n)),
        ("divmod", [a, b]) => binary(BinOp::DivMod, a, b),
        ("pow", [a, b]) => binary(BinOp::Pow, a, b),
        ("pow", [a, b, m]) => match (int_arg(a), int_arg(b), int_arg(m)) {
            (Some(_), Some(_), Some(m)) if m.is_zero() => Ok(Value::raised(
                "ValueError",
                "pow() 3rd argument cannot be 0",
            )),
            (Some(a), Some(b), Some(m)) if !b.is_negative() => {
                let m = m.to_big();
                let r = a.to_big().modpow(&b.to_big(), &m);
                // modpow gives a result with the sign of the base; Python's
                // takes the modulus's sign.
                int_value(r.mod_floor(&m))
            }
            _ => unknown("pow with three arguments of these types"),
        },
        ("int", []) => Ok(Value::int(0)),
        ("int", [x]) => match x {
            Value::Int(_) | Value::Bool(_) => unary(UnOp::Pos, x),
            Value::Float(f) => float_to_int(f.trunc()),
            Value::Str(s) => {
                let text = s.trim_matches(is_py_space).replace('_', "");
                match text.parse::<BigInt>() {
                    Ok(v) if !s.trim().starts_with('_') => int_value(v),
                    _ => Ok(Value::raised(
                        "ValueError",
                        format!(
                            "invalid literal for int() with base 10: {}",
                            Value::Str(s.clone()).repr()
                        ),
                    )),
                }
            }
            _ => unknown(format!("int() of {}", x.type_name())),
        },
        ("float", []) => Ok(Value::Float(0.0)),
        ("float", [x]) => match num(x) {
            Some(Num::C(..)) => Ok(Value::raised(
                "TypeError",
                "float() argument must be a string or a real number, not 'complex'",
            )),
            Some(n) => Ok(float_of(&n)
                .map(Value::Float)
                .unwrap_or_else(|raised| raised)),
            None => match x {
                Value::Str(s) => match crate::literal::parse(s.trim()) {
                    Some(Value::Float(f)) => Ok(Value::Float(f)),
                    Some(Value::Int(i)) => Ok(i
                        .to_f64()
                        .map(Value::Float)
                        .unwrap_or(Value::Float(f64::INFINITY))),
                    _ => unknown("float() of this str"),
                },
                _ => unknown(format!("float() of {}", x.type_name())),
            },
        },
        ("str", [x]) => match x {
            Value::Str(_) => Ok((*x).clone()),
            Value::Object(_) => unknown("str() of an object"),
            other => Ok(string(other.repr())),
        },
        ("bool", [x]) => match x.truth() {
            Some(truth) => Ok(Value::Bool(truth)),
            None => unknown(format!("bool() of {}", x.type_name())),
        },
        ("sorted", [x]) => sorted(items_of(x)?),
        ("reversed", [x]) => {
            let mut items = items_of(x)?;
            items.reverse();
            Ok(Value::Tuple(items.into()))
        }
        ("enumerate", [x]) => Ok(Value::Tuple(
            items_of(x)?
                .into_iter()
                .enumerate()
                .map(|(i, v)| Value::Tuple(Rc::from(vec![Value::int(i as i64), v])))
                .collect(),
        )),
        ("zip", many) => {
            let lists = many
                .iter()
                .map(|x| items_of(x))
                .collect::<Result<Vec<_>, _>>()?;
            let shortest = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::Tuple(
                (0..shortest)
                    .map(|i| Value::Tuple(lists.iter().map(|l| l[i].clone()).collect()))
                    .collect(),
            ))
        }
        ("range", bounds) if (1..=3).contains(&bounds.len()) => {
            let ints: Option<Vec<Int>> = bounds.iter().map(|b| int_arg(b)).collect();
            let Some(ints) = ints else {
                return Ok(Value::raised(
                    "TypeError",
                    format!(
                        "'{}' object cannot be interpreted as an integer",
                        bounds
                            .iter()
                            .find(|b| int_arg(b).is_none())
                            .map(|b| b.type_name())
                            .unwrap_or("?")
                    ),
                ));
            };
            let (start, stop, step) = match ints.as_slice() {
                [stop] => (Int::Small(0), stop.clone(), Int::Small(1)),
                [start, stop] => (start.clone(), stop.clone(), Int::Small(1)),
                [start, stop, step] => (start.clone(), stop.clone(), step.clone()),
                _ => unreachable!("1 to 3 bounds"),
            };
            if step.is_zero() {
                return Ok(Value::raised(
                    "ValueError",
                    "range() arg 3 must not be zero",
                ));
            }
            Ok(Value::Range(Rc::new([start, stop, step])))
        }
        ("tuple", []) => Ok(Value::Tuple(Rc::from(Vec::new()))),
        ("tuple", [x]) => Ok(Value::Tuple(items_of(x)?.into())),
        ("list", []) => Ok(Value::list(Vec::new())),
        ("list", [x]) => Ok(Value::list(items_of(x)?)),
        ("set", []) => Ok(Value::Set(Rc::from(Vec::new()))),
        ("set", [x]) => {
            let mut unique: Vec<Value> = Vec::new();
            for item in items_of(x)? {
                if !unique.iter().any(|u| eq(u, &item) == Some(true)) {
                    unique.push(item);
                }
            }
            Ok(Value::Set(unique.into()))
        }
        ("dict", []) => Ok(Value::dict(Vec::new())),
        ("dict", [Value::Dict(pairs)]) => Ok(Value::dict(pairs.borrow().clone())),
        _ => unknown(format!("{name}() with {} arguments", args.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Value {
        Value::int(v)
    }

    fn show(outcome: Outcome) -> String {
        match outcome {
            Ok(v) => v.repr(),
            Err(Unknown(reason)) => format!("unknown: {reason}"),
        }
    }

    #[test]
    fn the_nth_item_is_the_nth_of_all_items() {
        let values = [
            Value::Tuple(Rc::from(vec![int(1), int(2)])),
            Value::list(vec![int(3), Value::Str(Rc::from("x")), int(5)]),
            Value::Str(Rc::from("hé☃")),
            Value::Bytes(Rc::from(&b"ab"[..])),
            Value::Dict(Rc::new(std::cell::RefCell::new(vec![
                (int(7), int(8)),
                (int(9), int(10)),
            ]))),
        ];
        for value in values {
            let all = items_of(&value).expect("items");
            for index in 0..all.len() + 2 {
                let expected = all
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| Value::raised("StopIteration", ""));
                let got = nth_item(&value, index as u64).expect("an item");
                assert_eq!(got.repr(), expected.repr(), "{} [{index}]", value.repr());
            }
        }
    }

    #[test]
    fn int_operators_follow_cpython() {
        assert_eq!(show(binary(BinOp::FloorDiv, &int(-7), &int(2))), "-4");
        assert_eq!(show(binary(BinOp::Mod, &int(-7), &int(2))), "1");
        assert_eq!(show(binary(BinOp::Mod, &int(7), &int(-2))), "-1");
        assert_eq!(
            show(binary(BinOp::TrueDiv, &int(1), &int(3))),
            "0.3333333333333333"
        );
        assert_eq!(show(binary(BinOp::Pow, &int(2), &int(-1))), "0.5");
        assert_eq!(
            show(binary(BinOp::Pow, &int(2), &int(100))),
            "1267650600228229401496703205376"
        );
        assert_eq!(
            show(binary(BinOp::Mul, &int(i64::MAX), &int(2))),
            "18446744073709551614"
        );
        assert_eq!(
            show(binary(BinOp::FloorDiv, &int(1), &int(0))),
            "raised ZeroDivisionError('integer division or modulo by zero')"
        );
        assert_eq!(show(binary(BinOp::Add, &Value::Bool(true), &int(1))), "2");
        assert!(show(binary(
            BinOp::Pow,
            &int(2),
            &Value::Int(Int::Small(1_000_000_000_000))
        ))
        .starts_with("unknown"));
    }

    #[test]
    fn big_int_true_division_rounds_once() {
        // (2**60 + 1) / 3 — two float conversions would round twice.
        let big = Value::Int(Int::from_big(BigInt::from(1u64 << 60) + 1));
        assert_eq!(
            show(binary(BinOp::TrueDiv, &big, &int(3))),
            "3.843071682022823e+17"
        );
        let huge = Value::Int(Int::from_big(BigInt::from(10).pow(400)));
        assert_eq!(
            show(binary(BinOp::TrueDiv, &huge, &int(3))),
            "raised OverflowError('integer division result too large for a float')"
        );
    }

    #[test]
    fn float_operators_follow_cpython() {
        let f = Value::Float;
        assert_eq!(show(binary(BinOp::FloorDiv, &f(-7.5), &f(2.0))), "-4.0");
        assert_eq!(show(binary(BinOp::Mod, &f(-7.5), &f(2.0))), "0.5");
        assert_eq!(show(binary(BinOp::Mod, &f(7.5), &f(-2.0))), "-0.5");
        assert_eq!(show(binary(BinOp::Mod, &f(-0.0), &f(2.0))), "0.0");
        assert_eq!(
            show(binary(BinOp::Pow, &f(2.0), &f(10000.0))),
            "raised OverflowError(34, 'Numerical result out of range')"
        );
        assert_eq!(show(binary(BinOp::Add, &int(1), &f(0.5))), "1.5");
        assert_eq!(show(binary(BinOp::Pow, &f(f64::NAN), &f(0.0))), "1.0");
    }

    #[test]
    fn sequences_and_comparisons_follow_cpython() {
        let s = |t: &str| Value::str(t);
        assert_eq!(show(binary(BinOp::Mul, &int(3), &s("ab"))), "'ababab'");
        assert_eq!(show(binary(BinOp::Mul, &s("ab"), &int(-1))), "''");
        let t = |items: Vec<Value>| Value::Tuple(items.into());
        assert_eq!(
            show(binary(BinOp::Add, &t(vec![int(1)]), &t(vec![int(2)]))),
            "(1, 2)"
        );
        assert_eq!(
            show(compare(
                CmpOp::Lt,
                &t(vec![int(1), int(2)]),
                &t(vec![int(1), int(3)])
            )),
            "True"
        );
        assert_eq!(
            show(compare(CmpOp::Lt, &int(1), &Value::Float(f64::NAN))),
            "False"
        );
        assert_eq!(
            show(compare(CmpOp::Lt, &int(1), &s("a"))),
            "raised TypeError(\"'<' not supported between instances of 'int' and 'str'\")"
        );
        let big = Value::Int(Int::from_big(BigInt::from(1u64 << 53) + 1));
        assert_eq!(
            show(compare(CmpOp::Gt, &big, &Value::Float(9007199254740992.0))),
            "True"
        );
        assert_eq!(
            show(compare(CmpOp::Eq, &int(1), &Value::Float(1.0))),
            "True"
        );
        assert_eq!(show(contains(&s("hello"), &s("ell"))), "True");
    }

    #[test]
    fn indexing_and_slicing_follow_cpython() {
        let list = Value::list((0..6).map(int).collect());
        let slice = |a: Value, b: Value, c: Value| Value::Slice(Rc::new([a, b, c]));
        assert_eq!(show(get_item(&list, &int(-1))), "5");
        assert_eq!(
            show(get_item(&list, &slice(int(1), int(-1), Value::None))),
            "[1, 2, 3, 4]"
        );
        assert_eq!(
            show(get_item(&list, &slice(Value::None, Value::None, int(-2)))),
            "[5, 3, 1]"
        );
        assert_eq!(show(get_item(&Value::str("héllo"), &int(1))), "'é'");
        assert_eq!(
            show(get_item(&list, &int(6))),
            "raised IndexError('list index out of range')"
        );
        let range = call_builtin("range", &[&int(0), &int(10), &int(3)], &[]).unwrap();
        assert_eq!(show(get_item(&range, &int(-1))), "9");
        assert_eq!(
            show(get_item(&range, &slice(int(1), Value::None, Value::None))),
            "range(3, 12, 3)"
        );
    }

    #[test]
    fn builtins_follow_cpython() {
        let list = Value::list(vec![int(3), int(1), int(2)]);
        assert_eq!(show(call_builtin("sorted", &[&list], &[])), "[1, 2, 3]");
        assert_eq!(show(call_builtin("max", &[&list], &[])), "3");
        assert_eq!(show(call_builtin("sum", &[&list], &[])), "6");
        assert_eq!(show(call_builtin("round", &[&Value::Float(2.5)], &[])), "2");
        assert_eq!(
            show(call_builtin("pow", &[&int(-3), &int(3), &int(5)], &[])),
            "3"
        );
        assert_eq!(show(call_builtin("int", &[&Value::Float(-2.7)], &[])), "-2");
        assert_eq!(
            show(call_builtin("math.sqrt", &[&int(-1)], &[])),
            "raised ValueError('math domain error')"
        );
        assert_eq!(
            show(call_method(
                &Value::str("a,b"),
                "split",
                &[&Value::str(",")],
                &[]
            )),
            "['a', 'b']"
        );
    }
}
