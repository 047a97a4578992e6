//! State that replicas share: legacy sessions and rate-limit allowances, behind traits with an
//! in-process implementation here and a Redis one in [`super::redis`] (feature `redis`).
//!
//! Without a store a router keeps both in its own memory, which is right for one process. With
//! replicas behind a load balancer, give every replica the same store: a session created on one
//! is served by all, an ended one is gone from all, and a client's allowance is counted once.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::connection::SessionState;
pub use crate::server::{RateLimitStore, StoreError, StoreFuture};

/// One legacy session as a [`SessionStore`] keeps it: whose it is and the state of its client
/// connection. Stored as JSON; the fields are private so its form can grow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The owner's key (subject and client): the same caller must present it on every request.
    owner: String,
    /// Bumped on every write, so a replica knows when its copy is stale.
    revision: u64,
    #[serde(flatten)]
    state: SessionState,
}

impl SessionRecord {
    pub(crate) fn new(owner: String, revision: u64, state: SessionState) -> Self {
        Self {
            owner,
            revision,
            state,
        }
    }

    /// The owner's key.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How many times the record was written.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub(crate) fn state(&self) -> &SessionState {
        &self.state
    }

    /// The record as the JSON a store keeps.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record from the JSON [`Self::to_json`] wrote.
    ///
    /// # Errors
    /// When `json` is not such a record.
    pub fn from_json(json: &str) -> Result<Self, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::new(format!("bad session record: {e}")))
    }
}

/// Where legacy (`Mcp-Session-Id`) sessions live when several processes serve them.
///
/// Only the record is shared; what cannot leave a process stays in it: a session's standalone
/// `GET` stream and the server's requests to the client (sampling, elicitation) are served by
/// the replica that holds the stream or the request (route them with session affinity; see the
/// deployment guide).
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session. When its owner then has more than `max_per_owner` live sessions,
    /// the oldest of them end.
    fn create<'a>(
        &'a self,
        id: &'a str,
        record: &'a SessionRecord,
        max_per_owner: usize,
    ) -> StoreFuture<'a, ()>;

    /// The live session `id`, keeping it alive; `None` when it never existed, ended or expired.
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>>;

    /// Replaces the record of the live session `id`; an ended session stays ended.
    fn save<'a>(&'a self, id: &'a str, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// Ends session `id` of `owner`; whether it was live.
    fn end<'a>(&'a self, id: &'a str, owner: &'a str) -> StoreFuture<'a, bool>;
}

/// A [`SessionStore`] in this process's memory, shared by every router given a clone of it:
/// for several routers in one process, for tests, and as the model of a store of your own.
/// Sessions do not expire; each owner's are capped.
#[derive(Debug, Clone, Default)]
pub struct MemorySessionStore {
    inner: std::sync::Arc<Mutex<MemoryTable>>,
}

#[derive(Debug, Default)]
struct MemoryTable {
    live: HashMap<String, (SessionRecord, u64)>,
    next_serial: u64,
}

impl MemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, MemoryTable> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionStore for MemorySessionStore {
    fn create<'a>(
        &'a self,
        id: &'a str,
        record: &'a SessionRecord,
        max_per_owner: usize,
    ) -> StoreFuture<'a, ()> {
        let mut table = self.table();
        let serial = table.next_serial;
        table.next_serial += 1;
        table.live.insert(id.to_owned(), (record.clone(), serial));
        let mut owned: Vec<(u64, String)> = table
            .live
            .iter()
            .filter(|(_, (r, _))| r.owner == record.owner)
            .map(|(id, (_, serial))| (*serial, id.clone()))
            .collect();
        if owned.len() > max_per_owner.max(1) {
            owned.sort_unstable();
            for (_, oldest) in &owned[..owned.len() - max_per_owner.max(1)] {
                table.live.remove(oldest);
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
        let record = self.table().live.get(id).map(|(r, _)| r.clone());
        Box::pin(async { Ok(record) })
    }

    fn save<'a>(&'a self, id: &'a str, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        if let Some((stored, _)) = self.table().live.get_mut(id) {
            *stored = record.clone();
        }
        Box::pin(async { Ok(()) })
    }

    fn end<'a>(&'a self, id: &'a str, owner: &'a str) -> StoreFuture<'a, bool> {
        let mut table = self.table();
        let owned = table.live.get(id).is_some_and(|(r, _)| r.owner == owner);
        if owned {
            table.live.remove(id);
        }
        Box::pin(async move { Ok(owned) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(owner: &str) -> SessionRecord {
        SessionRecord::new(owner.into(), 0, SessionState::default())
    }

    #[tokio::test]
    async fn the_memory_store_caps_each_owner_and_ends_only_its_own() {
        let store = MemorySessionStore::new();
        for id in ["a1", "a2", "a3"] {
            store.create(id, &record("alice"), 2).await.unwrap();
        }
        store.create("b1", &record("bob"), 2).await.unwrap();
        assert!(
            store.load("a1").await.unwrap().is_none(),
            "alice's oldest ended"
        );
        assert!(store.load("a2").await.unwrap().is_some());
        assert!(store.load("b1").await.unwrap().is_some());
        assert!(!store.end("a2", "bob").await.unwrap(), "not bob's");
        assert!(store.end("a2", "alice").await.unwrap());
        assert!(store.load("a2").await.unwrap().is_none());
        let mut changed = record("alice");
        changed.revision = 7;
        store.save("a2", &changed).await.unwrap();
        assert!(
            store.load("a2").await.unwrap().is_none(),
            "saving does not bring an ended session back"
        );
        store.save("a3", &changed).await.unwrap();
        assert_eq!(store.load("a3").await.unwrap().unwrap().revision(), 7);
    }

    #[test]
    fn records_round_trip_through_json() {
        let state = SessionState {
            capabilities: serde_json::json!({"sampling": {}}),
            log_level: Some(crate::LogLevel::Warning),
            subscriptions: vec!["file:///a".into()],
        };
        let record = SessionRecord::new("sub:a|client:c".into(), 3, state);
        assert_eq!(SessionRecord::from_json(&record.to_json()).unwrap(), record);
        assert!(SessionRecord::from_json("{\"owner\": 1}").is_err());
    }
}
