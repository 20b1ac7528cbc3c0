//! A small reader of Python literals, for the values a trace records as
//! text (`value_repr`, dict keys of Deep items): numbers, strings, bytes,
//! None/True/False, containers, `range(...)`, `slice(...)`, `set()`,
//! `frozenset({...})`, and hltpy's own `<module m>`, `<built-in f>` and
//! `<mod.C object>`. It only reads: nothing is ever run. Text cut by
//! capture (`…`, `...`) is not a literal.

use std::rc::Rc;

use num_bigint::BigInt;

use crate::value::{Int, Value};

/// What ends a repr the capture cut short at `max_repr`.
pub use hltpy_schema::bounded_repr::CUT_MARK;

/// The start of a repr the capture cut short (the text before its
/// closing [`CUT_MARK`]); `None` for a whole one.
pub fn cut_short(text: &str) -> Option<&str> {
    text.strip_suffix(CUT_MARK)
}

/// Reads `text` as one Python literal; `None` when it is not one (cut,
/// an arbitrary repr, or trailing text).
pub fn parse(text: &str) -> Option<Value> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = reader.value()?;
    reader.skip_space();
    (reader.at == reader.text.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
}

/// Nesting deeper than this is refused rather than risk the stack.
const MAX_DEPTH: usize = 64;

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at]).unwrap_or("")
    }

    fn value(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            b'\'' | b'"' => self.string().map(|s| Value::Str(Rc::from(s))),
            b'[' => {
                self.at += 1;
                Some(Value::list(self.items(b']')?))
            }
            b'(' => self.tuple_or_complex(),
            b'{' => self.dict_or_set(),
            b'<' => self.angle(),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            b'b' if matches!(self.text.get(self.at + 1), Some(b'\'' | b'"')) => {
                self.at += 1;
                let text = self.string()?;
                Some(Value::Bytes(Rc::from(bytes_of(&text)?)))
            }
            _ => self.named(),
        }
    }

    fn named(&mut self) -> Option<Value> {
        let word = self.word().to_string();
        match word.as_str() {
            "None" => Some(Value::None),
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "inf" => Some(Value::Float(f64::INFINITY)),
            "nan" => Some(Value::Float(f64::NAN)),
            "set" => (self.eat("(") && self.eat(")")).then_some(Value::Set(Rc::from(Vec::new()))),
            "frozenset" => {
                if !self.eat("(") {
                    return None;
                }
                if self.eat(")") {
                    return Some(Value::FrozenSet(Rc::from(Vec::new())));
                }
                let Value::Set(items) = self.value()? else {
                    return None;
                };
                self.eat(")").then_some(Value::FrozenSet(items))
            }
            "range" => {
                if !self.eat("(") {
                    return None;
                }
                let parts = self.items(b')')?;
                let int = |v: &Value| match v {
                    Value::Int(i) => Some(i.clone()),
                    _ => None,
                };
                let (start, stop, step) = match parts.as_slice() {
                    [start, stop] => (int(start)?, int(stop)?, Int::Small(1)),
                    [start, stop, step] => (int(start)?, int(stop)?, int(step)?),
                    _ => return None,
                };
                Some(Value::Range(Rc::new([start, stop, step])))
            }
            "slice" => {
                if !self.eat("(") {
                    return None;
                }
                let parts: [Value; 3] = self.items(b')')?.try_into().ok()?;
                Some(Value::Slice(Rc::new(parts)))
            }
            _ => None,
        }
    }

    /// Items up to `close` (already past the opening bracket).
    fn items(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek()? == close {
                self.at += 1;
                return Some(items);
            }
            items.push(self.value()?);
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    fn tuple_or_complex(&mut self) -> Option<Value> {
        let start = self.at;
        self.at += 1;
        // `(1+2j)` is a complex number, not a tuple.
        if let Some(value) = self.complex_in_parens() {
            return Some(value);
        }
        self.at = start + 1;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.skip_space();
            if self.peek()? == b')' {
                self.at += 1;
                break;
            }
            items.push(self.value()?);
            self.skip_space();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    comma = true;
                }
                b')' => {}
                _ => return None,
            }
        }
        if items.len() == 1 && !comma {
            return items.pop(); // a parenthesised value
        }
        Some(Value::Tuple(items.into()))
    }

    fn complex_in_parens(&mut self) -> Option<Value> {
        self.skip_space();
        let negative = self.peek() == Some(b'-');
        let real = match self.number()? {
            // CPython prints a whole real part without ".0": `(-0-1j)`.
            Value::Int(i) if i.is_zero() && negative => -0.0,
            Value::Int(i) => i.to_f64()?,
            Value::Float(f) => f,
            _ => return None,
        };
        let sign = match self.peek()? {
            b'+' => 1.0,
            b'-' => -1.0,
            _ => return None,
        };
        self.at += 1;
        let Value::Complex(_, imaginary) = self.number()? else {
            return None;
        };
        self.eat(")")
            .then_some(Value::Complex(real, sign * imaginary))
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        self.at += 1;
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Value::dict(Vec::new()));
        }
        let first = self.value()?;
        self.skip_space();
        if self.peek()? != b':' {
            let mut items = vec![first];
            self.skip_space();
            if self.peek()? == b',' {
                self.at += 1;
                items.extend(self.items(b'}')?);
            } else if !self.eat("}") {
                return None;
            }
            return Some(Value::Set(items.into()));
        }
        self.at += 1;
        let mut pairs = vec![(first, self.value()?)];
        loop {
            self.skip_space();
            match self.peek()? {
                b'}' => {
                    self.at += 1;
                    return Some(Value::dict(pairs));
                }
                b',' => {
                    self.at += 1;
                    if self.eat("}") {
                        return Some(Value::dict(pairs));
                    }
                    let key = self.value()?;
                    if !self.eat(":") {
                        return None;
                    }
                    pairs.push((key, self.value()?));
                }
                _ => return None,
            }
        }
    }

    /// hltpy's address-free forms: `<module m>`, `<built-in f>`,
    /// `<mod.C object>`.
    fn angle(&mut self) -> Option<Value> {
        let end = self.text[self.at..].iter().position(|c| *c == b'>')?;
        let inner = std::str::from_utf8(&self.text[self.at + 1..self.at + end]).ok()?;
        self.at += end + 1;
        if let Some(name) = inner.strip_prefix("module ") {
            return Some(Value::Module(Rc::from(name)));
        }
        if let Some(name) = inner.strip_prefix("built-in ") {
            return Some(Value::Builtin(Rc::from(name)));
        }
        if let Some(class) = inner.strip_suffix(" object") {
            return Some(Value::opaque(class, Some(&format!("<{inner}>"))));
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        self.skip_space();
        let start = self.at;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.at += 1;
        }
        let body_start = self.at;
        if self.text[self.at..].starts_with(b"inf") || self.text[self.at..].starts_with(b"nan") {
            self.at += 3;
        } else {
            while let Some(c) = self.peek() {
                let exponent_sign = matches!(c, b'+' | b'-')
                    && matches!(self.text.get(self.at - 1), Some(b'e' | b'E'));
                if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'_') || exponent_sign {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        if self.at == body_start {
            return None;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        let text = if text.contains('_') {
            std::borrow::Cow::Owned(text.replace('_', ""))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        if self.peek() == Some(b'j') {
            self.at += 1;
            return Some(Value::Complex(0.0, parse_float(&text)?));
        }
        let is_float =
            text.contains(['.', 'e', 'E']) || text.contains("inf") || text.contains("nan");
        if is_float {
            return parse_float(&text).map(Value::Float);
        }
        let digits = text.strip_prefix('+').unwrap_or(&text);
        if digits.trim_start_matches('-').len() > 1
            && digits.trim_start_matches('-').starts_with('0')
        {
            return None; // Python has no leading-zero decimal ints
        }
        // Most ints a trace records as text fit 128 bits, which parse
        // without BigInt's general (and, per node, costly) path.
        if let Ok(value) = digits.parse::<i128>() {
            return Some(match i64::try_from(value) {
                Ok(small) => Value::int(small),
                Err(_) => Value::Int(Int::from_big(BigInt::from(value))),
            });
        }
        digits
            .parse::<BigInt>()
            .ok()
            .map(|v| Value::Int(Int::from_big(v)))
    }

    /// A quoted string with Python's escapes (no prefixes but `b`).
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut bytes = Vec::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                c if c == quote => break,
                b'\\' => {
                    let escape = self.peek()?;
                    self.at += 1;
                    let simple = match escape {
                        b'n' => Some('\n'),
                        b'r' => Some('\r'),
                        b't' => Some('\t'),
                        b'0' => Some('\0'),
                        b'\\' => Some('\\'),
                        b'\'' => Some('\''),
                        b'"' => Some('"'),
                        b'a' => Some('\u{7}'),
                        b'b' => Some('\u{8}'),
                        b'f' => Some('\u{c}'),
                        b'v' => Some('\u{b}'),
                        _ => None,
                    };
                    let c = match (simple, escape) {
                        (Some(c), _) => c,
                        (None, b'x') => self.hex(2)?,
                        (None, b'u') => self.hex(4)?,
                        (None, b'U') => self.hex(8)?,
                        _ => return None,
                    };
                    let mut buffer = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                }
                c => bytes.push(c),
            }
        }
        String::from_utf8(bytes).ok()
    }

    fn hex(&mut self, digits: usize) -> Option<char> {
        let text = std::str::from_utf8(self.text.get(self.at..self.at + digits)?).ok()?;
        self.at += digits;
        char::from_u32(u32::from_str_radix(text, 16).ok()?)
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// The bytes of a `b'...'` literal, read as a string: every character
/// must be below 256.
fn bytes_of(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let value = parse(text).unwrap_or_else(|| panic!("{text} did not parse"));
        assert_eq!(value.repr(), text);
    }

    #[test]
    fn reads_what_capture_writes() {
        for text in [
            "None",
            "True",
            "-12",
            "123456789012345678901234567890",
            "1.5",
            "-1e-05",
            "inf",
            "(1+2j)",
            "-3j",
            "'it\\'s \"x\"'",
            "\"it's\"",
            "'\\x07\\n'",
            "b'a\\x00'",
            "[1, [2, (3,)], {'a': 1.0}]",
            "()",
            "{1, 2}",
            "set()",
            "frozenset({1})",
            "range(0, 10, 2)",
            "range(1, 4)",
            "slice(1, None, -1)",
            "<module math>",
            "<addx.AddX object>",
        ] {
            round_trip(text);
        }
    }

    #[test]
    fn refuses_what_is_not_a_complete_literal() {
        for text in [
            "[1, 2, 3…",
            "[1, 2, ...]",
            "<function f>",
            "Quantity(3)",
            "1 2",
            "007",
            "'open",
            "",
        ] {
            assert!(parse(text).is_none(), "{text} parsed");
        }
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_none());
    }
}
