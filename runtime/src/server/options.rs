//! [`ServerOptions`] and [`ListVisibility`]: the dispatcher's settings.

use std::sync::Arc;
use std::time::Duration;

use super::bus::EventBus;
use super::rate_limit::RateLimitStore;
use super::replay::{MemoryReplayStore, ReplayStore};
use super::request_state::StateKeys;
use super::task_store::TaskStore;

/// Which tools, resources, resource templates and prompts the lists show a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListVisibility {
    /// Every entry, each with its required scopes in `_meta`, so a client can ask for the
    /// scopes it will need (the default).
    #[default]
    All,
    /// Only the entries the caller's scopes allow it to use.
    Granted,
}

/// Options of the dispatcher.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Tools per `tools/list` page (default 100).
    pub page_size: usize,
    /// Which entries `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` show (default [`ListVisibility::All`]).
    pub list_visibility: ListVisibility,
    /// Longest a tool, resource or prompt handler may run; past it the handler is dropped and
    /// the call fails. Default: none here; the HTTP transport applies its own (5 minutes, see
    /// `HttpConfig::handler_timeout`). Needs a Tokio runtime with its timer enabled.
    pub handler_timeout: Option<std::time::Duration>,
    /// The keys 2026-07-28 input requests' `requestState` is sealed with. Default: a random
    /// key for this process only; replicas must share configured keys.
    pub state_keys: StateKeys,
    /// How long a client has to answer an input request (default 10 minutes: a person may be
    /// answering).
    pub request_state_ttl: Duration,
    /// Where the ids of accepted request states are kept, each accepted once. Default: this
    /// process's memory; replicas must share one (`RedisStore`, feature `redis`).
    pub replay_store: Arc<dyn ReplayStore>,
    /// Where tools' quotas (`#[mcp_tool(quota = "..")]`) are counted when replicas share them
    /// (default: the HTTP transport's `rate_limit_store`, else this process).
    pub rate_limit_store: Option<Arc<dyn RateLimitStore>>,
    /// A task's time to live (2026-07-28 tasks extension; default 1 hour): a task still running
    /// when it runs out fails, and a finished task is forgotten that long after it finished.
    pub task_ttl: Duration,
    /// The most tasks kept at once (default 10 000); past it a call that would become a task
    /// fails.
    pub max_tasks: usize,
    /// The most tasks kept at once for one principal (default 100): no caller can take every
    /// slot.
    pub max_tasks_per_principal: usize,
    /// Where tasks' records are shared with other replicas, so that any of them answers
    /// `tasks/get` (default: none, this process only). Use with [`Self::event_bus`].
    pub task_store: Option<Arc<dyn TaskStore>>,
    /// How replicas tell each other of resource updates (for their subscribers) and of a
    /// task's cancellation or answers (for the replica running it). Default: none. Building a
    /// server with a bus needs a Tokio runtime.
    pub event_bus: Option<Arc<dyn EventBus>>,
    /// How long a replica vouches for the tasks it runs before renewing (default 30 s): with a
    /// task store, a running task whose lease ran out (its replica died) is reported failed.
    pub task_lease: Duration,
    /// The client that exchanges the caller's token for a downstream API's (RFC 8693), for the
    /// items that declare `downstream = ..`: required when any does (the build fails without).
    #[cfg(feature = "http")]
    pub token_exchange: Option<Arc<crate::auth::TokenExchange>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            list_visibility: ListVisibility::All,
            handler_timeout: None,
            state_keys: StateKeys::random(),
            request_state_ttl: Duration::from_secs(600),
            replay_store: Arc::new(MemoryReplayStore::new()),
            rate_limit_store: None,
            task_ttl: Duration::from_secs(3600),
            max_tasks: 10_000,
            max_tasks_per_principal: 100,
            task_store: None,
            event_bus: None,
            task_lease: Duration::from_secs(30),
            #[cfg(feature = "http")]
            token_exchange: None,
        }
    }
}

impl ServerOptions {
    /// Sets the `tools/list` page size.
    #[must_use]
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets the handler timeout (`None`: none).
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets which entries the lists show.
    #[must_use]
    pub fn list_visibility(mut self, visibility: ListVisibility) -> Self {
        self.list_visibility = visibility;
        self
    }

    /// Seals input requests' state with `keys` (shared by replicas; see [`StateKeys`]).
    #[must_use]
    pub fn state_keys(mut self, keys: StateKeys) -> Self {
        self.state_keys = keys;
        self
    }

    /// Sets how long a client has to answer an input request.
    #[must_use]
    pub fn request_state_ttl(mut self, ttl: Duration) -> Self {
        self.request_state_ttl = ttl;
        self
    }

    /// Keeps the ids of accepted request states in `store` (shared by replicas).
    #[must_use]
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay_store = Arc::new(store);
        self
    }

    /// Counts tools' quotas in `store` (shared by replicas). An HTTP router given a
    /// `rate_limit_store` shares it with the server when this is not set.
    #[must_use]
    pub fn rate_limit_store(mut self, store: impl RateLimitStore) -> Self {
        self.rate_limit_store = Some(Arc::new(store));
        self
    }

    /// Sets how long a task is kept.
    #[must_use]
    pub fn task_ttl(mut self, ttl: Duration) -> Self {
        self.task_ttl = ttl;
        self
    }

    /// Sets the most tasks kept at once.
    #[must_use]
    pub fn max_tasks(mut self, max: usize) -> Self {
        self.max_tasks = max;
        self
    }

    /// Sets the most tasks kept at once for one principal.
    #[must_use]
    pub fn max_tasks_per_principal(mut self, max: usize) -> Self {
        self.max_tasks_per_principal = max;
        self
    }

    /// Shares tasks' records with other replicas through `store`.
    #[must_use]
    pub fn task_store(mut self, store: impl TaskStore) -> Self {
        self.task_store = Some(Arc::new(store));
        self
    }

    /// Tells other replicas of resource updates and task requests through `bus`.
    #[must_use]
    pub fn event_bus(mut self, bus: impl EventBus) -> Self {
        self.event_bus = Some(Arc::new(bus));
        self
    }

    /// Sets how long a replica vouches for the tasks it runs.
    #[must_use]
    pub fn task_lease(mut self, lease: Duration) -> Self {
        self.task_lease = lease;
        self
    }

    /// Gets downstream APIs' tokens with `exchange` (see [`crate::Downstream`]).
    #[cfg(feature = "http")]
    #[must_use]
    pub fn token_exchange(mut self, exchange: crate::auth::TokenExchange) -> Self {
        self.token_exchange = Some(Arc::new(exchange));
        self
    }
}
