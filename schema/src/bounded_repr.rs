//! The rule that bounds a value's printed form, written once for both
//! sides: the capture records a non-scalar value as this bounded repr,
//! and eval prints the values it recomputes the same way to compare them
//! with the recording, so the two must agree byte for byte. A container
//! stops taking items once its text passes `max` bytes (`...` marks the
//! rest), nesting deeper than [`MAX_DEPTH`] prints as `...`, and the whole
//! text is cut to `max` bytes on a character boundary, the cut marked
//! with [`CUT_MARK`]. [`CASES`] is the table both crates test against.

/// Marks where a bounded repr was cut.
pub const CUT_MARK: char = '…';

/// What stands for the items or levels left out.
pub const ELIDED: &str = "...";

/// Nesting deeper than this prints as [`ELIDED`].
pub const MAX_DEPTH: usize = 8;

/// `text` cut to at most `max` bytes on a character boundary, the cut
/// marked with [`CUT_MARK`].
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push(CUT_MARK);
    }
    text
}

/// Is `depth` too deep to print? Then [`ELIDED`] is written for it.
pub fn elide_deeper(depth: usize, out: &mut String) -> bool {
    let deep = depth > MAX_DEPTH;
    if deep {
        out.push_str(ELIDED);
    }
    deep
}

/// A container's items between `open` and `close`, separated by `, `,
/// each written by `write`, until the text passes `max` bytes: then
/// [`ELIDED`] stands for the rest and no further item is looked at.
pub fn write_items<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    open: &str,
    close: &str,
    max: usize,
    mut write: impl FnMut(&mut String, T),
) {
    out.push_str(open);
    for (index, item) in items.into_iter().enumerate() {
        if out.len() > max {
            out.push_str(ELIDED);
            break;
        }
        if index > 0 {
            out.push_str(", ");
        }
        write(out, item);
    }
    out.push_str(close);
}

/// How a tuple of `len` items closes: `(1,)` has a comma.
pub fn tuple_close(len: usize) -> &'static str {
    if len == 1 {
        ",)"
    } else {
        ")"
    }
}

/// One row of the shared table: a Python literal, the bound, and the text
/// both the capture and eval must print for it.
#[derive(Clone, Copy, Debug)]
pub struct ReprCase {
    pub literal: &'static str,
    pub max: usize,
    pub expected: &'static str,
}

/// Values whose capture repr and eval repr must be equal (the capture's
/// tests print each literal's value in CPython, eval's tests print it as
/// the value eval builds from the literal).
pub const CASES: &[ReprCase] = &[
    ReprCase {
        literal: "[1, 2.5, 'a', None, True]",
        max: 200,
        expected: "[1, 2.5, 'a', None, True]",
    },
    ReprCase {
        literal: "(1,)",
        max: 200,
        expected: "(1,)",
    },
    ReprCase {
        literal: "()",
        max: 200,
        expected: "()",
    },
    ReprCase {
        literal: "{'a': [1, (2, 3)], 3: (4,)}",
        max: 200,
        expected: "{'a': [1, (2, 3)], 3: (4,)}",
    },
    ReprCase {
        literal: "set()",
        max: 200,
        expected: "set()",
    },
    ReprCase {
        literal: "frozenset({1})",
        max: 200,
        expected: "frozenset({1})",
    },
    ReprCase {
        literal: "b'x\\x00'",
        max: 200,
        expected: "b'x\\x00'",
    },
    ReprCase {
        literal: "'a\\n\\'\"'",
        max: 200,
        expected: "'a\\n\\'\"'",
    },
    ReprCase {
        literal: "[[[[[[[[[[1]]]]]]]]]]",
        max: 200,
        expected: "[[[[[[[[[...]]]]]]]]]",
    },
    ReprCase {
        literal: "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]",
        max: 10,
        expected: "[1, 2, 3, …",
    },
    ReprCase {
        literal: "[100, 200, 300, 400, 500]",
        max: 12,
        expected: "[100, 200, 3…",
    },
    ReprCase {
        literal: "(1.5, -0.0, 1e+16, 1e-05)",
        max: 200,
        expected: "(1.5, -0.0, 1e+16, 1e-05)",
    },
    ReprCase {
        literal: "'ééééééééé'",
        max: 6,
        expected: "'éé…",
    },
    ReprCase {
        literal: "{1: 2, 3: 4, 5: 6, 7: 8}",
        max: 8,
        expected: "{1: 2, 3…",
    },
    ReprCase {
        literal: "[(1, 2), [3, 4], {5: 6}]",
        max: 200,
        expected: "[(1, 2), [3, 4], {5: 6}]",
    },
    ReprCase {
        literal: "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]",
        max: 14,
        expected: "[[1, 2, 3], [4…",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_falls_on_a_character_boundary_and_is_marked() {
        assert_eq!(cut("abcdef".into(), 10), "abcdef");
        assert_eq!(cut("abcdef".into(), 3), "abc…");
        // 'é' is two bytes: a cut inside it moves back.
        assert_eq!(cut("éé".into(), 3), "é…");
    }

    #[test]
    fn items_stop_once_the_text_passes_the_bound() {
        let mut out = String::new();
        write_items(&mut out, 1..100, "[", "]", 6, |out, i| {
            out.push_str(&i.to_string())
        });
        assert_eq!(out, "[1, 2, 3...]");
        let mut deep = String::new();
        assert!(elide_deeper(MAX_DEPTH + 1, &mut deep) && deep == ELIDED);
        assert!(!elide_deeper(MAX_DEPTH, &mut String::new()));
    }
}
