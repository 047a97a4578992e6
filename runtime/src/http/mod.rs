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
//! The files, from the transport's edge down (each uses only those below it):
//! - serving: `serve` (the accept loop, connection limits, shutdown) and `watch` (its timers);
//! - the router: `app` (built from `config`, checked by `https`), `cors` (with the endpoint as a
//!   service), `probes` (health, readiness, the metadata document);
//! - the endpoint: `endpoint` (the checks in order, then the method), `post`, `stream` (GET),
//!   `delete`, `respond` (dispatch, and the SSE switch), `body`;
//! - the checks: `guard` (Host, Origin), `authn` (tokens and challenges), `throttle` (the rate
//!   limits as requests meet them);
//! - their parts: `shared` (the state), `headers`, `sse`, `reply`, `session`, `limit`, `quota`,
//!   `store`, `redis`, `proxy`, `host`, `refusals`, `outage`, `spare`, `error`.

mod app;
mod authn;
mod body;
mod config;
mod cors;
mod delete;
mod endpoint;
mod error;
mod guard;
mod headers;
pub(crate) mod host;
mod https;
mod limit;
mod outage;
mod post;
mod probes;
mod proxy;
mod quota;
#[cfg(feature = "redis")]
mod redis;
mod refusals;
mod reply;
mod respond;
mod serve;
mod session;
mod shared;
mod spare;
mod sse;
mod store;
mod stream;
mod throttle;
mod watch;

pub(crate) use app::{serve_core, serve_core_on};
pub use config::{DEFAULT_BIND, DEFAULT_MAX_BODY_BYTES, DenialMode, HttpConfig};
pub use error::HttpError;
pub use headers::{PROTOCOL_VERSION_HEADER, SESSION_HEADER};
pub use proxy::{ForwardedHeader, ProxyError, TrustedProxies};
pub use quota::Quota;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
pub use serve::{LocalAddr, ServeOptions, serve, serve_on, serve_with};
pub use store::{
    MemorySessionStore, RateLimitStore, SessionRecord, SessionStore, StoreError, StoreFuture,
};
