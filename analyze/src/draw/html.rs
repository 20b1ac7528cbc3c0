//! Text for HTML and DOT: escaping and cutting, shared by `render`'s node
//! labels (graphviz's HTML-like labels and DOT strings), `diff`'s drawing
//! and `report`'s page. Trace text reaches markup only through these.

/// At most `most` characters, the cut marked with an ellipsis.
pub(crate) fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Text for HTML element content and attribute values: markup characters
/// as entities.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The longest DOT string written: graphviz's limit is 16,384 bytes,
/// escapes included.
const DOT_STRING: usize = 2000;

/// A DOT double-quoted string: backslashes (which start DOT's own
/// escapes) and quotes escaped, line breaks as `\n`, other control
/// characters (a NUL ends graphviz's string early) as `·`, cut at
/// [`DOT_STRING`] characters (graphviz refuses longer strings).
pub(crate) fn dot_string(text: &str) -> String {
    let text = cut(text, DOT_STRING);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('·'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{cut, dot_string, escape};

    #[test]
    fn dot_strings_hold_any_text() {
        assert_eq!(dot_string("a\"b\\\nc\0\r"), "\"a\\\"b\\\\\\nc··\"");
    }

    #[test]
    fn markup_in_user_text_stays_text() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn cuts_count_characters_not_bytes() {
        assert_eq!(cut("ééééé", 3), "ééé…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
