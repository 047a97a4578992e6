//! A thread's last few accepted bearer tokens.
//!
//! A client sends the same token with every request, and checking a token's syntax depends on
//! the token alone. Comparing a token with a remembered one costs a fraction of that work. The
//! tokens are other clients' credentials: they are compared in constant time, and only a few
//! are kept. Only tokens that were accepted are kept, so a flood of made-up ones cannot push
//! out the tokens of the clients being served.
//!
//! A token is compared in full only with a remembered one of the same length ending in the same
//! eight bytes (the end of a signature, unpredictable): a thread serving many clients, each
//! token new to it, pays a few comparisons of integers per request, not a pass over every
//! remembered token.

use std::cell::RefCell;
use std::sync::Arc;

use super::secret::constant_time_eq;

/// Up to [`ENTRIES`] tokens, the oldest replaced first.
struct RecentTokens {
    entries: Vec<(u64, Arc<str>)>,
    /// The entry to replace next, once all are taken.
    next: usize,
}

const ENTRIES: usize = 4;
/// Longer tokens are not kept (and their syntax is checked every time).
pub(super) const MAX_TOKEN_BYTES: usize = 4096;

thread_local! {
    static RECENT: RefCell<RecentTokens> = const {
        RefCell::new(RecentTokens { entries: Vec::new(), next: 0 })
    };
}

/// A token's last eight bytes (fewer, zero-padded, for a shorter token).
fn tag(token: &[u8]) -> u64 {
    let end = &token[token.len().saturating_sub(8)..];
    let mut bytes = [0; 8];
    bytes[8 - end.len()..].copy_from_slice(end);
    u64::from_le_bytes(bytes)
}

impl RecentTokens {
    /// The entry equal to `token`.
    fn find(&self, token: &[u8]) -> Option<&Arc<str>> {
        let tag = tag(token);
        self.entries
            .iter()
            .find(|(seen_tag, seen)| {
                *seen_tag == tag
                    && seen.len() == token.len()
                    && constant_time_eq(seen.as_bytes(), token)
            })
            .map(|(_, seen)| seen)
    }

    /// Remembers `token`, unless it is remembered already.
    fn record(&mut self, token: &str) {
        if token.len() > MAX_TOKEN_BYTES || self.find(token.as_bytes()).is_some() {
            return;
        }
        let entry = (tag(token.as_bytes()), Arc::from(token));
        if self.entries.len() < ENTRIES {
            self.entries.push(entry);
        } else {
            self.entries[self.next] = entry;
            self.next = (self.next + 1) % ENTRIES;
        }
    }
}

/// The remembered token equal to `token`: it passed the syntax check.
pub(super) fn checked(token: &[u8]) -> Option<Arc<str>> {
    RECENT
        .try_with(|recent| recent.borrow().find(token).map(Arc::clone))
        .ok()
        .flatten()
}

/// Remembers that `token`, an accepted token, passed the syntax check.
pub(super) fn remember_checked(token: &str) {
    let _ = RECENT.try_with(|recent| recent.borrow_mut().record(token));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Vec<String> {
        (0..6)
            .map(|i| format!("header.payload{i}.signature"))
            .collect()
    }

    #[test]
    fn the_newest_tokens_are_kept_and_found_exactly() {
        let tokens = tokens();
        let mut recent = RecentTokens {
            entries: Vec::new(),
            next: 0,
        };
        for token in &tokens {
            recent.record(token);
        }
        assert_eq!(recent.entries.len(), ENTRIES, "bounded");
        for (i, token) in tokens.iter().enumerate() {
            // The two oldest were replaced.
            assert_eq!(recent.find(token.as_bytes()).is_some(), i >= 2, "{token}");
        }
        // Same length and same end, one byte differing; the last byte differing; a prefix; a
        // longer string; the same end alone.
        assert!(recent.find(b"header.payload6.signature").is_none());
        assert!(recent.find(b"header.Payload5.signature").is_none());
        assert!(recent.find(b"header.payload5.signaturf").is_none());
        assert!(recent.find(b"header.payload5.signatur").is_none());
        assert!(recent.find(b"header.payload5.signaturee").is_none());
        assert!(recent.find(b"signature").is_none());
        // Recorded again: still one entry per token.
        recent.record(&tokens[5]);
        assert_eq!(recent.entries.len(), ENTRIES);
        assert_eq!(
            recent
                .entries
                .iter()
                .filter(|(_, seen)| **seen == *tokens[5])
                .count(),
            1,
            "one entry per token"
        );
    }

    #[test]
    fn a_remembered_token_is_handed_back() {
        let [kept, other] = ["a.b.kept", "a.b.other"];
        remember_checked(kept);
        assert_eq!(checked(kept.as_bytes()).as_deref(), Some(kept));
        assert_eq!(checked(other.as_bytes()), None);
        assert_eq!(checked(b"kept"), None, "short tokens are compared whole");
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        remember_checked(&long);
        assert_eq!(checked(long.as_bytes()), None);
    }
}
