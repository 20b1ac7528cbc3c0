//! The one rule for writing Python source from trace data. A trace is an
//! untrusted document: its names, keys, reprs, file names and metadata
//! are whatever the file says. Every piece of trace text that reaches
//! emitted Python (`compile`'s modules, `infer --stubs`, `expr`) goes
//! through one of these functions, so none of it can become code:
//!
//! - a name is written bare only when [`is_identifier`] (CPython's rule:
//!   XID characters, stable under NFKC, not a keyword); otherwise as a
//!   string, through [`attribute`], [`set_attribute`], [`keyword`];
//! - a value is written from what [`crate::literal`] read, re-printed by
//!   [`literal`] (never the recorded text itself);
//! - any other text (a comment, a docstring line) goes through [`inert`]:
//!   one line, no control, separator or bidirectional-override character.
//!
//! Every place that writes code or markup from trace data, and what it
//! uses (`tests/test_untrusted.py` fuzzes them all):
//!
//! | where | trace text | through |
//! | --- | --- | --- |
//! | `compile` (analyze/graph/src/compile.rs) | attribute and method names, keyword names | [`attribute`], [`set_attribute`], [`keyword`] |
//! | | parameter names, imported and referenced modules, functions, classes | [`is_identifier`], [`is_dotted_name`]; refused otherwise, naming the node |
//! | | values, dict keys | [`literal_of`] (refused when not a literal, or a parameter with `--allow-constants`) |
//! | | guard messages; comments; the docstring's path and version | [`string`]; [`comment`]; [`inert`] quoted |
//! | `compile --check` | the module's path, the function's name | process arguments, not program text; imports checked by `resolve_imports` |
//! | `expr` (analyze/graph/src/expr.rs) | names, keys, values | [`attribute`], [`keyword`], [`literal_of`] else [`inert`], [`string`] |
//! | stubs (stubs.rs) | module, class, function, parameter, attribute names; types | [`is_identifier`]/[`is_dotted_name`] else a [`comment`]; `well_formed` types else `Any` |
//! | `render`, `diff --render` | labels | `html::escape` (HTML-like labels), `html::dot_string` (DOT strings) |
//! | `report` | every cell and title | `html::escape`; its one script is a constant |
//! | SQL (analyze/src/session.rs) | trace names | `sql_string` |
//! | errors (analyze/src/main.rs) | whatever a message quotes | [`inert`] per line |

use unicode_normalization::UnicodeNormalization;

use crate::value::{bytes_repr, complex_repr, float_repr, is_printable, str_repr, Value};

/// Python's hard keywords, and `__debug__` (which no code may bind).
const RESERVED: &[&str] = &[
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "__debug__",
];

/// Is `text` a name Python reads as itself: an identifier by PEP 3131
/// (XID_Start or `_`, then XID_Continue), unchanged by the NFKC CPython
/// applies to identifiers (`ｆ` would be read as `f`, another name), and
/// not a keyword? Non-ASCII letters count only from [`SETTLED_LETTERS`]:
/// the Unicode tables here are newer than an older CPython's, which
/// rejects a letter assigned since (such a name is written as a string).
pub fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let settled = |c: char| {
        c.is_ascii()
            || SETTLED_LETTERS
                .iter()
                .any(|range| range.contains(&(c as u32)))
    };
    (first == '_' || unicode_ident::is_xid_start(first))
        && chars.all(unicode_ident::is_xid_continue)
        && text.chars().all(settled)
        && (text.is_ascii() || text.nfkc().eq(text.chars()))
        && !RESERVED.contains(&text)
}

/// Blocks of letters every CPython hltpy supports (3.10: Unicode 13) has
/// whole: Latin, IPA, Greek, Cyrillic, Armenian, Hebrew, Arabic, kana, CJK
/// ideographs and Hangul syllables.
const SETTLED_LETTERS: &[std::ops::RangeInclusive<u32>] = &[
    0x00C0..=0x02AF,
    0x0370..=0x03FF,
    0x0400..=0x04FF,
    0x0531..=0x0587,
    0x05D0..=0x05EA,
    0x0620..=0x064A,
    0x1E00..=0x1FFF,
    0x3041..=0x30FF,
    0x4E00..=0x9FEF,
    0xAC00..=0xD7A3,
];

/// Is `text` a dotted name (`pkg.mod`, `pkg.mod.Class`) of identifiers?
pub fn is_dotted_name(text: &str) -> bool {
    text.split('.').all(is_identifier)
}

/// A string literal holding `text` (CPython's repr).
pub fn string(text: &str) -> String {
    str_repr(text)
}

/// A value as Python source that evaluates to it, for the values a literal
/// can write (numbers, strings, bytes, None, bools, containers of them,
/// `range`, `slice`); None for anything else (objects, modules, opaque
/// values). Non-finite floats are written as `float('inf')`.
pub fn literal(value: &Value) -> Option<String> {
    let mut out = String::new();
    write_literal(value, &mut out, 0).then_some(out)
}

/// Recorded text (a `value_repr`, a dict key) as a literal: read, then
/// written anew by [`literal`].
pub fn literal_of(text: &str) -> Option<String> {
    literal(&crate::literal::parse(text)?)
}

fn write_literal(value: &Value, out: &mut String, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let items = |out: &mut String, items: &mut dyn Iterator<Item = &Value>| {
        let mut first = true;
        for item in items {
            if !first {
                out.push_str(", ");
            }
            first = false;
            if !write_literal(item, out, depth + 1) {
                return false;
            }
        }
        true
    };
    match value {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(v) => out.push_str(&v.to_string()),
        Value::Float(v) => out.push_str(&float_literal(*v)),
        Value::Complex(re, im) if re.is_finite() && im.is_finite() => {
            out.push_str(&complex_repr(*re, *im))
        }
        Value::Complex(re, im) => out.push_str(&format!(
            "complex({}, {})",
            float_literal(*re),
            float_literal(*im)
        )),
        Value::Str(text) => out.push_str(&str_repr(text)),
        Value::Bytes(bytes) => out.push_str(&bytes_repr(bytes)),
        Value::Tuple(values) => {
            out.push('(');
            if !items(out, &mut values.iter()) {
                return false;
            }
            out.push_str(if values.len() == 1 { ",)" } else { ")" });
        }
        Value::List(values) => {
            let Ok(values) = values.try_borrow() else {
                return false;
            };
            out.push('[');
            if !items(out, &mut values.iter()) {
                return false;
            }
            out.push(']');
        }
        Value::Set(values) if values.is_empty() => out.push_str("set()"),
        Value::Set(values) => {
            out.push('{');
            if !items(out, &mut values.iter()) {
                return false;
            }
            out.push('}');
        }
        Value::FrozenSet(values) => {
            out.push_str("frozenset({");
            if !items(out, &mut values.iter()) {
                return false;
            }
            out.push_str("})");
        }
        Value::Dict(pairs) => {
            let Ok(pairs) = pairs.try_borrow() else {
                return false;
            };
            out.push('{');
            for (at, (key, value)) in pairs.iter().enumerate() {
                if at > 0 {
                    out.push_str(", ");
                }
                if !write_literal(key, out, depth + 1) {
                    return false;
                }
                out.push_str(": ");
                if !write_literal(value, out, depth + 1) {
                    return false;
                }
            }
            out.push('}');
        }
        Value::Slice(parts) => {
            out.push_str("slice(");
            if !items(out, &mut parts.iter()) {
                return false;
            }
            out.push(')');
        }
        // Ints only: printed by the value itself.
        Value::Range(_) => out.push_str(&value.repr()),
        Value::View(..)
        | Value::Iter(_)
        | Value::Object(_)
        | Value::Module(_)
        | Value::Builtin(_)
        | Value::Method(_)
        | Value::Opaque(_)
        | Value::Raised(_) => return false,
    }
    true
}

fn float_literal(value: f64) -> String {
    if value.is_nan() {
        "float('nan')".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "float('inf')"
        } else {
            "-float('inf')"
        }
        .into()
    } else {
        float_repr(value)
    }
}

/// `object.name` when `name` is an identifier, else
/// `getattr(object, "name")`. `object` is Python the caller wrote.
pub fn attribute(object: &str, name: &str) -> String {
    // `40.real` would be read as a malformed number.
    let object = if object.starts_with(|c: char| c.is_ascii_digit()) {
        format!("({object})")
    } else {
        object.to_string()
    };
    if is_identifier(name) {
        format!("{object}.{name}")
    } else {
        format!("getattr({object}, {})", string(name))
    }
}

/// `object.name = value`, or `setattr(object, "name", value)`.
pub fn set_attribute(object: &str, name: &str, value: &str) -> String {
    if is_identifier(name) {
        format!("{} = {value}", attribute(object, name))
    } else {
        format!("setattr({object}, {}, {value})", string(name))
    }
}

/// A keyword argument: `name=value`, or `**{"name": value}`.
pub fn keyword(name: &str, value: &str) -> String {
    if is_identifier(name) {
        format!("{name}={value}")
    } else {
        format!("**{{{}: {value}}}", string(name))
    }
}

/// Text safe on one line of a comment or a docstring: line breaks,
/// controls, separators and bidirectional controls (which can make a
/// reader see other code than Python runs) as `\x..`/`\u....` escapes;
/// with `quoted`, backslashes and `"` escaped too (inside a string).
pub fn inert(text: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '"' if quoted => {
                out.push('\\');
                out.push(c);
            }
            // What Python's repr would escape (one definition).
            c if is_printable(c) => out.push(c),
            c => {
                let code = c as u32;
                out.push_str(&if code < 0x100 {
                    format!("\\x{code:02x}")
                } else if code < 0x10000 {
                    format!("\\u{code:04x}")
                } else {
                    format!("\\U{code:08x}")
                });
            }
        }
    }
    out
}

/// `# text`, on one line.
pub fn comment(text: &str) -> String {
    format!("# {}", inert(text, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_cpython() {
        for name in [
            "x",
            "_",
            "__init__",
            "métre",
            "δ",
            "match",
            "type",
            "x1",
            "名前",
            "число",
        ] {
            assert!(is_identifier(name), "{name}");
        }
        for name in [
            "",
            "1x",
            "a b",
            "a.b",
            "class",
            "None",
            "__debug__",
            "ｆ",        // NFKC reads it as `f`: another name
            "x\u{2028}", // a line separator
            "v if __import__('os').system('x') == 0 else v",
            "²",
            "match\u{1aef}", // assigned after CPython 3.11's Unicode 14
        ] {
            assert!(!is_identifier(name), "{name:?}");
        }
        assert!(is_dotted_name("pkg.mod.Class"));
        assert!(!is_dotted_name("os;os.system('x')"));
        assert!(!is_dotted_name("pkg..mod"));
    }

    #[test]
    fn names_that_are_not_identifiers_are_strings() {
        let hostile = "v if __import__('os').system('x') else v";
        assert_eq!(
            attribute("b", hostile),
            "getattr(b, \"v if __import__('os').system('x') else v\")"
        );
        assert_eq!(attribute("b", "v"), "b.v");
        assert_eq!(attribute("40", "real"), "(40).real");
        assert_eq!(set_attribute("b", "a\nb", "1"), "setattr(b, 'a\\nb', 1)");
        assert_eq!(keyword("for", "1"), "**{'for': 1}");
        assert_eq!(keyword("n", "1"), "n=1");
    }

    #[test]
    fn literals_are_written_anew() {
        assert_eq!(literal_of("'a\\nb'").as_deref(), Some("'a\\nb'"));
        assert_eq!(
            literal_of("[1.5, inf, -inf, (2,)]").as_deref(),
            Some("[1.5, float('inf'), -float('inf'), (2,)]")
        );
        assert_eq!(
            literal_of("{'k': b'\\x00'}").as_deref(),
            Some("{'k': b'\\x00'}")
        );
        assert_eq!(literal_of("-inf").as_deref(), Some("-float('inf')"));
        assert_eq!(literal_of("nan").as_deref(), Some("float('nan')"));
        assert_eq!(literal_of("<mod.C object>"), None);
        assert_eq!(literal_of("__import__('os')"), None);
    }

    #[test]
    fn inert_text_stays_on_its_line() {
        assert_eq!(comment("a\nimport os"), "# a\\x0aimport os");
        assert_eq!(inert("\u{202e}x\r", false), "\\u202ex\\x0d");
        assert_eq!(inert("\u{6dd}", false), "\\u06dd");
        assert_eq!(string("a\u{6dd}"), "'a\\u06dd'");
        assert_eq!(inert("say \"\"\" \\", true), "say \\\"\\\"\\\" \\\\");
    }
}
