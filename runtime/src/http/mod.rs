//! Streamable HTTP, served as an OAuth 2.1 protected resource.
//!
//! ```text
//! request -> Origin check -> token in query? -> bearer extraction -> TokenVerifier -> Principal
//!         -> MCP-Protocol-Version -> body (size limit) -> JSON-RPC -> session
//!         -> dispatcher (scopes from the const table) -> 200 | 202 | 403 insufficient_scope
//! ```
//!
//! The router answers the MCP endpoint (POST; GET and DELETE for legacy sessions) and the
//! Protected Resource Metadata at both RFC 9728 locations. It mounts into any axum app.
//!
//! The files, top down: each uses only files on its own line or below (and no file imports from
//! this one, which only declares and re-exports).
//! - `app`: the router built from the configuration, and serving a server not yet a router;
//! - `serve`, `watch`: the accept loop, connection limits and timers, graceful shutdown;
//! - `cors` (the endpoint as a service), `probes` (health, readiness, the metadata), `https`;
//! - `endpoint`: the checks every request passes, in order, then its method's handler;
//! - `post`, `listen` (2026-07-28 `subscriptions/listen`), `stream` (GET), `delete`;
//! - `respond` (dispatch, and the switch to an event stream), `body`;
//! - `guard` (Host, Origin), `authn` (tokens and challenges), `throttle` (the rate limits);
//! - `shared`: the state every request reads;
//! - `headers`, `param_headers` (SEP-2243's `Mcp-Param-*`), `sse`, `reply`, `config`, `error`;
//! - `session`, `refusals`, `limit`, `redis`, `store`;
//! - `proxy`, `host`, `outage`, `spare`.

mod app;
mod authn;
mod body;
mod config;
mod cors;
mod delete;
mod dpop;
mod endpoint;
mod error;
mod guard;
mod hangup;
mod head;
mod headers;
pub(crate) mod host;
mod https;
mod in_place;
mod limit;
mod listen;
mod outage;
mod param_headers;
mod post;
mod probes;
mod proxy;
#[cfg(feature = "redis")]
mod redis;
mod refusals;
mod reply;
mod respond;
mod response_body;
mod serve;
mod session;
mod shared;
mod spare;
mod sse;
mod store;
mod stream;
mod throttle;
mod watch;

pub use crate::server::Quota;
pub(crate) use app::{serve_core, serve_core_on};
pub use config::{DEFAULT_BIND, DEFAULT_MAX_BODY_BYTES, DenialMode, HttpConfig};
pub use error::HttpError;
pub use headers::{PROTOCOL_VERSION_HEADER, SESSION_HEADER};
pub use proxy::{ForwardedHeader, ProxyError, TrustedProxies};
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
pub use serve::{LocalAddr, ServeOptions, serve, serve_on, serve_with};
pub use store::{
    MemorySessionStore, RateLimitStore, SessionRecord, SessionStore, StoreError, StoreFuture,
};
