//! A thread's last few accepted bearer tokens, with what was worked out from each.
//!
//! A client sends the same token with every request, and the work done on a token (checking
//! its syntax, hashing it) depends on the token alone. Comparing a token with a remembered one
//! costs a fraction of that work. The tokens are other clients' credentials: they are compared
//! in constant time, and only a few are kept. Only tokens that were accepted are kept, so a
//! flood of made-up ones cannot push out the tokens of the clients being served.
//!
//! The HTTP layer hands the verifier the remembered token itself (an `Arc<str>` from here), so
//! the verifier finds it again by address, without comparing its bytes a second time.

use std::cell::RefCell;
use std::sync::Arc;

use super::secret::constant_time_eq;

/// What is known of a remembered token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Known {
    /// Its SHA-256, once a verifier hashed it.
    digest: Option<[u8; 32]>,
    /// Whether it passed the HTTP layer's syntax check (RFC 6750 `b64token`).
    checked: bool,
}

/// Up to [`ENTRIES`] tokens, the oldest replaced first.
struct RecentTokens {
    entries: Vec<(Arc<str>, Known)>,
    /// The entry to replace next, once all are taken.
    next: usize,
}

const ENTRIES: usize = 4;
/// Longer tokens are not kept (and their work is done every time).
pub(super) const MAX_TOKEN_BYTES: usize = 4096;

thread_local! {
    static RECENT: RefCell<RecentTokens> = const {
        RefCell::new(RecentTokens { entries: Vec::new(), next: 0 })
    };
}

impl RecentTokens {
    /// The entry of `token`: the remembered token itself (same address, same length: no byte
    /// needs comparing), else one equal to it.
    fn find(&self, token: &[u8]) -> Option<usize> {
        let same = |seen: &Arc<str>| std::ptr::eq(seen.as_bytes(), token);
        self.entries
            .iter()
            .position(|(seen, _)| same(seen))
            .or_else(|| {
                self.entries
                    .iter()
                    .position(|(seen, _)| constant_time_eq(seen.as_bytes(), token))
            })
    }

    /// Records `update` for `token`, remembering it first if it is not.
    fn record(&mut self, token: &str, update: impl FnOnce(&mut Known)) {
        if token.len() > MAX_TOKEN_BYTES {
            return;
        }
        let index = match self.find(token.as_bytes()) {
            Some(index) => index,
            None if self.entries.len() < ENTRIES => {
                self.entries.push((Arc::from(token), Known::default()));
                self.entries.len() - 1
            }
            None => {
                let index = self.next;
                self.entries[index] = (Arc::from(token), Known::default());
                self.next = (index + 1) % ENTRIES;
                index
            }
        };
        update(&mut self.entries[index].1);
    }

    fn known(&self, token: &[u8]) -> Option<(&Arc<str>, Known)> {
        let (seen, known) = &self.entries[self.find(token)?];
        Some((seen, *known))
    }
}

/// The SHA-256 of `token` when this thread remembers it.
pub(super) fn digest(token: &str) -> Option<[u8; 32]> {
    RECENT
        .try_with(|recent| recent.borrow().known(token.as_bytes())?.1.digest)
        .ok()
        .flatten()
}

/// Remembers the SHA-256 of `token`, a token a verifier accepted.
pub(super) fn remember_digest(token: &str, digest: [u8; 32]) {
    let _ = RECENT.try_with(|recent| {
        recent
            .borrow_mut()
            .record(token, |known| known.digest = Some(digest));
    });
}

/// The remembered token equal to `token` when it passed the syntax check.
pub(super) fn checked(token: &[u8]) -> Option<Arc<str>> {
    RECENT
        .try_with(|recent| {
            let recent = recent.borrow();
            let (seen, known) = recent.known(token)?;
            known.checked.then(|| Arc::clone(seen))
        })
        .ok()
        .flatten()
}

/// Remembers that `token`, an accepted token, passed the syntax check.
pub(super) fn remember_checked(token: &str) {
    let _ = RECENT.try_with(|recent| {
        recent
            .borrow_mut()
            .record(token, |known| known.checked = true)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Vec<String> {
        (0..6).map(|i| format!("header.payload{i}.sig")).collect()
    }

    #[test]
    fn the_newest_tokens_are_kept_and_found_exactly() {
        let tokens = tokens();
        let mut recent = RecentTokens {
            entries: Vec::new(),
            next: 0,
        };
        for (i, token) in tokens.iter().enumerate() {
            recent.record(token, |known| {
                known.digest = Some([u8::try_from(i).unwrap(); 32])
            });
        }
        assert_eq!(recent.entries.len(), ENTRIES, "bounded");
        for (i, token) in tokens.iter().enumerate() {
            let found = recent.known(token.as_bytes()).and_then(|(_, k)| k.digest);
            // The two oldest were replaced; the others keep their own values.
            let expected = (i >= 2).then(|| [u8::try_from(i).unwrap(); 32]);
            assert_eq!(found, expected, "{token}");
        }
        // Same length, last byte differs; a prefix; a longer string.
        assert!(recent.known(b"header.payload5.sif").is_none());
        assert!(recent.known(b"header.payload5.si").is_none());
        assert!(recent.known(b"header.payload5.sigg").is_none());
        // Found again, by address or by bytes: recorded once.
        recent.record(&tokens[5], |known| known.checked = true);
        let remembered = Arc::clone(recent.known(tokens[5].as_bytes()).unwrap().0);
        recent.record(&remembered, |known| known.checked = true);
        assert_eq!(recent.entries.len(), ENTRIES);
        assert_eq!(
            recent.entries.iter().filter(|(_, k)| k.checked).count(),
            1,
            "one entry per token"
        );
    }

    #[test]
    fn what_one_layer_learns_does_not_stand_for_the_other() {
        let [hashed, checked_only, neither] = ["a.b.hashed", "a.b.checked", "a.b.neither"];
        remember_digest(hashed, [7; 32]);
        remember_checked(checked_only);
        assert_eq!(digest(hashed), Some([7; 32]));
        assert_eq!(checked(hashed.as_bytes()), None, "hashed is not checked");
        assert_eq!(digest(checked_only), None, "checked is not hashed");
        assert_eq!(
            checked(checked_only.as_bytes()).as_deref(),
            Some(checked_only)
        );
        assert_eq!(digest(neither), None);
        assert_eq!(checked(neither.as_bytes()), None);
        // The token handed out is found again by address, and it is the same text.
        let handed = checked(checked_only.as_bytes()).unwrap();
        remember_digest(&handed, [9; 32]);
        assert_eq!(digest(&handed), Some([9; 32]));
        assert_eq!(digest(checked_only), Some([9; 32]));
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        remember_checked(&long);
        remember_digest(&long, [1; 32]);
        assert_eq!(checked(long.as_bytes()), None);
        assert_eq!(digest(&long), None);
    }
}
