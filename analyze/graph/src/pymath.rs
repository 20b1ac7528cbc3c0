//! CPython's `math` module as the interpreter that recorded a trace
//! computes it, bit for bit: the C library's functions where CPython calls
//! them (the same libm: `sin`, `exp`, `atanh`, ...), CPython's own
//! algorithms where it has its own (`hypot`/`dist`'s `vector_norm`,
//! `fsum`, `remainder`, `gamma`, `lgamma`, `log` of a big int), and its
//! rules for which results are errors (`math_1`, `math_2`, `pow`).

#![allow(clippy::excessive_precision)] // see the Lanczos constants

use std::ffi::c_int;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::value::{Int, Value};

/// The CPython version whose `math` a trace was recorded with (its
/// algorithms changed between versions: `hypot` in 3.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PythonVersion {
    pub minor: u32,
}

impl PythonVersion {
    /// The newest version hltpy knows, for traces that do not say.
    pub const NEWEST: PythonVersion = PythonVersion { minor: 13 };

    /// From a trace's `python_version` (`3.11.7`); the newest otherwise.
    pub fn parse(text: &str) -> PythonVersion {
        let mut parts = text.split('.');
        match (parts.next(), parts.next().and_then(|m| m.parse().ok())) {
            (Some("3"), Some(minor)) => PythonVersion { minor },
            _ => PythonVersion::NEWEST,
        }
    }
}

impl Default for PythonVersion {
    fn default() -> Self {
        PythonVersion::NEWEST
    }
}

/// What a math function gave: a value (or a Python exception as a value),
/// or a reason hltpy does not recompute it.
pub type MathOutcome = Result<Value, String>;

/// The C library's math functions, as CPython calls them: looked up in
/// the shared `libm.so.6` CPython links, not taken from this binary, where
/// a dependency's own `cbrt` (a local symbol of another implementation)
/// would be linked instead. Where there is no `libm.so.6`, the linked ones.
macro_rules! libm_functions {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        #[allow(non_snake_case)]
        struct Libm {
            $($name: unsafe extern "C" fn($($ty),*) -> f64,)*
        }

        mod linked {
            unsafe extern "C" {
                $(pub fn $name($($arg: $ty),*) -> f64;)*
            }
        }

        fn load_libm() -> Libm {
            // SAFETY: dlopen/dlsym with NUL-terminated names; a symbol found
            // in libm under a C function's name has that function's type.
            unsafe {
                let handle = dlopen(c"libm.so.6".as_ptr(), RTLD_NOW);
                let find = |name: &std::ffi::CStr| {
                    if handle.is_null() {
                        std::ptr::null_mut()
                    } else {
                        dlsym(handle, name.as_ptr())
                    }
                };
                Libm {
                    $($name: {
                        let found = find(
                            std::ffi::CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes())
                                .expect("a C name"),
                        );
                        if found.is_null() {
                            linked::$name
                        } else {
                            std::mem::transmute::<*mut std::ffi::c_void, unsafe extern "C" fn($($ty),*) -> f64>(found)
                        }
                    },)*
                }
            }
        }
    };
}

libm_functions! {
    acos(x: f64);
    acosh(x: f64);
    asin(x: f64);
    asinh(x: f64);
    atan(x: f64);
    atan2(y: f64, x: f64);
    atanh(x: f64);
    cbrt(x: f64);
    cos(x: f64);
    cosh(x: f64);
    erf(x: f64);
    erfc(x: f64);
    exp(x: f64);
    exp2(x: f64);
    expm1(x: f64);
    fmod(x: f64, y: f64);
    frexp(x: f64, exponent: *mut std::ffi::c_int);
    ldexp(x: f64, exponent: std::ffi::c_int);
    log(x: f64);
    log10(x: f64);
    log1p(x: f64);
    log2(x: f64);
    modf(x: f64, integral: *mut f64);
    nextafter(x: f64, y: f64);
    pow(x: f64, y: f64);
    sin(x: f64);
    sinh(x: f64);
    tan(x: f64);
    tanh(x: f64);
}

const RTLD_NOW: c_int = 2;

unsafe extern "C" {
    fn dlopen(name: *const std::ffi::c_char, flags: c_int) -> *mut std::ffi::c_void;
    fn dlsym(handle: *mut std::ffi::c_void, name: *const std::ffi::c_char)
        -> *mut std::ffi::c_void;
}

fn libm() -> &'static Libm {
    static LIBM: std::sync::OnceLock<Libm> = std::sync::OnceLock::new();
    LIBM.get_or_init(load_libm)
}

fn domain_error() -> Value {
    Value::raised("ValueError", "math domain error")
}

fn range_error() -> Value {
    Value::raised("OverflowError", "math range error")
}

/// CPython's `math_1`: a NaN from a non-NaN is a domain error, an
/// infinity from a finite argument a range error (functions that can
/// overflow) or a domain error (a pole).
fn math_1(x: f64, function: unsafe extern "C" fn(f64) -> f64, can_overflow: bool) -> Value {
    // SAFETY: a libm function of one double, no pointers.
    let r = unsafe { function(x) };
    if r.is_nan() && !x.is_nan() {
        return domain_error();
    }
    if r.is_infinite() && x.is_finite() {
        return if can_overflow {
            range_error()
        } else {
            domain_error()
        };
    }
    Value::Float(r)
}

/// CPython's `math_2`: errors from what the function gave for finite or
/// NaN arguments, as `math_1` (an infinity from finite ones overflowed).
fn math_2(x: f64, y: f64, r: f64) -> Value {
    if r.is_nan() && !x.is_nan() && !y.is_nan() {
        return domain_error();
    }
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return range_error();
    }
    Value::Float(r)
}

/// `math.NAME(*args)` for the functions of float arguments, with the
/// arguments already converted as CPython converts them.
pub fn of_floats(name: &str, xs: &[f64], version: PythonVersion) -> MathOutcome {
    let one = |function, can_overflow| match xs {
        [x] => Ok(math_1(*x, function, can_overflow)),
        _ => Err(format!("math.{name} with {} arguments", xs.len())),
    };
    Ok(match (name, xs) {
        ("acos", _) => return one(libm().acos, false),
        ("acosh", _) => return one(libm().acosh, false),
        ("asin", _) => return one(libm().asin, false),
        ("asinh", _) => return one(libm().asinh, false),
        ("atan", _) => return one(libm().atan, false),
        ("atanh", _) => return one(libm().atanh, false),
        ("cbrt", _) if version.minor >= 11 => return one(libm().cbrt, false),
        ("cos", _) => return one(libm().cos, false),
        ("cosh", _) => return one(libm().cosh, true),
        ("exp", _) => return one(libm().exp, true),
        ("exp2", _) if version.minor >= 11 => return one(libm().exp2, true),
        ("expm1", _) => return one(libm().expm1, true),
        ("sin", _) => return one(libm().sin, false),
        ("sinh", _) => return one(libm().sinh, true),
        ("tan", _) => return one(libm().tan, false),
        ("tanh", _) => return one(libm().tanh, false),
        // Errors only through errno, which erf and erfc set for underflow
        // alone (ignored by CPython).
        ("erf", [x]) => Value::Float(unsafe { (libm().erf)(*x) }),
        ("erfc", [x]) => Value::Float(unsafe { (libm().erfc)(*x) }),
        ("sqrt", [x]) if *x < 0.0 => domain_error(),
        ("sqrt", [x]) => Value::Float(x.sqrt()),
        ("fabs", [x]) => Value::Float(x.abs()),
        ("log1p", [x]) => log1p_of(*x),
        ("log", [x]) => logarithm(*x, libm().log),
        ("log2", [x]) => logarithm(*x, libm().log2),
        ("log10", [x]) => logarithm(*x, libm().log10),
        ("atan2", [y, x]) => math_2(*y, *x, unsafe { (libm().atan2)(*y, *x) }),
        ("copysign", [x, y]) => Value::Float(x.copysign(*y)),
        ("fmod", [x, y]) => {
            if y.is_infinite() && x.is_finite() {
                Value::Float(*x)
            } else {
                math_2(*x, *y, unsafe { (libm().fmod)(*x, *y) })
            }
        }
        ("remainder", [x, y]) => math_2(*x, *y, remainder(*x, *y)),
        ("pow", [x, y]) => math_pow(*x, *y),
        ("hypot", xs) => {
            let mut coordinates: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
            Value::Float(norm(&mut coordinates, version))
        }
        ("degrees", [x]) => Value::Float(x * (180.0 / std::f64::consts::PI)),
        ("radians", [x]) => Value::Float(x * (std::f64::consts::PI / 180.0)),
        ("isfinite", [x]) => Value::Bool(x.is_finite()),
        ("isinf", [x]) => Value::Bool(x.is_infinite()),
        ("isnan", [x]) => Value::Bool(x.is_nan()),
        ("isclose", [a, b]) => Value::Bool(is_close(*a, *b, 1e-09, 0.0)),
        ("frexp", [x]) => {
            let (mantissa, exponent) = if x.is_nan() || x.is_infinite() || *x == 0.0 {
                (*x, 0)
            } else {
                let mut exponent: c_int = 0;
                // SAFETY: `exponent` is a valid place for the result.
                (unsafe { (libm().frexp)(*x, &mut exponent) }, exponent)
            };
            Value::Tuple(vec![Value::Float(mantissa), Value::int(exponent.into())].into())
        }
        ("modf", [x]) => {
            let (fraction, integral) = if x.is_infinite() {
                (0.0f64.copysign(*x), *x)
            } else if x.is_nan() {
                (*x, *x)
            } else {
                let mut integral = 0.0;
                // SAFETY: `integral` is a valid place for the result.
                (unsafe { (libm().modf)(*x, &mut integral) }, integral)
            };
            Value::Tuple(vec![Value::Float(fraction), Value::Float(integral)].into())
        }
        ("nextafter", [x, y]) if version.minor >= 9 => {
            Value::Float(unsafe { (libm().nextafter)(*x, *y) })
        }
        ("ulp", [x]) if version.minor >= 9 => Value::Float(ulp(*x)),
        ("fma", [x, y, z]) if version.minor >= 13 => {
            let r = x.mul_add(*y, *z);
            if r.is_nan() && !x.is_nan() && !y.is_nan() && !z.is_nan() {
                Value::raised("ValueError", "invalid operation in fma")
            } else if r.is_infinite() && x.is_finite() && y.is_finite() && z.is_finite() {
                Value::raised("OverflowError", "overflow in fma")
            } else {
                Value::Float(r)
            }
        }
        ("gamma", [x]) => gamma(*x),
        ("lgamma", [x]) => lgamma(*x),
        _ => return Err(format!("math.{name} with {} arguments", xs.len())),
    })
}

/// `math.log1p`: CPython's `m_log1p` keeps the sign of a zero.
fn log1p_of(x: f64) -> Value {
    if x == 0.0 {
        return Value::Float(x);
    }
    math_1(x, libm().log1p, false)
}

/// `m_log`, `m_log2`, `m_log10`: zero and negative numbers are domain
/// errors, log(inf) is inf, log(nan) nan.
fn logarithm(x: f64, function: unsafe extern "C" fn(f64) -> f64) -> Value {
    if x.is_nan() || (x.is_infinite() && x > 0.0) {
        return Value::Float(x);
    }
    if x <= 0.0 || x.is_infinite() {
        return domain_error();
    }
    // SAFETY: a libm function of one double.
    Value::Float(unsafe { function(x) })
}

/// `math.log(n)` (and log2, log10) of an int too large for a float:
/// CPython's `loghelper` takes `frexp` of the int.
pub fn log_of_big_int(name: &str, n: &BigInt) -> MathOutcome {
    if !n.is_positive() {
        return Ok(domain_error());
    }
    let function: unsafe extern "C" fn(f64) -> f64 = match name {
        "log" => libm().log,
        "log2" => libm().log2,
        "log10" => libm().log10,
        _ => return Err(format!("math.{name} of a large int")),
    };
    let (mantissa, exponent) = frexp_of_int(n);
    // SAFETY: libm functions of one double.
    Ok(Value::Float(unsafe {
        function(mantissa) + function(2.0) * exponent as f64
    }))
}

/// `_PyLong_Frexp`: `n = m * 2**e` with `0.5 <= m < 1`, `m` rounded half
/// to even to 53 bits (`n` positive).
fn frexp_of_int(n: &BigInt) -> (f64, u64) {
    let magnitude = n.magnitude();
    let mut bits = magnitude.bits();
    if bits <= 53 {
        let value = magnitude.to_u64().unwrap_or(0) as f64;
        return (value / 2f64.powi(bits as i32), bits);
    }
    let shift = bits - 53;
    let mut top = (magnitude >> shift).to_u64().unwrap_or(0);
    let rest = magnitude - (num_bigint::BigUint::from(top) << shift);
    let half = num_bigint::BigUint::one() << (shift - 1);
    if rest > half || (rest == half && top & 1 == 1) {
        top += 1;
        if top == 1 << 53 {
            top >>= 1;
            bits += 1;
        }
    }
    (top as f64 / 2f64.powi(53), bits)
}

/// CPython's `m_remainder`: IEEE 754 remainder, exact.
fn remainder(x: f64, y: f64) -> f64 {
    if x.is_finite() && y.is_finite() {
        if y == 0.0 {
            return f64::NAN;
        }
        let (absx, absy) = (x.abs(), y.abs());
        // SAFETY: libm fmod of doubles.
        let m = unsafe { (libm().fmod)(absx, absy) };
        let c = absy - m;
        let r = if m < c {
            m
        } else if m > c {
            -c
        } else {
            // Halfway: to the even multiple.
            m - 2.0 * unsafe { (libm().fmod)(0.5 * (absx - m), absy) }
        };
        return 1.0f64.copysign(x) * r;
    }
    if x.is_nan() {
        return x;
    }
    if y.is_nan() {
        return y;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    x
}

/// `math.pow`: IEEE special values handled before libm's `pow`; a NaN
/// from finite arguments and a zero to a negative power are domain
/// errors, an infinity from finite arguments otherwise overflowed.
fn math_pow(x: f64, y: f64) -> Value {
    if !x.is_finite() || !y.is_finite() {
        let r = if x.is_nan() {
            if y == 0.0 {
                1.0
            } else {
                x
            }
        } else if y.is_nan() {
            if x == 1.0 {
                1.0
            } else {
                y
            }
        } else if x.is_infinite() {
            let odd_y = y.is_finite() && unsafe { (libm().fmod)(y.abs(), 2.0) } == 1.0;
            if y > 0.0 {
                if odd_y {
                    x
                } else {
                    x.abs()
                }
            } else if y == 0.0 {
                1.0
            } else if odd_y {
                0.0f64.copysign(x)
            } else {
                0.0
            }
        } else if x.abs() == 1.0 {
            1.0
        } else if y > 0.0 && x.abs() > 1.0 {
            y
        } else if y < 0.0 && x.abs() < 1.0 {
            -y
        } else {
            0.0
        };
        return Value::Float(r);
    }
    // SAFETY: libm pow of doubles.
    let r = unsafe { (libm().pow)(x, y) };
    if r.is_nan() || (r.is_infinite() && x == 0.0) {
        return domain_error();
    }
    if r.is_infinite() {
        return range_error();
    }
    Value::Float(r)
}

fn is_close(a: f64, b: f64, rel_tol: f64, abs_tol: f64) -> bool {
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    let diff = (b - a).abs();
    diff <= (rel_tol * b).abs() || diff <= (rel_tol * a).abs() || diff <= abs_tol
}

/// `math.ulp`.
fn ulp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.abs();
    if x.is_infinite() {
        return x;
    }
    // SAFETY: libm nextafter of doubles.
    let up = unsafe { (libm().nextafter)(x, f64::INFINITY) };
    if up.is_infinite() {
        return x - unsafe { (libm().nextafter)(x, f64::NEG_INFINITY) };
    }
    up - x
}

/// `vector_norm`: the Euclidean norm of non-negative `coordinates`, as
/// `hypot` and `dist` compute it (3.12 changed the algorithm: same idea,
/// another order of roundings).
pub fn norm(coordinates: &mut [f64], version: PythonVersion) -> f64 {
    let mut max = 0.0f64;
    let mut found_nan = false;
    for &x in coordinates.iter() {
        found_nan |= x.is_nan();
        if x > max {
            max = x;
        }
    }
    vector_norm(coordinates, max, found_nan, version)
}

fn vector_norm(vec: &mut [f64], max: f64, found_nan: bool, version: PythonVersion) -> f64 {
    if max.is_infinite() {
        return max;
    }
    if found_nan {
        return f64::NAN;
    }
    if max == 0.0 || vec.len() <= 1 {
        return max;
    }
    let mut max_e: c_int = 0;
    // SAFETY: `max_e` is a valid place for the exponent.
    unsafe { (libm().frexp)(max, &mut max_e) };
    if max_e < -1023 {
        // ldexp(1.0, -max_e) would overflow: subnormals made normal first.
        for x in vec.iter_mut() {
            *x /= f64::MIN_POSITIVE;
        }
        return f64::MIN_POSITIVE * vector_norm(vec, max / f64::MIN_POSITIVE, found_nan, version);
    }
    // SAFETY: libm ldexp.
    let scale = unsafe { (libm().ldexp)(1.0, -max_e) };
    if version.minor >= 12 {
        norm_exact_products(vec, scale)
    } else {
        norm_split_products(vec, scale)
    }
}

/// 3.12's: each square exact as a double-length product (`fma`), summed
/// with a fast two-sum into one compensated total.
fn norm_exact_products(vec: &[f64], scale: f64) -> f64 {
    let (mut csum, mut frac1, mut frac2) = (1.0f64, 0.0f64, 0.0f64);
    for &value in vec {
        let x = value * scale;
        let (hi, lo) = exact_product(x, x);
        let (sum, error) = fast_two_sum(csum, hi);
        csum = sum;
        frac1 += lo;
        frac2 += error;
    }
    let h = (csum - 1.0 + (frac1 + frac2)).sqrt();
    let (hi, lo) = exact_product(-h, h);
    let (sum, error) = fast_two_sum(csum, hi);
    csum = sum;
    frac1 += lo;
    frac2 += error;
    let x = csum - 1.0 + (frac1 + frac2);
    (h + x / (2.0 * h)) / scale
}

fn exact_product(x: f64, y: f64) -> (f64, f64) {
    let z = x * y;
    (z, x.mul_add(y, -z))
}

fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let x = a + b;
    let z = x - a;
    (x, b - z)
}

/// `math.sumprod`'s float total (3.12 on): each product exact in double
/// length, added into a triple-length total (Ogita-Rump-Oishi's SumKVert,
/// K = 3), rounded to one double only when the float phase ends.
#[derive(Clone, Copy, Default)]
pub struct TripleLength {
    pub hi: f64,
    lo: f64,
    tiny: f64,
}

impl TripleLength {
    /// The total plus `x * y`.
    pub fn add_product(self, x: f64, y: f64) -> TripleLength {
        let (product_hi, product_lo) = exact_product(x, y);
        let (hi, hi_error) = two_sum(self.hi, product_hi);
        let (lo, lo_error) = two_sum(self.lo, product_lo);
        let (lo, carried_error) = two_sum(lo, hi_error);
        TripleLength {
            hi,
            lo,
            tiny: self.tiny + lo_error + carried_error,
        }
    }

    pub fn to_f64(self) -> f64 {
        let (hi, lo) = two_sum(self.lo, self.hi);
        self.tiny + lo + hi
    }
}

/// Knuth's two-sum: `a + b` and its exact rounding error, whatever the
/// magnitudes.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let x = a + b;
    let z = x - a;
    (x, (a - (x - z)) + (b - z))
}

/// 3.10 and 3.11's: each value split in halves (Veltkamp-Dekker), the
/// partial squares summed into three compensations.
fn norm_split_products(vec: &[f64], scale: f64) -> f64 {
    const SPLIT: f64 = 134217729.0; // 2**27 + 1
    let (mut csum, mut frac1, mut frac2, mut frac3) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
    let add = |csum: &mut f64, frac: &mut f64, x: f64| {
        let old = *csum;
        *csum += x;
        *frac += (old - *csum) + x;
    };
    for &value in vec {
        let x = value * scale;
        let t = x * SPLIT;
        let hi = t - (t - x);
        let lo = x - hi;
        add(&mut csum, &mut frac1, hi * hi);
        add(&mut csum, &mut frac2, 2.0 * hi * lo);
        frac3 += lo * lo;
    }
    let h = (csum - 1.0 + (frac1 + frac2 + frac3)).sqrt();
    let t = h * SPLIT;
    let hi = t - (t - h);
    let lo = h - hi;
    add(&mut csum, &mut frac1, -hi * hi);
    add(&mut csum, &mut frac2, -2.0 * hi * lo);
    add(&mut csum, &mut frac3, -lo * lo);
    let x = csum - 1.0 + (frac1 + frac2 + frac3);
    (h + x / (2.0 * h)) / scale
}

/// `math.fsum`: Shewchuk's exact partial sums, rounded once (half to
/// even across partials), with CPython's handling of infinities and NaN.
pub fn fsum(items: &[f64]) -> Value {
    let mut partials: Vec<f64> = Vec::new();
    let (mut special_sum, mut inf_sum) = (0.0f64, 0.0f64);
    for &item in items {
        let mut x = item;
        let mut kept = 0;
        for i in 0..partials.len() {
            let mut y = partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        if x != 0.0 {
            if !x.is_finite() {
                // Intermediate overflow, or an infinity or NaN summed.
                if item.is_finite() {
                    return Value::raised("OverflowError", "intermediate overflow in fsum");
                }
                if item.is_infinite() {
                    inf_sum += item;
                }
                special_sum += item;
                partials.clear();
            } else {
                partials.push(x);
            }
        }
    }
    if special_sum != 0.0 {
        if inf_sum.is_nan() {
            return Value::raised("ValueError", "-inf + inf in fsum");
        }
        return Value::Float(special_sum);
    }
    let mut n = partials.len();
    let mut hi = 0.0f64;
    if n > 0 {
        n -= 1;
        hi = partials[n];
        let mut lo = 0.0f64;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half to even across partials: the next one says which way.
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
    }
    Value::Float(hi)
}

/// Factorials and binomials above this are not recomputed (their digits
/// alone would be megabytes).
const LARGEST_COMBINATORIAL: u64 = 20_000;

/// The math functions of ints: `isqrt`, `factorial`, `gcd`, `lcm`,
/// `comb`, `perm`.
pub fn of_ints(name: &str, ns: &[Int]) -> MathOutcome {
    let big: Vec<BigInt> = ns.iter().map(Int::to_big).collect();
    let small = |n: &BigInt| n.to_u64().filter(|n| *n <= LARGEST_COMBINATORIAL);
    Ok(match (name, big.as_slice()) {
        ("isqrt", [n]) if n.is_negative() => {
            Value::raised("ValueError", "isqrt() argument must be nonnegative")
        }
        ("isqrt", [n]) => int(n.sqrt()),
        ("factorial", [n]) if n.is_negative() => {
            Value::raised("ValueError", "factorial() not defined for negative values")
        }
        ("factorial", [n]) => {
            let n = small(n).ok_or("math.factorial of a large int")?;
            int((1..=n).fold(BigInt::one(), |product, k| product * k))
        }
        ("gcd", ns) => int(ns.iter().fold(BigInt::zero(), |g, n| g.gcd(n))),
        ("lcm", ns) => int(ns.iter().fold(BigInt::one(), |l, n| {
            if l.is_zero() || n.is_zero() {
                BigInt::zero()
            } else {
                l.lcm(n)
            }
        })),
        ("comb" | "perm", [n, k]) => {
            if n.is_negative() {
                return Ok(Value::raised(
                    "ValueError",
                    "n must be a non-negative integer",
                ));
            }
            if k.is_negative() {
                return Ok(Value::raised(
                    "ValueError",
                    "k must be a non-negative integer",
                ));
            }
            if k > n {
                return Ok(Value::int(0));
            }
            let k = small(k).ok_or_else(|| format!("math.{name} of a large k"))?;
            let mut result = BigInt::one();
            for i in 0..k {
                result *= n - i;
            }
            if name == "comb" {
                result /= (1..=k).fold(BigInt::one(), |product, i| product * i);
            }
            int(result)
        }
        ("perm", [n]) => return of_ints("factorial", &[Int::from_big(n.clone())]),
        _ => return Err(format!("math.{name} with {} arguments", ns.len())),
    })
}

fn int(value: BigInt) -> Value {
    Value::Int(Int::from_big(value))
}

/// `math.ldexp(x, i)`: an exponent beyond C's int overflows (or underflows
/// to a signed zero) as CPython decides it.
pub fn ldexp_of(x: f64, exponent: &Int) -> Value {
    if x == 0.0 || !x.is_finite() {
        return Value::Float(x);
    }
    let r = match exponent.as_i64() {
        Some(e) if e > i64::from(c_int::MAX) => f64::INFINITY,
        Some(e) if e < i64::from(c_int::MIN) => 0.0f64.copysign(x),
        // SAFETY: libm ldexp; the exponent fits a C int.
        Some(e) => unsafe { (libm().ldexp)(x, e as c_int) },
        None if exponent.is_negative() => 0.0f64.copysign(x),
        None => f64::INFINITY,
    };
    if r.is_infinite() {
        return range_error();
    }
    Value::Float(r)
}

// CPython's own gamma and lgamma (libm's differ): Lanczos' approximation
// with N=13, g=6.024680040776729583740234375, and the reflection formula.
// The constants are written as CPython writes them: both compilers round
// each decimal to the same double.
const LANCZOS_G: f64 = 6.024680040776729583740234375;
const LANCZOS_G_MINUS_HALF: f64 = 5.524680040776729583740234375;
const LANCZOS_NUM: [f64; 13] = [
    23531376880.410759688572007674451636754734846804940,
    42919803642.649098768957899047001988850926355848959,
    35711959237.355668049440185451547166705960488635843,
    17921034426.037209699919755754458931112671403265390,
    6039542586.3520280050642916443072979210699388420708,
    1439720407.3117216736632230727949123939715485786772,
    248874557.86205415651146038641322942321632125127801,
    31426415.585400194380614231628318205362874684987640,
    2876370.6289353724412254090516208496135991145378768,
    186056.26539522349504029498971604569928220784236328,
    8071.6720023658162106380029022722506138218516325024,
    210.82427775157934587250973392071336271166969580291,
    2.5066282746310002701649081771338373386264310793408,
];
const LANCZOS_DEN: [f64; 13] = [
    0.0,
    39916800.0,
    120543840.0,
    150917976.0,
    105258076.0,
    45995730.0,
    13339535.0,
    2637558.0,
    357423.0,
    32670.0,
    1925.0,
    66.0,
    1.0,
];
const LOG_PI: f64 = 1.144729885849400174143427351353058711647;

fn lanczos_sum(x: f64) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    if x < 5.0 {
        for i in (0..13).rev() {
            num = num * x + LANCZOS_NUM[i];
            den = den * x + LANCZOS_DEN[i];
        }
    } else {
        for i in 0..13 {
            num = num / x + LANCZOS_NUM[i];
            den = den / x + LANCZOS_DEN[i];
        }
    }
    num / den
}

/// sin(pi * x), exact at integers.
fn sin_pi(x: f64) -> f64 {
    let pi = std::f64::consts::PI;
    // SAFETY: libm functions of doubles.
    unsafe {
        let y = (libm().fmod)(x.abs(), 2.0);
        let r = match (2.0 * y).round_ties_even() as i32 {
            0 => (libm().sin)(pi * y),
            1 => (libm().cos)(pi * (y - 0.5)),
            2 => (libm().sin)(pi * (1.0 - y)),
            3 => -(libm().cos)(pi * (y - 1.5)),
            _ => (libm().sin)(pi * (y - 2.0)),
        };
        1.0f64.copysign(x) * r
    }
}

/// gamma(1) ... gamma(23): (n-1)!, each the double nearest to it.
const GAMMA_OF_INTEGERS: [f64; 23] = [
    1.0,
    1.0,
    2.0,
    6.0,
    24.0,
    120.0,
    720.0,
    5040.0,
    40320.0,
    362880.0,
    3628800.0,
    39916800.0,
    479001600.0,
    6227020800.0,
    87178291200.0,
    1307674368000.0,
    20922789888000.0,
    355687428096000.0,
    6402373705728000.0,
    121645100408832000.0,
    2432902008176640000.0,
    51090942171709440000.0,
    1124000727777607680000.0,
];

fn gamma(x: f64) -> Value {
    if !x.is_finite() {
        if x.is_nan() || x > 0.0 {
            return Value::Float(x);
        }
        return domain_error();
    }
    if x == 0.0 {
        return domain_error();
    }
    if x == x.floor() {
        if x < 0.0 {
            return domain_error();
        }
        if x <= GAMMA_OF_INTEGERS.len() as f64 {
            return Value::Float(GAMMA_OF_INTEGERS[x as usize - 1]);
        }
    }
    let absx = x.abs();
    if absx < 1e-20 {
        let r = 1.0 / x;
        return if r.is_infinite() {
            range_error()
        } else {
            Value::Float(r)
        };
    }
    if absx > 200.0 {
        if x < 0.0 {
            return Value::Float(0.0 / sin_pi(x));
        }
        return range_error();
    }
    let y = absx + LANCZOS_G_MINUS_HALF;
    let z = if absx > LANCZOS_G_MINUS_HALF {
        (y - absx) - LANCZOS_G_MINUS_HALF
    } else {
        (y - LANCZOS_G_MINUS_HALF) - absx
    };
    let z = z * LANCZOS_G / y;
    // SAFETY: libm functions of doubles.
    let r = unsafe {
        if x < 0.0 {
            let mut r =
                -std::f64::consts::PI / sin_pi(absx) / absx * (libm().exp)(y) / lanczos_sum(absx);
            r -= z * r;
            if absx < 140.0 {
                r /= (libm().pow)(y, absx - 0.5);
            } else {
                let sqrtpow = (libm().pow)(y, absx / 2.0 - 0.25);
                r /= sqrtpow;
                r /= sqrtpow;
            }
            r
        } else {
            let mut r = lanczos_sum(absx) / (libm().exp)(y);
            r += z * r;
            if absx < 140.0 {
                r *= (libm().pow)(y, absx - 0.5);
            } else {
                let sqrtpow = (libm().pow)(y, absx / 2.0 - 0.25);
                r *= sqrtpow;
                r *= sqrtpow;
            }
            r
        }
    };
    if r.is_infinite() {
        return range_error();
    }
    Value::Float(r)
}

fn lgamma(x: f64) -> Value {
    if !x.is_finite() {
        return Value::Float(if x.is_nan() { x } else { f64::INFINITY });
    }
    if x == x.floor() && x <= 2.0 {
        if x <= 0.0 {
            return domain_error();
        }
        return Value::Float(0.0);
    }
    let absx = x.abs();
    // SAFETY: libm functions of doubles.
    let r = unsafe {
        if absx < 1e-20 {
            return Value::Float(-(libm().log)(absx));
        }
        let mut r = (libm().log)(lanczos_sum(absx)) - LANCZOS_G;
        r += (absx - 0.5) * ((libm().log)(absx + LANCZOS_G - 0.5) - 1.0);
        if x < 0.0 {
            r = LOG_PI - (libm().log)(sin_pi(absx).abs()) - (libm().log)(absx) - r;
        }
        r
    };
    if r.is_infinite() {
        return range_error();
    }
    Value::Float(r)
}
