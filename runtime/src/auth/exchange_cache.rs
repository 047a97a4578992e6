//! The cache of exchanged tokens: one per subject token, downstream API and scopes, each kept
//! until shortly before the earlier of its own expiry and the subject token's, and bounded.
//!
//! When full, expired entries go first; if none has expired, the entry that would expire
//! soonest makes room (it had the least left to give). So the cache never refuses a token
//! and never grows past its capacity, and a burst of new callers costs the others at most the
//! entries closest to their end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use aws_lc_rs::digest::{SHA256, digest};

use super::issued_token::DownstreamToken;

/// What one exchanged token was asked for: the subject token (by its SHA-256, so the cache
/// holds no caller's token), the API, and the scopes (sorted, space-separated).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    subject: [u8; 32],
    audience: Box<str>,
    scopes: Box<str>,
}

impl CacheKey {
    pub(crate) fn new(subject_token: &str, audience: &str, scopes: &[&str]) -> Self {
        let mut subject = [0u8; 32];
        subject.copy_from_slice(digest(&SHA256, subject_token.as_bytes()).as_ref());
        let mut scopes: Vec<&str> = scopes.to_vec();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            subject,
            audience: audience.into(),
            scopes: scopes.join(" ").into(),
        }
    }
}

/// The cache (see the module's documentation).
pub(crate) struct ExchangeCache {
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, (DownstreamToken, Instant)>>,
}

impl ExchangeCache {
    /// A cache of at most `capacity` tokens (0: none kept).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (DownstreamToken, Instant)>> {
        // A poisoned lock only means a thread panicked mid-update; the map is still a cache.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token kept for `key`, unless it is due (then it is dropped).
    pub(crate) fn get(&self, key: &CacheKey, now: Instant) -> Option<DownstreamToken> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((token, until)) if now < *until => Some(token.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `token` for `key` until `until` (nothing when that is not after `now`).
    pub(crate) fn insert(
        &self,
        key: CacheKey,
        token: DownstreamToken,
        until: Instant,
        now: Instant,
    ) {
        if self.capacity == 0 || until <= now {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, due)| now < *due);
            if entries.len() >= self.capacity
                && let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, (_, due))| *due)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(key, (token, until));
    }

    /// How many tokens are kept (expired ones included until they are looked up or pushed out).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::auth::issued_token::read_issued;

    fn token(audience: &str) -> DownstreamToken {
        let answer = json!({"access_token": "opaque", "token_type": "Bearer"});
        read_issued(&answer, audience).unwrap().token
    }

    fn key(subject: &str) -> CacheKey {
        CacheKey::new(subject, "https://api.example", &[])
    }

    #[test]
    fn keys_tell_subjects_apis_and_scopes_apart_but_not_scope_order() {
        let a = CacheKey::new("t1", "https://api.example", &["b", "a"]);
        assert!(a == CacheKey::new("t1", "https://api.example", &["a", "b", "a"]));
        assert!(a != CacheKey::new("t2", "https://api.example", &["a", "b"]));
        assert!(a != CacheKey::new("t1", "https://api2.example", &["a", "b"]));
        assert!(a != CacheKey::new("t1", "https://api.example", &["a"]));
    }

    #[test]
    fn an_entry_is_kept_until_its_time_and_not_after() {
        let cache = ExchangeCache::new(4);
        let now = Instant::now();
        cache.insert(
            key("t"),
            token("https://api.example"),
            now + Duration::from_secs(10),
            now,
        );
        assert!(cache.get(&key("t"), now + Duration::from_secs(9)).is_some());
        assert!(
            cache
                .get(&key("t"), now + Duration::from_secs(10))
                .is_none()
        );
        assert_eq!(cache.len(), 0, "a due entry is dropped when looked up");
        cache.insert(key("t"), token("https://api.example"), now, now);
        assert_eq!(cache.len(), 0, "nothing is kept that is due already");
    }

    #[test]
    fn a_full_cache_drops_the_expired_then_the_soonest_due() {
        let cache = ExchangeCache::new(2);
        let now = Instant::now();
        let at = |s: u64| now + Duration::from_secs(s);
        cache.insert(key("a"), token("https://api.example"), at(5), now);
        cache.insert(key("b"), token("https://api.example"), at(50), now);
        // Full: `a` is due soonest and makes room.
        cache.insert(key("c"), token("https://api.example"), at(20), now);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key("a"), now).is_none());
        assert!(cache.get(&key("b"), now).is_some());
        assert!(cache.get(&key("c"), now).is_some());
        // Later, `c` has expired: it goes, `b` stays.
        cache.insert(key("d"), token("https://api.example"), at(100), at(30));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key("b"), at(30)).is_some());
        assert!(cache.get(&key("d"), at(30)).is_some());
        // Replacing a key that is there never evicts another.
        cache.insert(key("d"), token("https://api.example"), at(200), at(30));
        assert!(cache.get(&key("b"), at(30)).is_some());
    }

    #[test]
    fn a_cache_of_no_capacity_keeps_nothing() {
        let cache = ExchangeCache::new(0);
        let now = Instant::now();
        cache.insert(
            key("a"),
            token("https://api.example"),
            now + Duration::from_secs(60),
            now,
        );
        assert_eq!(cache.len(), 0);
    }
}
