//! The strings of a trace's nodes (names, types, files, input keys) as
//! values that are copied without touching a shared counter.
//!
//! Every node carries three to six of them, and a pass's reading thread
//! makes and drops millions per second. As `Arc<str>` each copy and drop
//! was a locked increment or decrement (a fifth of decoding a node, and
//! the line bounced between the reading and the pass's thread). The
//! strings a trace repeats are few: the first ones met are kept once for
//! the process (a bounded store, never freed), and a [`Text`] of those is
//! a plain pointer. Past the store's budget (a trace of millions of
//! distinct names) a `Text` is reference counted, as before.

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::{Arc, LazyLock, Mutex};

/// A shared, immutable string: kept for the process, or counted.
///
/// Two words: the address of the bytes, and their length with the top bit
/// saying whether the bytes are an `Arc<str>`'s (then a clone counts).
pub struct Text {
    bytes: NonNull<u8>,
    len_and_counted: usize,
}

const COUNTED: usize = 1 << (usize::BITS - 1);

// SAFETY: a `Text` is either a `&'static str` or an `Arc<str>`, both of
// which are Send and Sync; it hands out only shared references.
unsafe impl Send for Text {}
unsafe impl Sync for Text {}

/// How much the process keeps: past this, strings are counted.
const KEPT_BYTES: usize = 64 << 20;
const KEPT_STRINGS: usize = 1 << 20;

struct Kept {
    strings: HashSet<&'static str>,
    bytes: usize,
}

static KEPT: LazyLock<Mutex<Kept>> = LazyLock::new(|| {
    Mutex::new(Kept {
        strings: HashSet::new(),
        bytes: 0,
    })
});

impl Text {
    /// The process's one copy of `text` (made now if the budget allows),
    /// or a counted copy. Callers keep what this returns (the decoder's
    /// interner): the store's lock is taken once per distinct string.
    pub fn kept(text: &str) -> Text {
        let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&known) = kept.strings.get(text) {
            return Text::from_static(known);
        }
        if kept.bytes + text.len() > KEPT_BYTES || kept.strings.len() >= KEPT_STRINGS {
            return Text::from(text);
        }
        let known: &'static str = Box::leak(Box::from(text));
        kept.strings.insert(known);
        kept.bytes += known.len();
        Text::from_static(known)
    }

    fn from_static(text: &'static str) -> Text {
        Text {
            bytes: NonNull::from(text.as_bytes()).cast(),
            len_and_counted: text.len(),
        }
    }

    fn counted(&self) -> bool {
        self.len_and_counted & COUNTED != 0
    }

    pub fn as_str(&self) -> &str {
        let len = self.len_and_counted & !COUNTED;
        // SAFETY: `bytes` points at `len` bytes of UTF-8 that live as long
        // as this value: a kept string lives for the process, a counted
        // one while this value holds its count.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.bytes.as_ptr(), len))
        }
    }

    /// The address of the bytes: equal texts from one store or one
    /// interner share it (a cheap identity for tables keyed by string).
    pub fn address(&self) -> usize {
        self.bytes.as_ptr() as usize
    }
}

impl From<&str> for Text {
    /// A counted copy (tests, values made by a pass): the store is for
    /// what a trace repeats.
    fn from(text: &str) -> Text {
        Text::from(Arc::<str>::from(text))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text::from(Arc::<str>::from(text))
    }
}

impl From<Arc<str>> for Text {
    fn from(text: Arc<str>) -> Text {
        let len = text.len();
        let bytes = Arc::into_raw(text) as *const u8 as *mut u8;
        Text {
            // An Arc's data pointer is never null.
            bytes: NonNull::new(bytes).expect("an Arc's data"),
            len_and_counted: len | COUNTED,
        }
    }
}

impl Clone for Text {
    fn clone(&self) -> Text {
        if self.counted() {
            // SAFETY: the pointer came from `Arc::into_raw` and this value
            // holds one count, so the allocation is alive.
            unsafe { Arc::increment_strong_count(self.as_str() as *const str) };
        }
        Text {
            bytes: self.bytes,
            len_and_counted: self.len_and_counted,
        }
    }
}

impl Drop for Text {
    fn drop(&mut self) {
        if self.counted() {
            // SAFETY: gives back the count this value held (taken by
            // `From<Arc<str>>` or `clone`).
            unsafe { drop(Arc::from_raw(self.as_str() as *const str)) };
        }
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_text_is_the_one_copy_and_reads_back() {
        let first = Text::kept("text-test-kept");
        let second = Text::kept(&String::from("text-test-kept"));
        assert_eq!(first.address(), second.address());
        assert_eq!(first.as_str(), "text-test-kept");
        assert!(!first.counted());
        let copy = first.clone();
        drop(first);
        assert_eq!(&*copy, "text-test-kept");
    }

    #[test]
    fn a_counted_text_holds_its_count_through_clones_and_drops() {
        let arc: Arc<str> = Arc::from("text-test-counted");
        let text = Text::from(Arc::clone(&arc));
        assert!(text.counted());
        assert_eq!(Arc::strong_count(&arc), 2);
        let copies: Vec<Text> = (0..3).map(|_| text.clone()).collect();
        assert_eq!(Arc::strong_count(&arc), 5);
        drop(copies);
        drop(text);
        assert_eq!(Arc::strong_count(&arc), 1);
        assert_eq!(&*arc, "text-test-counted");
    }

    #[test]
    fn texts_compare_hash_and_print_as_their_strings() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |text: &dyn Fn(&mut DefaultHasher)| {
            let mut state = DefaultHasher::new();
            text(&mut state);
            state.finish()
        };
        let kept = Text::kept("text-test-same");
        let counted = Text::from("text-test-same");
        assert_eq!(kept, counted);
        assert_eq!(hash(&|s| kept.hash(s)), hash(&|s| "text-test-same".hash(s)));
        assert_eq!(
            hash(&|s| counted.hash(s)),
            hash(&|s| "text-test-same".hash(s))
        );
        let mut sorted = vec![Text::from("b"), Text::kept("text-test-a"), Text::from("a")];
        sorted.sort();
        assert_eq!(sorted, ["a", "b", "text-test-a"].map(Text::from));
        assert_eq!(
            format!("{kept} {counted:?}"),
            "text-test-same \"text-test-same\""
        );
        assert_eq!(Text::from(""), Text::kept(""));
    }
}
