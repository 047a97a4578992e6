//! A thread's last few bearer tokens, each with something already worked out from it.
//!
//! A client sends the same token with every request, and the work done on a token (checking its
//! syntax, hashing it) depends on the token alone. Comparing a token with a remembered one costs
//! a fraction of that work. The tokens are other clients' credentials, so they are compared in
//! constant time, and only a few are kept.

use std::sync::Arc;

use super::constant_time_eq;

/// Up to [`RecentTokens::ENTRIES`] tokens, the oldest replaced first.
pub(super) struct RecentTokens<T> {
    entries: Vec<(Arc<str>, T)>,
    /// The entry to replace next, once all are taken.
    next: usize,
}

impl<T> RecentTokens<T> {
    pub(super) const ENTRIES: usize = 4;
    /// Longer tokens are not kept (and their work is done every time).
    pub(super) const MAX_TOKEN_BYTES: usize = 4096;

    pub(super) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            next: 0,
        }
    }

    /// The remembered token equal to `token`, and what was kept with it.
    pub(super) fn find(&self, token: &[u8]) -> Option<&(Arc<str>, T)> {
        self.entries
            .iter()
            .find(|(seen, _)| constant_time_eq(seen.as_bytes(), token))
    }

    /// Remembers `token` with `value`, unless it is longer than [`Self::MAX_TOKEN_BYTES`].
    pub(super) fn insert(&mut self, token: Arc<str>, value: T) {
        if token.len() > Self::MAX_TOKEN_BYTES {
            return;
        }
        if self.entries.len() < Self::ENTRIES {
            self.entries.push((token, value));
        } else {
            self.entries[self.next] = (token, value);
            self.next = (self.next + 1) % Self::ENTRIES;
        }
    }

    #[cfg(test)]
    pub(super) fn tokens(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(token, _)| &**token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_tokens_are_kept_and_found_exactly() {
        let tokens: Vec<String> = (0..6).map(|i| format!("header.payload{i}.sig")).collect();
        let mut recent = RecentTokens::new();
        for (i, token) in tokens.iter().enumerate() {
            recent.insert(Arc::from(token.as_str()), i);
        }
        assert_eq!(
            recent.tokens().count(),
            RecentTokens::<usize>::ENTRIES,
            "bounded"
        );
        for (i, token) in tokens.iter().enumerate() {
            let found = recent.find(token.as_bytes()).map(|(_, value)| *value);
            // The two oldest were replaced; the others keep their own values.
            assert_eq!(found, (i >= 2).then_some(i), "{token}");
        }
        // Same length, last byte differs; a prefix; a longer string.
        assert!(recent.find(b"header.payload5.sif").is_none());
        assert!(recent.find(b"header.payload5.si").is_none());
        assert!(recent.find(b"header.payload5.sigg").is_none());
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let mut recent = RecentTokens::new();
        let long = "x".repeat(RecentTokens::<()>::MAX_TOKEN_BYTES + 1);
        recent.insert(Arc::from(long.as_str()), ());
        assert!(recent.find(long.as_bytes()).is_none());
        assert_eq!(recent.tokens().count(), 0);
    }
}
