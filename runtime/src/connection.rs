//! The client on the other end of a connection (a stdio process, an HTTP session): what the
//! server sends it while handling a request — progress, log messages, sampling and elicitation
//! requests — and which of its requests are still in flight, so they can be cancelled.
// Session state and one-request connections serve the HTTP transport only.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use crate::protocol::{ClientCapabilities, ErrorObject, RequestId};

/// Log levels of `logging/setLevel` and `notifications/message` (RFC 5424 severities), least
/// severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Information.
    Info,
    /// Normal but significant.
    Notice,
    /// A warning.
    Warning,
    /// An error.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LogLevel {
    const ALL: [Self; 8] = [
        Self::Debug,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Critical,
        Self::Alert,
        Self::Emergency,
    ];
}

/// Why a request to the client failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client did not declare the capability the request needs.
    #[error("the client does not support `{0}`")]
    Unsupported(&'static str),
    /// This transport cannot carry requests to the client for this call (for example an HTTP
    /// client that does not accept an event stream, or a stateless server).
    #[error("the client cannot be reached from this request")]
    Unreachable,
    /// The client answered with an error.
    #[error("the client refused: {}", .0.message)]
    Refused(ErrorObject),
    /// The request was cancelled, or the connection closed, before the client answered.
    #[error("the request was cancelled before the client answered")]
    Cancelled,
}

/// The channel to the client for one request's messages (the POST's event stream, or stdout).
///
/// Not tokio's `mpsc`: the HTTP transport makes one for every request, whether or not its
/// handler sends anything, and tokio's channel costs a cache-line-aligned allocation of several
/// hundred bytes (a slow path of the allocator) each time. This one is one small allocation;
/// its queue is allocated by the first message.
#[derive(Debug)]
pub struct Outbound {
    queue: Arc<Mutex<Queue>>,
}

#[derive(Debug)]
struct Queue {
    messages: VecDeque<String>,
    /// The bytes of `messages`, on a bounded queue (at most [`MAX_QUEUED_BYTES`]). `u32`s and
    /// `bool`s: the queue is made for every request, and stays in a small allocation.
    bytes: u32,
    /// Whether the queue is bounded ([`Outbound::bounded_channel`]).
    bounded: bool,
    /// The client stopped reading (too much queued): the queue was dropped and the receiver's
    /// stream ends.
    overflowed: bool,
    /// The receiver's, while it waits.
    waker: Option<Waker>,
    /// Live `Outbound`s: none left and nothing queued ends the receiver's stream.
    senders: u32,
    /// Whether the receiver is still there to read what is sent.
    receiving: bool,
}

impl Queue {
    /// `message` left the queue.
    fn unqueued(&mut self, message: &str) {
        if self.bounded {
            self.bytes = self
                .bytes
                .saturating_sub(u32::try_from(message.len()).unwrap_or(u32::MAX));
        }
    }
}

impl Outbound {
    /// An outbound channel and the receiving end the transport drains.
    #[must_use]
    pub fn channel() -> (Self, OutboundReceiver) {
        Self::with_bound(false)
    }

    /// A channel for a client that can open another when it ends (an HTTP event stream): past
    /// [`MAX_QUEUED_MESSAGES`] or [`MAX_QUEUED_BYTES`] unread, the client is taken to have
    /// stopped reading, what is queued is dropped and the stream ends.
    #[must_use]
    pub fn bounded_channel() -> (Self, OutboundReceiver) {
        Self::with_bound(true)
    }

    fn with_bound(bounded: bool) -> (Self, OutboundReceiver) {
        let queue = Arc::new(Mutex::new(Queue {
            messages: VecDeque::new(),
            bytes: 0,
            bounded,
            overflowed: false,
            waker: None,
            senders: 1,
            receiving: true,
        }));
        let receiver = OutboundReceiver {
            queue: Arc::clone(&queue),
        };
        (Self { queue }, receiver)
    }

    /// Sends one JSON-RPC message; false when the client is gone, or (on a bounded channel)
    /// has stopped reading.
    pub(crate) fn send<T: Serialize + ?Sized>(&self, message: &T) -> bool {
        // Serialised before the lock is taken: the receiver never waits on a large message.
        // Straight into a buffer (a `Value`'s `to_string` goes through `fmt` a piece at a time).
        let Ok(text) = serde_json::to_string(message) else {
            tracing::error!(target: "scopegate::http", event = "unserializable_message", "a message to the client could not be serialized: not sent");
            return false;
        };
        self.send_text(text)
    }

    /// [`send`](Self::send) for a message already written as JSON text.
    pub(crate) fn send_text(&self, text: String) -> bool {
        let (waker, dropped) = {
            let mut queue = lock(&self.queue);
            if !queue.receiving {
                return false;
            }
            if queue.bounded
                && (queue.messages.len() >= MAX_QUEUED_MESSAGES
                    || queue.bytes as usize + text.len() > MAX_QUEUED_BYTES)
            {
                queue.receiving = false;
                queue.overflowed = true;
                queue.bytes = 0;
                let dropped = std::mem::take(&mut queue.messages);
                (queue.waker.take(), Some(dropped))
            } else {
                if queue.bounded {
                    // At most `MAX_QUEUED_BYTES` (checked above), which a `u32` holds.
                    queue.bytes += u32::try_from(text.len()).unwrap_or(u32::MAX);
                }
                queue.messages.push_back(text);
                (queue.waker.take(), None)
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if dropped.is_some() {
            tracing::warn!(target: "scopegate::http", event = "stream_overflow", "a client stopped reading its event stream: the stream ends");
            return false;
        }
        true
    }
}

/// Most messages an [`Outbound`] holds unread.
pub const MAX_QUEUED_MESSAGES: usize = 1024;
/// Most bytes of messages an [`Outbound`] holds unread.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

impl Clone for Outbound {
    fn clone(&self) -> Self {
        lock(&self.queue).senders += 1;
        Self {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        let waker = {
            let mut queue = lock(&self.queue);
            queue.senders -= 1;
            if queue.senders == 0 {
                queue.waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The receiving end of an [`Outbound`] channel, which the transport drains.
#[derive(Debug)]
pub struct OutboundReceiver {
    queue: Arc<Mutex<Queue>>,
}

impl OutboundReceiver {
    /// The next message, in the order sent; `None` once every [`Outbound`] is gone and
    /// everything sent has been read.
    pub async fn recv(&mut self) -> Option<String> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll: when pending, `cx`'s waker is woken by the next message
    /// or by the last `Outbound` going away.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<String>> {
        // Each message spends the task's scheduling budget, as tokio's own channels do: a
        // receiver that always finds a message still lets the other tasks run.
        let budget = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut queue = lock(&self.queue);
        if let Some(message) = queue.messages.pop_front() {
            queue.unqueued(&message);
            budget.made_progress();
            return Poll::Ready(Some(message));
        }
        if queue.senders == 0 || queue.overflowed {
            budget.made_progress();
            return Poll::Ready(None);
        }
        if !queue
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            queue.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut queue = lock(&self.queue);
        let message = queue.messages.pop_front()?;
        queue.unqueued(&message);
        Some(message)
    }
}

impl Drop for OutboundReceiver {
    fn drop(&mut self) {
        let unread = {
            let mut queue = lock(&self.queue);
            queue.receiving = false;
            queue.waker = None;
            queue.bytes = 0;
            std::mem::take(&mut queue.messages)
        };
        drop(unread);
    }
}

/// The cancellation state of one in-flight request.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// A request's cancellation as its handler sees it. `None` where nothing can cancel the
/// request: one not registered for `notifications/cancelled` (a request on a connection of its
/// own, which its transport ends by dropping its future). Such a request, every stateless HTTP
/// request, then allocates no [`Cancel`] that nothing could ever set (issue 24).
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancellation(Option<Arc<Cancel>>);

impl Cancellation {
    /// A cancellation `cancel` sets.
    pub(crate) fn of(cancel: Arc<Cancel>) -> Self {
        Self(Some(cancel))
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.as_deref().is_some_and(Cancel::is_cancelled)
    }

    /// Completes when the request is cancelled: never, where nothing can cancel it.
    pub(crate) async fn cancelled(&self) {
        match &self.0 {
            Some(cancel) => cancel.cancelled().await,
            None => std::future::pending().await,
        }
    }
}

type Pending = oneshot::Sender<Result<Value, ErrorObject>>;

/// A connection's resource subscriptions.
#[derive(Debug, Default)]
struct Subscriptions {
    uris: std::collections::HashSet<String>,
    /// While there are any: the principal of the connection's latest request, whose scopes an
    /// update must still satisfy (a session's later tokens may hold fewer).
    subscriber: Option<crate::Principal>,
}

/// The stored handler timeout meaning "none".
const NO_TIMEOUT: u64 = u64::MAX;

/// The stored log level meaning "send none".
const LOG_OFF: u8 = u8::MAX;

/// Most resources one client connection may subscribe to: the set lives as long as the session
/// (and is written to a shared session store whole), so it is bounded like everything a client
/// can make the server keep.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 1024;

/// Most bytes of URIs one client connection's subscriptions may hold together: without it,
/// [`MAX_SUBSCRIPTIONS`] URIs of a request body's size each would be gigabytes.
pub(crate) const MAX_SUBSCRIPTION_BYTES: usize = 256 * 1024;

/// Largest client `capabilities` object kept for a session, serialised (real clients send well
/// under a kilobyte).
pub(crate) const MAX_CAPABILITIES_BYTES: usize = 64 * 1024;

/// One client's connection: its capabilities, its log level, the requests the server sent it
/// and awaits, and its requests the server is still handling.
#[derive(Debug)]
pub struct Connection {
    /// What only a connection that lives on uses (a session's, stdio's): made the first time it
    /// is written, so that a connection made for one request, as every stateless HTTP request
    /// has, is small to make and to drop (issue 24).
    extras: OnceLock<Box<Extras>>,
    next_id: AtomicU64,
    /// Random (0: not made yet), made by the first request to the client: ids stay unique
    /// within a session whose connection is made again (another replica, an eviction).
    id_prefix: AtomicU64,
    log_level: AtomicU8,
    /// Kept as sent by a 2026-07-28 request until asked about ([`ClientCapabilities`]).
    capabilities: Mutex<ClientCapabilities>,
    /// Whether the subscriptions may be non-empty: the one thing a request reads to know it
    /// need not note its principal.
    has_subscriptions: AtomicBool,
    /// A 2026-07-28 request's connection: no requests to the client (that era asks for input
    /// with `input_required` results instead).
    stateless: bool,
    /// For a 2026-07-28 request: the transport's connection it came on (stdio's, where
    /// `notifications/cancelled` arrives; over HTTP, the request's own).
    parent: Option<Arc<Connection>>,
    /// The transport's limit on how long a handler may run (the HTTP transport sets one; a
    /// runtime without a timer cannot have one, so it is never assumed).
    /// In nanoseconds, `NO_TIMEOUT` for none: read on every call, so not behind a lock.
    handler_timeout: AtomicU64,
    /// Counts changes to the state a session store keeps (capabilities, log level,
    /// subscriptions), so a changed session is written back and an unchanged one is not.
    changes: AtomicU64,
    /// Whether requests are registered for `notifications/cancelled`: not on a connection that
    /// carries one request, where no notification can arrive for it.
    tracks_requests: bool,
    /// Set by [`Connection::hang_up`]: the requests that serve until the client goes
    /// (`subscriptions/listen`) end with it.
    hung_up: Cancel,
}

/// The hash state of a connection's tables: aHash with one set of random seeds per process,
/// found when a table hashes. SipHash (the standard tables') costs several times aHash on a
/// session's every request; aHash's own state draws its seeds when made, and a stateless
/// request makes a connection (with two tables) of its own that seldom hashes at all.
#[derive(Clone, Copy, Debug, Default)]
struct ProcessSeeds;

impl std::hash::BuildHasher for ProcessSeeds {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        static SEEDED: OnceLock<ahash::RandomState> = OnceLock::new();
        SEEDED.get_or_init(ahash::RandomState::new).build_hasher()
    }
}

/// The parts of a [`Connection`] that only a connection living on writes: requests to the client
/// awaiting their answers, requests registered for `notifications/cancelled`, subscriptions, the
/// stream for messages unrelated to any request.
#[derive(Debug, Default)]
struct Extras {
    // Hashed with aHash (see `ProcessSeeds`): a session's requests are registered here.
    pending: Mutex<HashMap<RequestId, Pending, ProcessSeeds>>,
    in_flight: Mutex<HashMap<RequestId, Arc<Cancel>, ProcessSeeds>>,
    subscriptions: Mutex<Subscriptions>,
    /// Where messages unrelated to any request go (stdout, or the HTTP GET stream).
    standalone: Mutex<Option<Outbound>>,
}

impl Default for Connection {
    fn default() -> Self {
        Self {
            extras: OnceLock::new(),
            next_id: AtomicU64::new(1),
            id_prefix: AtomicU64::new(0),
            log_level: AtomicU8::new(LogLevel::Info as u8),
            capabilities: Mutex::new(ClientCapabilities::default()),
            has_subscriptions: AtomicBool::new(false),
            stateless: false,
            parent: None,
            handler_timeout: AtomicU64::new(NO_TIMEOUT),
            changes: AtomicU64::new(0),
            tracks_requests: true,
            hung_up: Cancel::default(),
        }
    }
}

/// The state of a session's connection that outlives a request and can move between
/// processes: what a [`crate::http::SessionStore`] keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct SessionState {
    /// The client's capabilities from `initialize`.
    #[serde(default)]
    pub(crate) capabilities: Value,
    /// The least severe log level the client wants (`None`: no log messages).
    #[serde(default)]
    pub(crate) log_level: Option<LogLevel>,
    /// The resource URIs the client subscribed to.
    #[serde(default)]
    pub(crate) subscriptions: Vec<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Connection {
    /// The connection's [`Extras`], made the first time they are asked for.
    fn extras(&self) -> &Extras {
        self.extras.get_or_init(Box::default)
    }

    /// A new connection.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The connection of one request that is not on a session (HTTP's, an embedder's
    /// `handle_bytes`): nothing else reaches it, so its request is not registered for
    /// cancellation by notification.
    pub(crate) fn one_request() -> Arc<Self> {
        Arc::new(Self {
            tracks_requests: false,
            ..Self::default()
        })
    }

    /// The connection of one 2026-07-28 request over a transport that gives each request one
    /// of its own (HTTP): stateless, its request not registered for cancellation by
    /// notification, and given the request's `_meta` when the request is admitted
    /// ([`Self::take_meta`]), instead of being the parent of a connection made for it.
    pub(crate) fn one_modern_request() -> Arc<Self> {
        Arc::new(Self {
            tracks_requests: false,
            stateless: true,
            log_level: AtomicU8::new(LOG_OFF),
            ..Self::default()
        })
    }

    /// Whether this is a [`Self::one_modern_request`] connection: its request is served on it.
    pub(crate) fn is_one_modern_request(&self) -> bool {
        self.stateless && self.parent.is_none()
    }

    /// The capabilities and log level of a 2026-07-28 request's `_meta`, taken by the
    /// [`Self::one_modern_request`] connection it is served on (no level: no log messages).
    pub(crate) fn take_meta(&self, capabilities: ClientCapabilities, log_level: Option<LogLevel>) {
        *lock(&self.capabilities) = capabilities;
        self.log_level
            .store(log_level.map_or(LOG_OFF, |l| l as u8), Ordering::SeqCst);
    }

    /// The connection of one 2026-07-28 request: capabilities and log level from its `_meta`
    /// (no level: no log messages).
    pub(crate) fn stateless(
        capabilities: ClientCapabilities,
        log_level: Option<LogLevel>,
        parent: Arc<Connection>,
    ) -> Arc<Self> {
        let connection = Self {
            capabilities: Mutex::new(capabilities),
            log_level: AtomicU8::new(log_level.map_or(LOG_OFF, |l| l as u8)),
            stateless: true,
            handler_timeout: AtomicU64::new(parent.handler_timeout.load(Ordering::Relaxed)),
            parent: Some(parent),
            ..Self::default()
        };
        Arc::new(connection)
    }

    /// Limits how long a handler may run on this connection.
    pub fn set_handler_timeout(&self, timeout: Option<std::time::Duration>) {
        // Past u64 nanoseconds (584 years) is as good as the longest that fits.
        let nanos = timeout.map_or(NO_TIMEOUT, |t| {
            u64::try_from(t.as_nanos()).map_or(NO_TIMEOUT - 1, |n| n.min(NO_TIMEOUT - 1))
        });
        self.handler_timeout.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn handler_timeout(&self) -> Option<std::time::Duration> {
        match self.handler_timeout.load(Ordering::Relaxed) {
            NO_TIMEOUT => None,
            nanos => Some(std::time::Duration::from_nanos(nanos)),
        }
    }

    pub(crate) fn set_capabilities(&self, capabilities: Value) {
        *lock(&self.capabilities) = capabilities.into();
        self.changed();
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the session state changed (see [`SessionState`]).
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// The session state, for a session store.
    pub(crate) fn state(&self) -> SessionState {
        let mut subscriptions: Vec<String> = self.extras.get().map_or_else(Vec::new, |extras| {
            lock(&extras.subscriptions).uris.iter().cloned().collect()
        });
        subscriptions.sort();
        SessionState {
            capabilities: lock(&self.capabilities).value().clone(),
            log_level: self.log_level(),
            subscriptions,
        }
    }

    /// Takes on a session state another process stored (counted as a change like any other).
    pub(crate) fn restore(&self, state: &SessionState) {
        *lock(&self.capabilities) = state.capabilities.clone().into();
        self.log_level.store(
            state.log_level.map_or(LOG_OFF, |l| l as u8),
            Ordering::SeqCst,
        );
        // The principal comes with the session's next request here (another one's may have
        // held other scopes).
        *lock(&self.extras().subscriptions) = Subscriptions {
            uris: state.subscriptions.iter().cloned().collect(),
            subscriber: None,
        };
        self.has_subscriptions
            .store(!state.subscriptions.is_empty(), Ordering::Relaxed);
        self.changed();
    }

    /// A request of `principal` arrived: if the connection has subscriptions, their updates
    /// are now checked against its scopes.
    pub(crate) fn note_principal(&self, principal: &crate::Principal) {
        if self.has_subscriptions.load(Ordering::Relaxed)
            && let Some(extras) = self.extras.get()
        {
            let mut subscriptions = lock(&extras.subscriptions);
            if !subscriptions.uris.is_empty() {
                subscriptions.subscriber = Some(principal.clone());
            }
        }
    }

    /// The principal of the latest request, while the connection has subscriptions.
    pub(crate) fn subscriber(&self) -> Option<crate::Principal> {
        let extras = self.extras.get()?;
        lock(&extras.subscriptions).subscriber.clone()
    }

    /// Whether the client declared `capability` (e.g. `sampling`, `elicitation`, `roots`).
    #[must_use]
    pub fn client_supports(&self, capability: &str) -> bool {
        lock(&self.capabilities)
            .value()
            .get(capability)
            .is_some_and(|v| !v.is_null())
    }

    /// The capability `name` the client declared, if it did.
    pub(crate) fn client_capability(&self, name: &str) -> Option<Value> {
        lock(&self.capabilities).value().get(name).cloned()
    }

    /// Whether the client declared extension `id` (`capabilities.extensions[id]`, 2026-07-28).
    #[must_use]
    pub fn client_supports_extension(&self, id: &str) -> bool {
        lock(&self.capabilities)
            .value()
            .get("extensions")
            .and_then(|e| e.get(id))
            .is_some_and(|v| !v.is_null())
    }

    pub(crate) fn set_log_level(&self, level: LogLevel) {
        self.log_level.store(level as u8, Ordering::SeqCst);
        self.changed();
    }

    /// The least severe level the client wants, or `None` for no log messages at all.
    pub(crate) fn log_level(&self) -> Option<LogLevel> {
        LogLevel::ALL
            .get(usize::from(self.log_level.load(Ordering::SeqCst)))
            .copied()
    }

    /// Subscribes `principal` to (or unsubscribes it from) `uri`; false, and nothing changes,
    /// when a new subscription would pass [`MAX_SUBSCRIPTIONS`] or [`MAX_SUBSCRIPTION_BYTES`].
    pub(crate) fn set_subscribed(
        &self,
        uri: &str,
        subscribed: bool,
        principal: &crate::Principal,
    ) -> bool {
        let mut guard = lock(&self.extras().subscriptions);
        let subscriptions = &mut guard.uris;
        if subscribed && !subscriptions.contains(uri) {
            let bytes: usize = subscriptions.iter().map(String::len).sum();
            if subscriptions.len() >= MAX_SUBSCRIPTIONS
                || bytes + uri.len() > MAX_SUBSCRIPTION_BYTES
            {
                return false;
            }
        }
        if subscribed {
            subscriptions.insert(uri.to_owned());
        } else {
            subscriptions.remove(uri);
        }
        let any = !subscriptions.is_empty();
        self.has_subscriptions.store(any, Ordering::Relaxed);
        guard.subscriber = any.then(|| principal.clone());
        drop(guard);
        self.changed();
        true
    }

    /// Whether the client subscribed to updates of `uri`.
    #[must_use]
    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.extras
            .get()
            .is_some_and(|extras| lock(&extras.subscriptions).uris.contains(uri))
    }

    /// Sets where messages unrelated to a request go.
    pub fn set_standalone(&self, outbound: Outbound) {
        *lock(&self.extras().standalone) = Some(outbound);
    }

    /// Sends a notification unrelated to any request; false when there is no stream for it or
    /// the client is gone.
    pub(crate) fn notify(&self, message: &Value) -> bool {
        let Some(extras) = self.extras.get() else {
            return false;
        };
        let mut standalone = lock(&extras.standalone);
        let sent = standalone.as_ref().is_some_and(|o| o.send(message));
        if !sent {
            *standalone = None;
        }
        sent
    }

    /// Routes the client's answer to the request of the server that awaits it.
    pub(crate) fn complete(&self, id: &RequestId, result: Result<Value, ErrorObject>) {
        if let Some(extras) = self.extras.get()
            && let Some(waiter) = lock(&extras.pending).remove(id)
        {
            let _ = waiter.send(result);
        }
    }

    /// Starts a request: its cancellation state, and (on connections that track requests)
    /// where `notifications/cancelled` arrives for it, which [`InFlight::listen`] registers it
    /// with; the guard unregisters it when dropped.
    pub(crate) fn start(self: &Arc<Self>, id: &RequestId) -> InFlight {
        // Registered where `notifications/cancelled` will arrive.
        let home = self.parent.as_ref().unwrap_or(self);
        if !home.tracks_requests {
            return InFlight {
                home: None,
                listening: AtomicBool::new(false),
                cancel: Cancellation::default(),
            };
        }
        InFlight {
            home: Some((Arc::clone(home), id.clone())),
            listening: AtomicBool::new(false),
            cancel: Cancellation::of(Arc::new(Cancel::default())),
        }
    }

    /// Cancels an in-flight request (`notifications/cancelled`).
    pub(crate) fn cancel(&self, id: &RequestId) {
        if let Some(extras) = self.extras.get()
            && let Some(cancel) = lock(&extras.in_flight).get(id)
        {
            cancel.cancel();
        }
    }

    /// Cancels every in-flight request and fails every pending one (the session ended).
    pub fn close(&self) {
        if let Some(extras) = self.extras.get() {
            for cancel in lock(&extras.in_flight).values() {
                cancel.cancel();
            }
        }
        self.hang_up();
    }

    /// The client stopped listening to server-initiated messages and will answer no request
    /// (stdin closed): pending requests to it fail, the standalone stream goes. Requests it
    /// made still finish.
    pub fn hang_up(&self) {
        if let Some(extras) = self.extras.get() {
            lock(&extras.pending).clear();
            *lock(&extras.standalone) = None;
        }
        self.hung_up.cancel();
    }

    /// Resolves once the client has hung up ([`Connection::hang_up`]); for a 2026-07-28
    /// request, once its transport's connection has.
    pub(crate) async fn hung_up(&self) {
        self.parent
            .as_deref()
            .unwrap_or(self)
            .hung_up
            .cancelled()
            .await;
    }

    /// This connection's random part of the ids of its requests to the client.
    fn id_prefix(&self) -> u64 {
        let made = self.id_prefix.load(Ordering::Relaxed);
        if made != 0 {
            return made;
        }
        // Without randomness the ids are still unique on this connection.
        let random = getrandom::u64().unwrap_or(1).max(1);
        match self
            .id_prefix
            .compare_exchange(0, random, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => random,
            Err(first) => first,
        }
    }

    /// Sends a request to the client over `outbound` and awaits its answer.
    pub(crate) async fn request(
        &self,
        outbound: &Outbound,
        cancel: &Cancellation,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientError> {
        if self.stateless {
            return Err(ClientError::Unsupported(
                "requests to the client in 2026-07-28",
            ));
        }
        let id = RequestId::String(
            format!(
                "scopegate-{:016x}-{}",
                self.id_prefix(),
                self.next_id.fetch_add(1, Ordering::SeqCst)
            )
            .into(),
        );
        let (tx, rx) = oneshot::channel();
        lock(&self.extras().pending).insert(id.clone(), tx);
        // However this ends (answered, cancelled, unsendable, or the handler dropped while it
        // waits), the request leaves `pending`.
        let _pending = Awaiting {
            connection: self,
            id: &id,
        };
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        if !outbound.send(&message) {
            return Err(ClientError::Unreachable);
        }
        tokio::select! {
            answer = rx => match answer {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(error)) => Err(ClientError::Refused(error)),
                Err(_) => Err(ClientError::Cancelled),
            },
            () = cancel.cancelled() => Err(ClientError::Cancelled),
        }
    }
}

/// A request of the server awaiting the client's answer; dropping it forgets the request.
struct Awaiting<'a> {
    connection: &'a Connection,
    id: &'a RequestId,
}

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        if let Some(extras) = self.connection.extras.get() {
            lock(&extras.pending).remove(self.id);
        }
    }
}

/// An in-flight request; dropping it unregisters the request, if it was registered.
pub(crate) struct InFlight {
    /// Where the request is registered for `notifications/cancelled`, on a connection that
    /// tracks requests.
    home: Option<(Arc<Connection>, RequestId)>,
    /// Whether it is registered there.
    listening: AtomicBool,
    pub(crate) cancel: Cancellation,
}

impl InFlight {
    /// Registers the request where `notifications/cancelled` arrives for it (once; nothing on a
    /// connection that does not track requests). The dispatcher registers a call once its
    /// handler waits: one that finishes when first polled, as most do, could not have been
    /// stopped in between, and then takes no lock and writes nothing its connection's other
    /// requests share. A cancellation that arrives before then finds no request, as one that
    /// arrives after the answer does (the specification lets a receiver ignore both).
    pub(crate) fn listen(&self) {
        if let Some((connection, id)) = &self.home
            && let Some(cancel) = &self.cancel.0
            && !self.listening.swap(true, Ordering::Relaxed)
        {
            lock(&connection.extras().in_flight).insert(id.clone(), Arc::clone(cancel));
        }
    }
}

#[cfg(test)]
impl InFlight {
    /// A request with `cancel` and nowhere to register it.
    pub(crate) fn with_cancel(cancel: Cancellation) -> Self {
        Self {
            home: None,
            listening: AtomicBool::new(false),
            cancel,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((connection, id)) = &self.home
            && *self.listening.get_mut()
            && let Some(extras) = connection.extras.get()
        {
            let mut in_flight = lock(&extras.in_flight);
            // A client that reused the id of a request still running registered a second one
            // under it: that one stays, cancellable.
            if in_flight.get(id).is_some_and(|registered| {
                self.cancel
                    .0
                    .as_ref()
                    .is_some_and(|cancel| Arc::ptr_eq(registered, cancel))
            }) {
                in_flight.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_to_the_client_are_answered_by_id() {
        let connection = Connection::new();
        let (outbound, mut rx) = Outbound::channel();
        let cancel = Cancellation::default();
        let request = connection.request(
            &outbound,
            &cancel,
            "sampling/createMessage",
            json!({"x": 1}),
        );
        let answer = async {
            let sent: Value = serde_json::from_str(&rx.recv().await.unwrap()).unwrap();
            assert_eq!(sent["method"], "sampling/createMessage");
            let id: RequestId = match &sent["id"] {
                Value::String(s) => RequestId::String(s.as_str().into()),
                other => panic!("{other}"),
            };
            connection.complete(&id, Ok(json!({"ok": true})));
        };
        let (result, ()) = tokio::join!(request, answer);
        assert_eq!(result.unwrap(), json!({"ok": true}));
    }

    #[tokio::test]
    async fn ids_of_requests_to_the_client_differ_between_connections() {
        let first_id = async |connection: &Connection| {
            let (outbound, mut rx) = Outbound::channel();
            let cancel = Cancellation::default();
            let request = connection.request(&outbound, &cancel, "roots/list", json!({}));
            let mut request = std::pin::pin!(request);
            let polled = request
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
            assert!(polled.is_pending());
            let sent: Value = serde_json::from_str(&rx.recv().await.unwrap()).unwrap();
            sent["id"].as_str().unwrap().to_owned()
        };
        // The same session's connection made twice (say, on two replicas) numbers from 1 both
        // times: the ids must still differ.
        let (one, two) = (Connection::new(), Connection::new());
        let (a, b) = (first_id(&one).await, first_id(&two).await);
        assert_ne!(a, b);
        assert!(a.starts_with("scopegate-") && a.ends_with("-1"), "{a}");
    }

    #[tokio::test]
    async fn cancellation_ends_a_wait_for_the_client() {
        let connection = Connection::new();
        let (outbound, _rx) = Outbound::channel();
        let id = RequestId::Number(9.into());
        let flight = connection.start(&id);
        flight.listen();
        let cancel = flight.cancel.clone();
        let waiting = connection.request(&outbound, &cancel, "elicitation/create", json!({}));
        connection.cancel(&id);
        assert_eq!(waiting.await, Err(ClientError::Cancelled));
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn a_client_that_stops_reading_loses_its_stream_not_the_servers_memory() {
        let (outbound, mut receiver) = Outbound::bounded_channel();
        for i in 0..MAX_QUEUED_MESSAGES {
            assert!(outbound.send(&json!({ "n": i })), "{i}");
        }
        assert!(!outbound.send(&json!({ "n": "one too many" })));
        assert!(
            !outbound.send(&json!({ "n": "and after" })),
            "the stream is over"
        );
        assert_eq!(receiver.try_recv(), None, "what was queued is dropped");
        let ended =
            receiver.poll_recv(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        assert_eq!(ended, Poll::Ready(None), "the stream ends");

        // Bytes count too: a few large messages fill it sooner.
        let (outbound, mut receiver) = Outbound::bounded_channel();
        let large = json!({ "data": "x".repeat(MAX_QUEUED_BYTES / 4) });
        for _ in 0..3 {
            assert!(outbound.send(&large));
        }
        assert!(!outbound.send(&large));
        // Read as it comes, a stream never fills.
        let (outbound, mut receiver2) = Outbound::bounded_channel();
        for i in 0..3 * MAX_QUEUED_MESSAGES {
            assert!(outbound.send(&json!({ "n": i })), "{i}");
            assert!(receiver2.try_recv().is_some());
        }
        drop(receiver.try_recv());
        // An unbounded channel (stdio's, which no client can open again) never gives up.
        let (outbound, _receiver) = Outbound::channel();
        for i in 0..2 * MAX_QUEUED_MESSAGES {
            assert!(outbound.send(&json!({ "n": i })), "{i}");
        }
    }

    #[test]
    fn subscriptions_are_bounded() {
        let connection = Connection::default();
        for i in 0..MAX_SUBSCRIPTIONS {
            assert!(connection.set_subscribed(
                &format!("file:///{i}"),
                true,
                &crate::Principal::anonymous()
            ));
        }
        assert!(!connection.set_subscribed(
            "file:///one-too-many",
            true,
            &crate::Principal::anonymous()
        ));
        assert!(!connection.is_subscribed("file:///one-too-many"));
        assert!(
            connection.set_subscribed("file:///0", true, &crate::Principal::anonymous()),
            "subscribing again to one it has is no new subscription"
        );
        assert!(connection.set_subscribed("file:///0", false, &crate::Principal::anonymous()));
        assert!(
            connection.set_subscribed("file:///one-too-many", true, &crate::Principal::anonymous()),
            "room again"
        );
    }

    #[test]
    fn a_request_is_cancellable_once_it_listens() {
        let connection = Arc::new(Connection::default());
        let id = RequestId::Number(3.into());
        let flight = connection.start(&id);
        connection.cancel(&id);
        assert!(!flight.cancel.is_cancelled(), "not registered yet");
        assert!(
            connection
                .extras
                .get()
                .is_none_or(|extras| lock(&extras.in_flight).is_empty()),
            "starting a request writes nothing the connection shares"
        );
        flight.listen();
        flight.listen();
        assert_eq!(
            lock(&connection.extras().in_flight).len(),
            1,
            "registered once"
        );
        connection.cancel(&id);
        assert!(flight.cancel.is_cancelled());
        drop(flight);
        assert!(lock(&connection.extras().in_flight).is_empty());
    }

    #[test]
    fn a_reused_id_leaves_the_running_request_cancellable() {
        let connection = Arc::new(Connection::default());
        let id = RequestId::Number(1.into());
        let first = connection.start(&id);
        first.listen();
        let second = connection.start(&id);
        second.listen();
        drop(first);
        connection.cancel(&id);
        assert!(
            second.cancel.is_cancelled(),
            "the first one's end did not unregister the second"
        );
        drop(second);
        assert!(lock(&connection.extras().in_flight).is_empty());
    }

    #[tokio::test]
    async fn a_request_to_the_client_is_forgotten_when_its_handler_goes() {
        let connection = Arc::new(Connection::default());
        let (outbound, _rx) = Outbound::channel();
        let cancel = Cancellation::default();
        {
            let waiting =
                connection.request(&outbound, &cancel, "sampling/createMessage", json!({}));
            let mut waiting = std::pin::pin!(waiting);
            let polled = waiting
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
            assert!(polled.is_pending(), "awaiting the client's answer");
            assert_eq!(lock(&connection.extras().pending).len(), 1);
        }
        assert!(
            lock(&connection.extras().pending).is_empty(),
            "the dropped request left nothing behind"
        );
    }

    #[test]
    fn subscriptions_are_bounded_in_bytes() {
        let connection = Connection::default();
        let long = |i: usize| format!("file:///{i}/{}", "x".repeat(64 * 1024));
        for i in 0..3 {
            assert!(
                connection.set_subscribed(&long(i), true, &crate::Principal::anonymous()),
                "{i}"
            );
        }
        assert!(
            !connection.set_subscribed(&long(3), true, &crate::Principal::anonymous()),
            "four URIs of 64 KiB pass the 256 KiB"
        );
        assert!(!connection.is_subscribed(&long(3)));
        assert!(
            connection.set_subscribed("file:///short", true, &crate::Principal::anonymous()),
            "a short one still fits"
        );
        assert!(connection.set_subscribed(&long(0), false, &crate::Principal::anonymous()));
        assert!(
            connection.set_subscribed(&long(3), true, &crate::Principal::anonymous()),
            "room again"
        );
    }

    #[test]
    fn capabilities_and_levels() {
        let connection = Connection::default();
        assert!(!connection.client_supports("sampling"));
        connection.set_capabilities(json!({"sampling": {}, "roots": null}));
        assert!(connection.client_supports("sampling"));
        assert!(!connection.client_supports("roots"));
        assert_eq!(connection.log_level(), Some(LogLevel::Info));
        connection.set_log_level(LogLevel::Error);
        assert_eq!(connection.log_level(), Some(LogLevel::Error));
        assert_eq!(
            Connection::stateless(json!({}).into(), None, Connection::new()).log_level(),
            None
        );
    }

    #[tokio::test]
    async fn a_modern_requests_own_connection_takes_its_meta_and_asks_the_client_nothing() {
        let own = Connection::one_modern_request();
        assert!(own.is_one_modern_request());
        assert_eq!(
            own.log_level(),
            None,
            "no level until the request gives one"
        );
        own.take_meta(json!({"sampling": {}}).into(), Some(LogLevel::Debug));
        assert!(own.client_supports("sampling"));
        assert_eq!(own.log_level(), Some(LogLevel::Debug));
        let (outbound, _rx) = Outbound::channel();
        let asked = own
            .request(
                &outbound,
                &Cancellation::default(),
                "sampling/createMessage",
                json!({}),
            )
            .await;
        assert!(
            matches!(asked, Err(ClientError::Unsupported(_))),
            "{asked:?}"
        );
        // Any other connection is a parent: its request's connection is made apart.
        let child = Connection::stateless(json!({}).into(), None, Connection::new());
        assert!(!child.is_one_modern_request());
        assert!(!Connection::one_request().is_one_modern_request());
    }

    /// The next message, failing the test rather than hanging it.
    async fn next(rx: &mut OutboundReceiver) -> Option<String> {
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("the receiver was woken")
    }

    #[tokio::test]
    async fn the_outbound_channel_delivers_in_order_and_ends_with_its_senders() {
        let (outbound, mut rx) = Outbound::channel();
        let second = outbound.clone();
        assert!(rx.try_recv().is_none());
        // A waiting receiver is woken by a message sent from another task.
        let sender = tokio::spawn(async move {
            tokio::task::yield_now().await;
            assert!(second.send(&json!(1)));
            assert!(second.send(&json!(2)));
        });
        assert_eq!(next(&mut rx).await.as_deref(), Some("1"));
        sender.await.unwrap();
        assert_eq!(rx.try_recv().as_deref(), Some("2"));
        assert!(outbound.send(&json!(3)));
        drop(outbound);
        // Everything sent is read before the end shows.
        assert_eq!(next(&mut rx).await.as_deref(), Some("3"));
        assert_eq!(next(&mut rx).await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_sees_the_last_sender_go() {
        let (outbound, mut rx) = Outbound::channel();
        let dropper = tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(outbound);
        });
        assert_eq!(next(&mut rx).await, None);
        dropper.await.unwrap();
    }

    #[tokio::test]
    async fn a_receiver_that_always_has_a_message_still_yields() {
        let (outbound, mut rx) = Outbound::channel();
        for i in 0..1000 {
            assert!(outbound.send(&json!(i)));
        }
        // One thread: the other task runs only when the receiving task yields.
        let ran = Arc::new(AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = Arc::clone(&ran);
            async move { ran.store(true, Ordering::SeqCst) }
        });
        let mut read = 0;
        while !ran.load(Ordering::SeqCst) && read < 1000 {
            assert_eq!(next(&mut rx).await, Some(read.to_string()));
            read += 1;
        }
        assert!(read < 1000, "the receiver never yielded");
        other.await.unwrap();
    }

    #[test]
    fn sending_to_a_dropped_receiver_fails() {
        let (outbound, rx) = Outbound::channel();
        assert!(outbound.send(&json!("kept")));
        drop(rx);
        assert!(!outbound.send(&json!("lost")));
        assert!(!outbound.clone().send(&json!("lost")));
    }
}
