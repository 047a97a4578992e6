//! Legacy (2025-06-18 / 2025-11-25) Streamable HTTP sessions: random ids bound to the principal
//! that created them, bounded in number per principal and in total (the least recently used is
//! evicted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::store::{SessionRecord, SessionStore, StoreError};
use crate::connection::Connection;

/// Who owns a session: the same caller must present the same identity on every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Owner(String);

impl Owner {
    pub(crate) fn of(principal: &crate::principal::Principal) -> Self {
        Self(Self::key_of(principal).to_owned())
    }

    /// The key of [`Self::of`]`(principal)`, borrowed: what a session's owner is compared with.
    pub(crate) fn key_of(principal: &crate::principal::Principal) -> &str {
        // The issuer, the subject and the client together (`Principal::identity_key`).
        // Anonymous callers (authorization off) share one owner: their sessions are protected
        // by the id alone.
        principal.identity_key()
    }

    /// Whether `principal`, an authenticated caller when `authenticated` (authorization is
    /// on), may own sessions. An authenticated principal without a subject (an introspection
    /// answer or a custom verifier may give none) owns none: all such callers of one client
    /// would otherwise share every session.
    pub(crate) fn may_own(
        principal: &crate::principal::Principal,
        authenticated: bool,
    ) -> Result<(), SessionError> {
        if authenticated && principal.subject().is_none() {
            return Err(SessionError::NoSubject);
        }
        Ok(())
    }

    pub(crate) fn key(&self) -> &str {
        &self.0
    }
}

/// The key an authenticated caller is limited by: its session owner (issuer, subject, client),
/// or, for a caller without a subject, the SHA-256 of its token. Keyed by the owner, every
/// sub-less caller of one client would share a bucket (one could starve the rest); each token
/// its own bucket keeps the limit per credential. The token is read as [`bearer_credentials`]
/// reads it, so spelling the scheme or the spaces differently does not make a new bucket.
///
/// [`bearer_credentials`]: crate::auth::bearer_credentials
pub(crate) fn principal_key<'a>(
    principal: &'a crate::principal::Principal,
    headers: &axum::http::HeaderMap,
) -> std::borrow::Cow<'a, str> {
    use std::fmt::Write as _;
    // Borrowed: the limiter copies a key only the first time it sees it.
    if principal.subject().is_some() {
        return principal.identity_key().into();
    }
    let values: Vec<&[u8]> = headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .map(axum::http::HeaderValue::as_bytes)
        .collect();
    let token = match crate::auth::credentials(&values) {
        crate::auth::Credentials::Bearer(token) | crate::auth::Credentials::Dpop(token) => token,
        // Authenticated without one (a custom verifier can be given anything): the owner.
        _ => return principal.identity_key().into(),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    // `token:` cannot begin an owner's key (`iss:…`): the two kinds never share a bucket.
    let mut key = String::with_capacity(6 + 64);
    key.push_str("token:");
    for byte in digest.as_ref() {
        let _ = write!(key, "{byte:02x}");
    }
    key.into()
}

/// Why a session id was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// Not a session we know (never issued, ended, evicted, or owned by another principal —
    /// the same answer for all, so an id cannot be probed).
    NotFound,
    /// The shared session store did not answer: the session can be neither confirmed nor
    /// refused, so the request is not served (503).
    Unavailable,
    /// No random bytes for a new id.
    NoRandom,
    /// The caller is authenticated but has no subject: a session could not be bound to one
    /// person, so none is started or used (stateless requests still are served).
    NoSubject,
}

/// A session record read from the store ahead of the check.
pub(crate) type Preloaded = Result<Option<SessionRecord>, StoreError>;

struct Session {
    owner: Owner,
    connection: Arc<Connection>,
    /// Order of last use (creation or a request), for evicting the least recently used.
    serial: u64,
    /// With a shared store: the record revision this connection's state matches, and the
    /// connection's change count when it last did.
    revision: u64,
    changes: u64,
}

#[derive(Default)]
struct Table {
    /// aHash, seeded at random per process: ids are the server's own random text, and every
    /// request on a session looks its id up here (SipHash costs several times as much).
    live: HashMap<String, Session, ahash::RandomState>,
    next_serial: u64,
    /// Sessions ended to make room, ever: a caller initializing past its cap ends one per
    /// request, so only some evictions get an INFO line (see [`evict_least_recent`]).
    evicted: u64,
}

/// The live sessions of one server, each with its client connection. Without a store the table
/// is the truth; with one (shared by replicas) the store is, and the table keeps the
/// connections of the sessions this process has served.
pub(crate) struct Sessions {
    table: Mutex<Table>,
    max_total: usize,
    max_per_owner: usize,
    store: Option<Arc<dyn SessionStore>>,
    /// The store's outage, logged as it begins and ends rather than per request.
    outage: super::outage::Outage,
}

impl Sessions {
    pub(crate) fn new(
        max_total: usize,
        max_per_owner: usize,
        store: Option<Arc<dyn SessionStore>>,
    ) -> Self {
        Self {
            table: Mutex::default(),
            max_total: max_total.max(1),
            max_per_owner: max_per_owner.max(1),
            store,
            outage: super::outage::Outage::new("session store"),
        }
    }

    pub(crate) fn store(&self) -> Option<&dyn SessionStore> {
        self.store.as_deref()
    }

    /// Starts a session for `owner` and returns its id: 32 random bytes, base64url (visible
    /// ASCII, as the transport requires). At a limit, the least recently used session (of this
    /// owner, or of all) ends to make room.
    pub(crate) async fn create(
        &self,
        owner: Owner,
        connection: Arc<Connection>,
    ) -> Result<String, SessionError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| SessionError::NoRandom)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        if let Some(store) = &self.store {
            let record = SessionRecord::new(owner.key().to_owned(), 0, connection.state());
            self.answered(store.create(&id, &record, self.max_per_owner).await)?;
        }
        let changes = connection.changes();
        let mut table = self.lock();
        // With a store, the store caps each owner; the table only bounds this process's memory,
        // and a session it drops stays live for the store (and is picked up again when used).
        if self.store.is_none() {
            let owned = table.live.values().filter(|s| s.owner == owner).count();
            if owned >= self.max_per_owner {
                evict_least_recent(&mut table, Some(&owner), true);
            }
        }
        if table.live.len() >= self.max_total {
            evict_least_recent(&mut table, None, self.store.is_none());
        }
        let serial = table.next_serial;
        table.next_serial += 1;
        table.live.insert(
            id.clone(),
            Session {
                owner,
                connection,
                serial,
                revision: 0,
                changes,
            },
        );
        Ok(id)
    }

    /// [`Self::check`] answered at once when sessions are kept in this process (no store to
    /// ask, no future made for it); `None` with a store.
    /// `owner` is the caller's [`Owner::key_of`] (no owner is made for it).
    pub(crate) fn check_now(
        &self,
        id: &str,
        owner: &str,
    ) -> Option<Result<Arc<Connection>, SessionError>> {
        self.store.is_none().then(|| self.check_here(id, owner))
    }

    /// Without a store, the table is the truth: the session is live here, and `owner`'s (an
    /// [`Owner::key`]), or it is not found.
    fn check_here(&self, id: &str, owner: &str) -> Result<Arc<Connection>, SessionError> {
        let mut guard = self.lock();
        let table = &mut *guard;
        match table.live.get_mut(id) {
            Some(session) if session.owner.key() == owner => {
                session.serial = table.next_serial;
                table.next_serial += 1;
                Ok(Arc::clone(&session.connection))
            }
            _ => Err(SessionError::NotFound),
        }
    }

    /// With a store: session `id`'s record, fetched ahead of [`Self::check`] (alongside other
    /// work); `None` without a store.
    pub(crate) async fn preload(&self, id: &str) -> Option<Preloaded> {
        Some(self.store.as_ref()?.load(id).await)
    }

    /// The connection of session `id`, if it is live and owned by `owner`. With a store, a
    /// session another process started gets a connection here, with the stored state; the
    /// record is `preloaded`, or fetched now.
    pub(crate) async fn check(
        &self,
        id: &str,
        owner: &Owner,
        new_connection: impl FnOnce() -> Arc<Connection>,
        preloaded: Option<Preloaded>,
    ) -> Result<Arc<Connection>, SessionError> {
        let Some(store) = &self.store else {
            return self.check_here(id, owner.key());
        };
        let record = self.answered(match preloaded {
            Some(record) => record,
            None => store.load(id).await,
        })?;
        let mut guard = self.lock();
        let table = &mut *guard;
        let Some(record) = record else {
            // Ended elsewhere (or expired): this process lets go of it too.
            if let Some(session) = table.live.remove(id) {
                session.connection.close();
            }
            return Err(SessionError::NotFound);
        };
        if record.owner() != owner.key() {
            return Err(SessionError::NotFound);
        }
        if let Some(session) = table.live.get_mut(id) {
            session.serial = table.next_serial;
            table.next_serial += 1;
            if session.revision != record.revision() {
                session.connection.restore(record.state());
                session.revision = record.revision();
                session.changes = session.connection.changes();
            }
            return Ok(Arc::clone(&session.connection));
        }
        let connection = new_connection();
        connection.restore(record.state());
        if table.live.len() >= self.max_total {
            evict_least_recent(table, None, false);
        }
        let serial = table.next_serial;
        table.next_serial += 1;
        table.live.insert(
            id.to_owned(),
            Session {
                owner: owner.clone(),
                connection: Arc::clone(&connection),
                serial,
                revision: record.revision(),
                changes: connection.changes(),
            },
        );
        Ok(connection)
    }

    /// With a store: writes session `id`'s state back when a request changed it (initialize,
    /// a log level, a subscription), so the other processes see it.
    pub(crate) async fn save_changes(&self, id: &str) -> Result<(), SessionError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let record = {
            let mut table = self.lock();
            let Some(session) = table.live.get_mut(id) else {
                return Ok(());
            };
            let changes = session.connection.changes();
            if changes == session.changes {
                return Ok(());
            }
            session.changes = changes;
            session.revision += 1;
            SessionRecord::new(
                session.owner.key().to_owned(),
                session.revision,
                session.connection.state(),
            )
        };
        self.answered(store.save(id, &record).await)
    }

    /// Ends the session if `owner` owns it.
    pub(crate) async fn end(&self, id: &str, owner: &Owner) -> Result<(), SessionError> {
        if let Some(store) = &self.store {
            // This process lets go first: a store that does not answer keeps the record (until
            // it expires), not this process the connection.
            {
                let mut table = self.lock();
                if table.live.get(id).is_some_and(|s| s.owner == *owner)
                    && let Some(session) = table.live.remove(id)
                {
                    session.connection.close();
                }
            }
            let ended = self.answered(store.end(id, owner.key()).await)?;
            return if ended {
                Ok(())
            } else {
                Err(SessionError::NotFound)
            };
        }
        let mut table = self.lock();
        match table.live.get(id) {
            Some(session) if session.owner == *owner => {
                if let Some(session) = table.live.remove(id) {
                    session.connection.close();
                }
                Ok(())
            }
            _ => Err(SessionError::NotFound),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sessions {
    /// What the store answered, noted for the outage log: a failure is `Unavailable`.
    fn answered<T>(&self, answer: Result<T, StoreError>) -> Result<T, SessionError> {
        match answer {
            Ok(answer) => {
                self.outage.answered("session_store_error");
                Ok(answer)
            }
            Err(error) => {
                self.outage.failed("session_store_error", &error);
                Err(SessionError::Unavailable)
            }
        }
    }
}

/// Evictions between two INFO lines: a caller starting sessions past its cap at 100 a second
/// writes one line every 10 s, not 100 a second.
const EVICTIONS_PER_LINE: u64 = 1_000;

/// Drops the least recently used session (of `owner`, or of all). `ends`: the session ends (its
/// in-flight requests are cancelled); otherwise only this process forgets it (a shared store
/// keeps it).
fn evict_least_recent(table: &mut Table, owner: Option<&Owner>, ends: bool) {
    let least_recent = table
        .live
        .iter()
        .filter(|(_, s)| owner.is_none_or(|o| s.owner == *o))
        .min_by_key(|(_, s)| s.serial)
        .map(|(id, _)| id.clone());
    if let Some(session) = least_recent.and_then(|id| table.live.remove(&id))
        && ends
    {
        table.evicted += 1;
        let evicted = table.evicted;
        tracing::debug!(target: "scopegate::http", event = "session_evicted", owner = session.owner.key(), evicted, "session limit reached: the least recently used session ends");
        // The first, then every thousandth, at INFO with the count so far.
        if evicted == 1 || evicted.is_multiple_of(EVICTIONS_PER_LINE) {
            tracing::info!(target: "scopegate::http", event = "sessions_evicted", evicted, "session limit reached: {evicted} least recently used sessions ended so far (each at DEBUG)");
        }
        session.connection.close();
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::MemorySessionStore;
    use super::*;
    use crate::Principal;

    fn owner(subject: &str) -> Owner {
        Owner::of(&Principal::builder().subject(subject).build())
    }

    /// Starts a session of `owner`'s on a new connection; its id.
    async fn start(sessions: &Sessions, owner: &Owner) -> String {
        sessions
            .create(owner.clone(), Connection::new())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn sessions_are_random_bound_and_end() {
        let sessions = Sessions::new(100, 100, None);
        let (alice, bob) = (owner("alice"), owner("bob"));
        let a = start(&sessions, &alice).await;
        let b = start(&sessions, &alice).await;
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_graphic()));
        assert!(
            sessions
                .check(&a, &alice, Connection::new, None)
                .await
                .is_ok()
        );
        assert_eq!(
            sessions.check(&a, &bob, Connection::new, None).await.err(),
            Some(SessionError::NotFound)
        );
        assert_eq!(sessions.end(&a, &bob).await, Err(SessionError::NotFound));
        assert_eq!(sessions.end(&a, &alice).await, Ok(()));
        assert_eq!(
            sessions
                .check(&a, &alice, Connection::new, None)
                .await
                .err(),
            Some(SessionError::NotFound)
        );
        assert_eq!(sessions.len(), 1);
    }

    #[tokio::test]
    async fn the_oldest_session_is_evicted_at_each_limit() {
        let sessions = Sessions::new(3, 2, None);
        let (alice, bob) = (owner("alice"), owner("bob"));
        let live = async |id: &str, who: &Owner| {
            sessions.check(id, who, Connection::new, None).await.is_ok()
        };
        let a1 = start(&sessions, &alice).await;
        let a2 = start(&sessions, &alice).await;
        let a3 = start(&sessions, &alice).await;
        assert!(!live(&a1, &alice).await, "alice's oldest made room");
        assert!(live(&a2, &alice).await && live(&a3, &alice).await);
        let b1 = start(&sessions, &bob).await;
        assert_eq!(sessions.len(), 3);
        let b2 = start(&sessions, &bob).await;
        assert_eq!(sessions.len(), 3, "the total is capped");
        assert!(!live(&a2, &alice).await, "the oldest of all made room");
        assert!(live(&b1, &bob).await && live(&b2, &bob).await);
    }

    #[tokio::test]
    async fn a_session_in_use_outlives_an_idle_one() {
        let sessions = Sessions::new(100, 2, None);
        let alice = owner("alice");
        let live = async |id: &str| {
            sessions
                .check(id, &alice, Connection::new, None)
                .await
                .is_ok()
        };
        let a1 = start(&sessions, &alice).await;
        let a2 = start(&sessions, &alice).await;
        assert!(live(&a1).await, "the first one is used again");
        let a3 = start(&sessions, &alice).await;
        assert!(!live(&a2).await, "the idle one made room");
        assert!(live(&a1).await && live(&a3).await);
    }

    #[test]
    fn owners_are_told_apart_whatever_their_names_hold() {
        let of = |subject: Option<&str>, client: Option<&str>| {
            let mut builder = Principal::builder();
            if let Some(subject) = subject {
                builder = builder.subject(subject);
            }
            if let Some(client) = client {
                builder = builder.client_id(client);
            }
            Owner::of(&builder.build())
        };
        assert_ne!(
            of(Some("a|client:b"), None),
            of(Some("a"), Some("b|client:")),
            "a subject written to look like another subject and client"
        );
        assert_ne!(of(Some(""), None), of(None, None), "empty is not absent");
        assert_eq!(of(Some("a"), Some("b")), of(Some("a"), Some("b")));
    }

    #[tokio::test]
    async fn the_same_subject_and_client_of_another_issuer_is_another_owner() {
        let at = |issuer: Option<&str>| {
            let mut builder = Principal::builder().subject("alice").client_id("app");
            if let Some(issuer) = issuer {
                builder = builder.issuer(issuer);
            }
            Owner::of(&builder.build())
        };
        let (one, two) = (
            at(Some("https://one.example")),
            at(Some("https://two.example")),
        );
        assert_ne!(one, two);
        assert_ne!(one, at(None), "a known issuer is not an absent one");
        assert_ne!(
            at(Some("a|sub:5:alice")),
            at(Some("a")),
            "an issuer written to look like more parts"
        );
        let sessions = Sessions::new(100, 100, None);
        let id = start(&sessions, &one).await;
        assert_eq!(
            sessions.check(&id, &two, Connection::new, None).await.err(),
            Some(SessionError::NotFound)
        );
        assert_eq!(sessions.end(&id, &two).await, Err(SessionError::NotFound));
        assert!(
            sessions
                .check(&id, &one, Connection::new, None)
                .await
                .is_ok()
        );
    }

    #[test]
    fn an_authenticated_caller_without_a_subject_owns_no_session() {
        let no_subject = Principal::builder()
            .issuer("https://as.example")
            .client_id("app")
            .scopes(crate::ScopeSet::from_space_separated("x"))
            .build();
        assert_eq!(
            Owner::may_own(&no_subject, true),
            Err(SessionError::NoSubject)
        );
        let anonymous = Principal::anonymous();
        assert_eq!(
            Owner::may_own(&anonymous, true),
            Err(SessionError::NoSubject),
            "a verifier's principal with nothing in it"
        );
        assert_eq!(
            Owner::may_own(&anonymous, false),
            Ok(()),
            "authorization off: anonymous sessions, protected by the id alone"
        );
        let alice = Principal::builder().subject("alice").build();
        assert_eq!(Owner::may_own(&alice, true), Ok(()));
        assert_eq!(Owner::key_of(&alice), Owner::of(&alice).key());
    }

    #[test]
    fn callers_without_a_subject_are_limited_by_their_token() {
        use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            headers
        };
        let no_subject = crate::Principal::builder()
            .issuer("https://as.example")
            .client_id("app")
            .build();
        let one = principal_key(&no_subject, &with("Bearer token-one"));
        let two = principal_key(&no_subject, &with("Bearer token-two"));
        assert_ne!(one, two, "two tokens of one client: two buckets");
        assert!(one.starts_with("token:") && one.len() == 6 + 64, "{one}");
        assert!(
            !one.contains("token-one"),
            "the token itself is never a key"
        );
        assert_eq!(
            principal_key(&no_subject, &with("bEaReR   token-one")),
            one,
            "the same token however the scheme is spelt"
        );
        // A subject: the session owner, whatever the token.
        let alice = crate::Principal::builder().subject("alice").build();
        assert_eq!(
            principal_key(&alice, &with("Bearer token-one")),
            principal_key(&alice, &with("Bearer token-two"))
        );
        assert_eq!(
            principal_key(&alice, &HeaderMap::new()),
            Owner::of(&alice).key()
        );
    }

    #[tokio::test]
    async fn replicas_sharing_a_store_serve_each_others_sessions() {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
        let one = Sessions::new(100, 100, Some(Arc::clone(&store)));
        let two = Sessions::new(100, 100, Some(store));
        let (alice, bob) = (owner("alice"), owner("bob"));
        let first = Connection::new();
        let id = one.create(alice.clone(), Arc::clone(&first)).await.unwrap();
        // The first replica's connection changes (as `logging/setLevel` does); saved, the
        // second replica's new connection has it.
        first.set_log_level(crate::LogLevel::Error);
        one.save_changes(&id).await.unwrap();
        let there = two.check(&id, &alice, Connection::new, None).await.unwrap();
        assert_eq!(there.log_level(), Some(crate::LogLevel::Error));
        assert_eq!(
            two.check(&id, &bob, Connection::new, None).await.err(),
            Some(SessionError::NotFound),
            "bound to its owner on every replica"
        );
        // A change on the second replica reaches the first's existing connection.
        there.set_subscribed("file:///x", true, &Principal::anonymous());
        two.save_changes(&id).await.unwrap();
        let back = one.check(&id, &alice, Connection::new, None).await.unwrap();
        assert!(Arc::ptr_eq(&back, &first) && first.is_subscribed("file:///x"));
        // Ended on one, gone on both.
        assert_eq!(two.end(&id, &bob).await, Err(SessionError::NotFound));
        assert_eq!(two.end(&id, &alice).await, Ok(()));
        assert_eq!(
            one.check(&id, &alice, Connection::new, None).await.err(),
            Some(SessionError::NotFound)
        );
        assert_eq!(one.len(), 0, "the first replica let go of it");
    }
}
