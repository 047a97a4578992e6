//! [`ReplayStore`]: the ids of the 2026-07-28 request states already accepted, so that each is
//! accepted once (SEP-2322 asks servers to enforce single use where it matters; an approved
//! answer must not be replayed). In this process's memory by default ([`MemoryReplayStore`]);
//! replicas share one (`RedisStore`, feature `redis`), as a state sealed by one replica may come
//! back to any other.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::store::StoreFuture;

/// Where the ids of accepted request states are kept until they expire.
pub trait ReplayStore: Send + Sync + std::fmt::Debug + 'static {
    /// Records `id` for `ttl` and answers whether it was new: `false` when it was already
    /// recorded (a replay). An error refuses the state (fail closed).
    fn first_use<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;
}

/// The ids this process accepted, bounded: past its capacity ([`MemoryReplayStore::CAPACITY`]
/// unless [`MemoryReplayStore::with_capacity`]) of live ids the store refuses new ones (fail
/// closed) until some expire.
///
/// With DPoP (`HttpConfig::dpop`) every request's proof is kept here for the proof window (5
/// minutes by default): size it for the peak rate of DPoP requests times the window (100 000 is
/// about 330 requests a second), at roughly 150 bytes an id.
#[derive(Debug)]
pub struct MemoryReplayStore {
    seen: Mutex<HashMap<String, Instant>>,
    capacity: usize,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_capacity(Self::CAPACITY)
    }
}

impl MemoryReplayStore {
    /// The most ids kept at once by default.
    pub const CAPACITY: usize = 100_000;

    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping at most `capacity` live ids (at least one).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            seen: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn record(&self, id: &str, ttl: Duration) -> Result<bool, super::store::StoreError> {
        let now = Instant::now();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.get(id).is_some_and(|expires| *expires > now) {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, expires| *expires > now);
            if seen.len() >= self.capacity {
                return Err(super::store::StoreError::new(
                    "the replay store is full: too many live ids",
                ));
            }
        }
        seen.insert(id.to_owned(), now.checked_add(ttl).unwrap_or(now));
        Ok(true)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        let answer = self.record(id, ttl);
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_new_once_until_it_expires() {
        let store = MemoryReplayStore::new();
        assert!(
            store
                .first_use("a", Duration::from_secs(60))
                .await
                .expect("answers")
        );
        assert!(
            !store
                .first_use("a", Duration::from_secs(60))
                .await
                .expect("answers")
        );
        assert!(
            store
                .first_use("b", Duration::from_secs(60))
                .await
                .expect("answers")
        );
        // An expired id is forgotten (its state would be refused as expired anyway).
        assert!(store.first_use("c", Duration::ZERO).await.expect("answers"));
        assert!(
            store
                .first_use("c", Duration::from_secs(60))
                .await
                .expect("answers")
        );
    }

    #[test]
    fn a_full_store_sheds_expired_ids_then_refuses() {
        let store = MemoryReplayStore::new();
        for i in 0..MemoryReplayStore::CAPACITY {
            assert!(store.record(&i.to_string(), Duration::ZERO).expect("room"));
        }
        // All expired: shed, and the new id fits.
        assert!(store.record("new", Duration::from_secs(60)).expect("room"));
        for i in 0..MemoryReplayStore::CAPACITY - 1 {
            assert!(
                store
                    .record(&format!("live{i}"), Duration::from_secs(60))
                    .expect("room")
            );
        }
        assert!(
            store
                .record("one too many", Duration::from_secs(60))
                .is_err()
        );
    }

    #[test]
    fn a_store_of_a_given_capacity_refuses_past_it() {
        let store = MemoryReplayStore::with_capacity(2);
        assert!(store.record("a", Duration::from_secs(60)).expect("room"));
        assert!(store.record("b", Duration::from_secs(60)).expect("room"));
        assert!(store.record("c", Duration::from_secs(60)).is_err());
        // A replay is still told as one, full or not.
        assert!(!store.record("a", Duration::from_secs(60)).expect("answers"));
    }
}
