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

/// The ids this process accepted, bounded: past [`MemoryReplayStore::CAPACITY`] live ids the
/// store refuses new ones (fail closed) until some expire.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    seen: Mutex<HashMap<String, Instant>>,
}

impl MemoryReplayStore {
    /// The most ids kept at once.
    pub const CAPACITY: usize = 100_000;

    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
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
        if seen.len() >= Self::CAPACITY {
            seen.retain(|_, expires| *expires > now);
            if seen.len() >= Self::CAPACITY {
                return Err(super::store::StoreError::new(
                    "too many request states in flight",
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
}
