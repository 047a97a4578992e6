//! Client-chosen text, clipped before it reaches a log line or a header.
//!
//! A tool name or a resource URI in a request is whatever the client sent, up to the body limit
//! (4 MiB by default). Logged or echoed whole, one request would write megabytes (issue 18,
//! item 10: an attacker must not fill a disk or a log bill). What is logged or echoed is cut
//! at a character boundary, and says how long the original was, so an operator still sees
//! that something oversized was sent.

use std::borrow::Cow;

/// Bytes of a client-chosen name kept in a log line or a challenge: longer than any name a
/// server registers, short enough that a line stays small.
pub(crate) const NAME_BYTES: usize = 128;

/// Bytes of a longer text logged per request that may hold what a client sent (a handler's
/// panic message formatting its arguments).
pub(crate) const TEXT_BYTES: usize = 1024;

/// `text`, or, when longer than `max` bytes, its first `max` bytes at most (cut at a character
/// boundary) followed by `...` and the original length: `"abc... (4194304 bytes)"`.
///
/// The marker is ASCII, so a clipped value is as fit for a header as the original's prefix
/// (RFC 6750 §3 allows only visible ASCII in a challenge's values).
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}... ({} bytes)", &text[..end], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_as_it_is() {
        assert!(matches!(
            clip("read_file", NAME_BYTES),
            Cow::Borrowed("read_file")
        ));
        let exact = "a".repeat(NAME_BYTES);
        assert_eq!(clip(&exact, NAME_BYTES), exact);
    }

    #[test]
    fn long_text_is_cut_and_says_how_long_it_was() {
        let long = format!("file:///{}", "x".repeat(4 << 20));
        let clipped = clip(&long, NAME_BYTES);
        assert_eq!(
            clipped,
            format!("{}... ({} bytes)", &long[..NAME_BYTES], long.len())
        );
        assert!(clipped.len() < NAME_BYTES + 32);
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // "é" is two bytes: a cut at an odd byte would land inside one.
        let long = "é".repeat(200);
        let clipped = clip(&long, 129);
        assert_eq!(clipped, format!("{}... (400 bytes)", "é".repeat(64)));
        // Four-byte characters, every offset.
        let emoji = "🦀".repeat(100);
        for max in 0..12 {
            let clipped = clip(&emoji, max);
            let kept = clipped.split("...").next().unwrap();
            assert_eq!(kept.len(), max / 4 * 4, "max {max}");
        }
    }
}
