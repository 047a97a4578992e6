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

mod cors;
pub(crate) mod host;
mod https;
mod limit;
mod outage;
mod proxy;
#[cfg(feature = "redis")]
mod redis;
mod refusals;
mod serve;
mod session;
mod spare;
mod store;
mod watch;

pub use limit::Quota;
pub use proxy::{ForwardedHeader, ProxyError, TrustedProxies};
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
pub use serve::{LocalAddr, ServeOptions, serve_with};
pub use store::{
    MemorySessionStore, RateLimitStore, SessionRecord, SessionStore, StoreError, StoreFuture,
};

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{
    AuthError, Challenge, Credentials, JwtConfig, JwtVerifier, TokenVerifier, accepted_recently,
    bearer_credentials, remember_accepted,
};
use crate::connection::{Connection, Outbound};
use crate::metadata::{self, PRM_WELL_KNOWN, ResourceMetadata, UriError};
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Message, Response as RpcResponse, error_code};
use crate::server::{Core, Denial, McpServer, Refusal, Reply, Server};
use session::{Owner, Preloaded, SessionError, Sessions};

/// The `Mcp-Session-Id` header.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The readiness probe's path (with [`HttpConfig::health_checks`]).
const READYZ: &str = "/readyz";
/// The `MCP-Protocol-Version` header.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

// The same names parsed once: a lookup by `&str` parses and hashes the name on every call.
static SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
static PROTOCOL_VERSION: HeaderName = HeaderName::from_static(PROTOCOL_VERSION_HEADER);

/// Revisions accepted in the `MCP-Protocol-Version` header (a client may send any published
/// one; absent means 2025-03-26).
const HEADER_PROTOCOL_VERSIONS: &[&str] = &[
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// The 2026-07-28 request headers (basic/transports/streamable-http, "Required headers").
const METHOD_HEADER: &str = "Mcp-Method";
const NAME_HEADER: &str = "Mcp-Name";

/// How a call the caller lacks scopes for is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DenialMode {
    /// HTTP 403 with a `WWW-Authenticate: Bearer error="insufficient_scope"` challenge, so the
    /// client can step up its authorization (MCP "Scope Challenge Handling"). The default.
    #[default]
    Forbidden,
    /// HTTP 200 with a `tools/call` result that has `isError: true` and names the missing scopes:
    /// for clients that cannot step up, so the model at least reads why.
    ToolError,
}

/// How the server decides who the caller is.
#[derive(Clone)]
enum Auth {
    /// Every request is anonymous (only `public` tools run). For local development and the
    /// conformance suite; never the default.
    Off,
    /// Every request must carry a token this verifier accepts.
    Verifier(Arc<dyn TokenVerifier>),
}

/// Settings of the HTTP transport. Build with [`HttpConfig::new`] and the setters.
#[derive(Clone)]
pub struct HttpConfig {
    resource: String,
    auth: Option<Auth>,
    authorization_servers: Vec<String>,
    extra_scopes: Vec<String>,
    initial_scopes: Option<Vec<String>>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    stateless: bool,
    denial: DenialMode,
    max_body_bytes: usize,
    allowed_origins: Vec<String>,
    allow_loopback_origins: bool,
    allowed_hosts: Vec<String>,
    any_host: bool,
    max_sessions: usize,
    max_sessions_per_principal: usize,
    max_concurrent_requests: usize,
    rate_per_address: Option<Quota>,
    rate_per_principal: Option<Quota>,
    handler_timeout: Option<std::time::Duration>,
    body_timeout: std::time::Duration,
    health_checks: bool,
    session_store: Option<Arc<dyn SessionStore>>,
    rate_limit_store: Option<Arc<dyn RateLimitStore>>,
    trusted_proxies: Option<TrustedProxies>,
    allow_insecure_http: bool,
    /// The configuration of the verifier [`HttpConfig::jwt`] built, to build it again when
    /// [`HttpConfig::allow_insecure_http`] follows.
    jwt_config: Option<JwtConfig>,
}

/// Where to listen by default: loopback only (MCP transports, "Security Warning").
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// Default largest request body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;

impl HttpConfig {
    /// Settings for an MCP endpoint whose public URI is `resource` (e.g.
    /// `https://mcp.example.com/mcp`): the router serves its path, and tokens must be issued for
    /// exactly this URI (in canonical form).
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            auth: None,
            authorization_servers: Vec::new(),
            extra_scopes: Vec::new(),
            initial_scopes: None,
            resource_name: None,
            resource_documentation: None,
            stateless: false,
            denial: DenialMode::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_origins: Vec::new(),
            allow_loopback_origins: true,
            allowed_hosts: Vec::new(),
            any_host: false,
            max_sessions: 10_000,
            max_sessions_per_principal: 100,
            max_concurrent_requests: 1024,
            rate_per_address: Some(Quota::new(200, 100.0)),
            rate_per_principal: Some(Quota::new(200, 100.0)),
            handler_timeout: Some(std::time::Duration::from_secs(300)),
            body_timeout: std::time::Duration::from_secs(30),
            health_checks: false,
            session_store: None,
            rate_limit_store: None,
            trusted_proxies: None,
            allow_insecure_http: false,
            jwt_config: None,
        }
    }

    /// The reverse proxies (load balancers) in front of the server: when a request's peer is
    /// one of them, its client address (for the per-address rate limit and the audit events)
    /// is the right-most address of their header that is not itself a trusted proxy (see
    /// [`TrustedProxies::client_address`]). Default: no proxy is trusted, and forwarding
    /// headers are ignored, since any client can send them.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Some(proxies);
        self
    }

    /// Keeps legacy sessions in `store` instead of this process's memory, so that replicas
    /// given the same store serve each other's sessions (e.g. `RedisStore`, feature `redis`).
    /// Each request on a session then asks the store once; a request that changes the session
    /// (initialize, `logging/setLevel`, a subscription) writes it back once.
    #[must_use]
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.session_store = Some(Arc::new(store));
        self
    }

    /// Counts the rate limits in `store`, shared by the replicas given the same store, instead
    /// of in this process (one round trip per limit checked). When the store does not answer,
    /// each process limits on its own until it does.
    #[must_use]
    pub fn rate_limit_store(mut self, store: impl RateLimitStore) -> Self {
        self.rate_limit_store = Some(Arc::new(store));
        self
    }

    /// Serves `GET /healthz` (200 while the process serves) and `GET /readyz` (200 once tokens
    /// can be verified, i.e. the issuer's keys have been fetched or were given; 503 before),
    /// for load balancers and orchestrators. Off by default. Neither needs a token, is rate
    /// limited, or checks `Host` (probes often address the instance by IP); neither says more
    /// than its status, except that a ready `/readyz` lists the verifier's warnings (e.g. an
    /// issuer whose metadata lacks PKCE's `S256`): `{"status":"ready","warnings":[…]}`.
    #[must_use]
    pub fn health_checks(mut self, on: bool) -> Self {
        self.health_checks = on;
        self
    }

    /// Longest a client may take to send a request body once its head has arrived (default
    /// 30 s); past it the request gets `408 Request Timeout`. Slow heads are
    /// [`ServeOptions::header_read_timeout`]'s business.
    #[must_use]
    pub fn body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Longest a tool, resource or prompt handler may run for an HTTP request (default 5
    /// minutes; `None`: no limit); past it the call fails.
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Most live sessions in all (default 10 000) and per principal (default 100); at a limit
    /// the least recently used session ends.
    #[must_use]
    pub fn max_sessions(mut self, total: usize, per_principal: usize) -> Self {
        self.max_sessions = total;
        self.max_sessions_per_principal = per_principal;
        self
    }

    /// Most requests handled at once (default 1024); more get `503` with `Retry-After`.
    #[must_use]
    pub fn max_concurrent_requests(mut self, requests: usize) -> Self {
        self.max_concurrent_requests = requests;
        self
    }

    /// Rate limit per client address, on the MCP endpoint and the metadata (default 200 at once,
    /// 100/s; `None`: off). Behind a proxy every client shares its address: set it off there and
    /// limit at the proxy. Needs [`serve_with`] (or `ConnectInfo<SocketAddr>` from your own
    /// server) to know the address.
    #[must_use]
    pub fn rate_per_address(mut self, quota: Option<Quota>) -> Self {
        self.rate_per_address = quota;
        self
    }

    /// Rate limit per authenticated principal (default 200 at once, 100/s; `None`: off).
    #[must_use]
    pub fn rate_per_principal(mut self, quota: Option<Quota>) -> Self {
        self.rate_per_principal = quota;
        self
    }

    /// Verifies JWT access tokens from `issuer` (discovered, JWKS-checked, audience = this
    /// resource) and lists `issuer` as the authorization server.
    #[must_use]
    pub fn jwt_issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        let audience =
            metadata::canonical_resource(&self.resource).unwrap_or_else(|_| self.resource.clone());
        self.jwt(JwtConfig::new(issuer, audience))
    }

    /// Verifies JWT access tokens with this configuration; its issuer becomes the authorization
    /// server listed in the metadata.
    #[must_use]
    pub fn jwt(mut self, config: JwtConfig) -> Self {
        if !self.authorization_servers.contains(&config.issuer) {
            self.authorization_servers.push(config.issuer.clone());
        }
        let config = self.with_insecure_http(config);
        self.auth = Some(Auth::Verifier(Arc::new(JwtVerifier::new(config.clone()))));
        self.jwt_config = Some(config);
        self
    }

    /// Verifies tokens with any [`TokenVerifier`]; list the authorization server with
    /// [`HttpConfig::authorization_server`].
    #[must_use]
    pub fn verifier(mut self, verifier: impl TokenVerifier) -> Self {
        self.auth = Some(Auth::Verifier(Arc::new(verifier)));
        self.jwt_config = None;
        self
    }

    /// Adds an authorization server (issuer identifier) to the metadata.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// Serves without authentication: every caller is anonymous and only `public` tools run.
    /// Meant for local development and protocol test suites.
    #[must_use]
    pub fn without_authorization(mut self) -> Self {
        self.auth = Some(Auth::Off);
        self.jwt_config = None;
        self
    }

    /// Adds scopes to `scopes_supported` beyond those the code declares (`offline_access` is
    /// never listed).
    #[must_use]
    pub fn extra_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.extra_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The scopes the 401 challenge asks for: what a client requests on first authorization.
    /// Default: every scope some tool requires.
    #[must_use]
    pub fn initial_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.initial_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `resource_name` in the metadata (default: the server's title or name).
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation` in the metadata.
    #[must_use]
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Stateless mode: no `Mcp-Session-Id` is issued or required, so any replica can answer any
    /// request. Default: sessions on.
    #[must_use]
    pub fn stateless(mut self, stateless: bool) -> Self {
        self.stateless = stateless;
        self
    }

    /// How scope denials are answered (default [`DenialMode::Forbidden`]).
    #[must_use]
    pub fn denial(mut self, mode: DenialMode) -> Self {
        self.denial = mode;
        self
    }

    /// Largest request body accepted (default 4 MiB); larger gets 413.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Allows browser requests from this origin (e.g. `https://app.example.com`) to the MCP
    /// endpoint. Requests without an `Origin` header (non-browser clients) are always allowed,
    /// and the Protected Resource Metadata is open to every origin (it is public).
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins
            .push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// Accepts requests whose `Host` is `host` (a name, without port). By default only the
    /// resource URI's host and the loopback names are accepted: a DNS-rebinding page reaches the
    /// server under the attacker's host name, and is refused.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Accepts any `Host` (behind a proxy that rewrites it and checks it itself).
    #[must_use]
    pub fn allow_any_host(mut self) -> Self {
        self.any_host = true;
        self
    }

    /// Whether browser pages on `localhost`, `127.0.0.1` and `[::1]` may call (default true).
    #[must_use]
    pub fn allow_loopback_origins(mut self, allow: bool) -> Self {
        self.allow_loopback_origins = allow;
        self
    }
}

/// A configuration the transport cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The resource URI is unusable.
    #[error(transparent)]
    Resource(#[from] UriError),
    /// Neither a verifier nor `without_authorization` was configured.
    #[error(
        "no token verifier configured: call .jwt_issuer(..), .jwt(..) or .verifier(..), or .without_authorization() to serve public tools only"
    )]
    NoAuth,
    /// Authorization is on, but no authorization server is listed for clients to find.
    #[error("no authorization server listed: call .authorization_server(..)")]
    NoAuthorizationServer,
    /// An extra scope is not an RFC 6749 scope token.
    #[error("`{0}` is not a valid OAuth scope")]
    Scope(String),
    /// The server's tables could not be built.
    #[error(transparent)]
    Build(#[from] crate::server::BuildError),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
    /// A plain `http://` URL to a host that is not loopback (see
    /// [`HttpConfig::allow_insecure_http`]).
    #[error(transparent)]
    InsecureHttp(#[from] crate::transport_security::InsecureHttp),
    /// The resource URI's path is also a health check's.
    #[error(
        "the MCP endpoint's path `{0}` is also a health check's: serve MCP at another path or turn health checks off"
    )]
    PathTaken(String),
}

struct Shared {
    server: Core,
    auth: Auth,
    resource_origin: String,
    metadata_url: String,
    metadata_json: Bytes,
    known_scopes: Vec<String>,
    initial_challenge: HeaderValue,
    initial_scope: Option<String>,
    sessions: Option<Sessions>,
    denial: DenialMode,
    max_body_bytes: usize,
    body_timeout: std::time::Duration,
    allowed_origins: Vec<String>,
    allow_loopback_origins: bool,
    /// Host names accepted in `Host` (`None`: any).
    allowed_hosts: Option<Vec<String>>,
    /// The resource's own authority as clients send it in `Host` (lowercase, port when not the
    /// scheme's default): the common case, accepted on one comparison.
    resource_authority: Option<String>,
    concurrency: limit::InFlightLimit,
    per_address: Option<limit::RateLimit>,
    per_principal: Option<limit::RateLimit>,
    proxies: Option<TrustedProxies>,
    handler_timeout: Option<std::time::Duration>,
    /// Refusals counted for the INFO summary (their own events are at DEBUG).
    refusals: Arc<refusals::Refusals>,
}

impl<S: McpServer> Server<S> {
    /// The Streamable HTTP router for this server: the MCP endpoint at the resource URI's path
    /// and the Protected Resource Metadata at both well-known locations, with CORS.
    pub fn http(&self, config: HttpConfig) -> Result<Router, HttpError> {
        self.core.http(config)
    }
}

impl Core {
    fn http(&self, config: HttpConfig) -> Result<Router, HttpError> {
        self.http_app(config).map(|(router, _)| router)
    }

    /// The router, and its MCP endpoint for [`serve_with`] to call directly.
    fn http_app(&self, config: HttpConfig) -> Result<(Router, serve::McpRoute), HttpError> {
        let resource = metadata::canonical_resource(&config.resource)?;
        let auth = config.auth.clone().ok_or(HttpError::NoAuth)?;
        if matches!(auth, Auth::Verifier(_)) && config.authorization_servers.is_empty() {
            return Err(HttpError::NoAuthorizationServer);
        }
        https::check(&config, &resource, &auth)?;
        if let Some(bad) = config
            .extra_scopes
            .iter()
            .chain(config.initial_scopes.iter().flatten())
            .find(|s| !crate::scope::is_scope_token(s))
        {
            return Err(HttpError::Scope(bad.clone()));
        }
        // scopes_supported: the code's table plus configured extras, never offline_access
        // (2026-07-28 authorization; it is the authorization server's business).
        let mut known: Vec<String> = self
            .scopes()
            .supported()
            .iter()
            .map(|s| (*s).to_owned())
            .chain(config.extra_scopes.iter().cloned())
            .filter(|s| s != "offline_access")
            .collect();
        known.sort();
        known.dedup();
        let info = self.info();
        let document = ResourceMetadata {
            resource: resource.clone(),
            authorization_servers: config.authorization_servers.clone(),
            scopes_supported: if matches!(auth, Auth::Off) {
                Vec::new()
            } else {
                known.clone()
            },
            resource_name: config
                .resource_name
                .clone()
                .or_else(|| Some(info.title.unwrap_or(info.name).to_owned())),
            resource_documentation: config.resource_documentation.clone(),
        };
        let metadata_url = metadata::metadata_url(&resource);
        let initial: Vec<String> = match &config.initial_scopes {
            Some(scopes) => scopes.clone(),
            None => self.required_scopes(),
        };
        let initial_scope = (!initial.is_empty()).then(|| initial.join(" "));
        let initial_challenge = Challenge {
            error: None,
            description: None,
            scope: initial_scope.clone(),
            resource_metadata: Some(metadata_url.clone()),
        };
        let (resource_origin, path) = metadata::origin_and_path(&resource);
        let path = match path.split('?').next() {
            Some("") | None => "/".to_owned(),
            Some(path) => path.to_owned(),
        };
        let resource_origin = resource_origin.to_owned();
        if config.health_checks && (path == "/healthz" || path == READYZ) {
            return Err(HttpError::PathTaken(path));
        }
        let shared = Arc::new(Shared {
            server: self.clone(),
            auth,
            metadata_json: Bytes::from(document.to_json().to_string()),
            initial_challenge: header_value(&initial_challenge),
            initial_scope,
            resource_origin,
            metadata_url,
            known_scopes: known,
            sessions: (!config.stateless).then(|| {
                Sessions::new(
                    config.max_sessions,
                    config.max_sessions_per_principal,
                    config.session_store.clone(),
                )
            }),
            concurrency: limit::InFlightLimit::new(config.max_concurrent_requests),
            per_address: config.rate_per_address.map(|quota| {
                limit::RateLimit::new(quota, config.rate_limit_store.clone(), "address")
            }),
            per_principal: config.rate_per_principal.map(|quota| {
                limit::RateLimit::new(quota, config.rate_limit_store.clone(), "principal")
            }),
            proxies: config.trusted_proxies.clone(),
            handler_timeout: config.handler_timeout,
            refusals: refusals::Refusals::new(refusals::WINDOW),
            body_timeout: config.body_timeout,
            denial: config.denial,
            max_body_bytes: config.max_body_bytes,
            allowed_origins: config.allowed_origins.clone(),
            allow_loopback_origins: config.allow_loopback_origins,
            resource_authority: url::Url::parse(&resource).ok().and_then(|url| {
                let host = url.host_str()?.to_ascii_lowercase();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            }),
            allowed_hosts: (!config.any_host).then(|| {
                let mut hosts = config.allowed_hosts.clone();
                hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
                if let Ok(url) = url::Url::parse(&resource)
                    && let Some(host) = url.host_str()
                {
                    hosts.push(host.to_ascii_lowercase());
                }
                hosts
            }),
        });

        let cors_shared = Arc::clone(&shared);
        let cors = cors::layer(move |origin| cors_shared.origin_allowed(origin));
        let prm_path_inserted = format!("{PRM_WELL_KNOWN}{path}");
        // The MCP endpoint applies CORS only to requests with an `Origin` (see `cors`); the
        // metadata is public, open to every origin (`cors::public_layer`).
        let endpoint = cors::Endpoint {
            shared: Arc::clone(&shared),
            cors: Arc::new(cors),
        };
        let public = cors::public_layer();
        let mut router = Router::new()
            .route_service(&path, endpoint.clone())
            .route(PRM_WELL_KNOWN, get(resource_metadata).layer(public.clone()));
        if prm_path_inserted != PRM_WELL_KNOWN {
            router = router.route(&prm_path_inserted, get(resource_metadata).layer(public));
        }
        if config.health_checks {
            router = router
                .route("/healthz", get(healthz))
                .route(READYZ, get(readyz));
        }
        // Keys and issuer metadata fetched now, in the background: an issuer without S256 is
        // warned about at start, not at the first token (issue 18 item 8).
        if let Auth::Verifier(verifier) = &shared.auth {
            verifier.warm_up();
        }
        Ok((
            router.with_state(shared),
            serve::McpRoute { path, endpoint },
        ))
    }
}

/// Serves `router` on `addr` until Ctrl-C, then shuts down gracefully (see [`serve_with`]). Bind
/// to `127.0.0.1` unless the server must be reachable from other machines.
pub async fn serve(addr: SocketAddr, router: Router) -> Result<(), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    serve_on(listener, router).await
}

/// Serves `router` on a listener already bound (e.g. to port 0, to learn the port before
/// building the configuration), with the default [`ServeOptions`].
pub async fn serve_on(listener: tokio::net::TcpListener, router: Router) -> Result<(), HttpError> {
    serve_with(listener, router, ServeOptions::default()).await
}

/// [`crate::McpServerExt::serve_http`] for a server already stripped of its type (or that
/// failed to build).
pub(crate) async fn serve_core(
    server: Result<Core, crate::server::BuildError>,
    config: HttpConfig,
    addr: SocketAddr,
) -> Result<(), HttpError> {
    let server = server?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    serve_core_on(Ok(server), config, listener, ServeOptions::default()).await
}

/// [`crate::McpServerExt::serve_http_with`] for a server already stripped of its type (or that
/// failed to build).
pub(crate) async fn serve_core_on(
    server: Result<Core, crate::server::BuildError>,
    config: HttpConfig,
    listener: tokio::net::TcpListener,
    mut options: ServeOptions,
) -> Result<(), HttpError> {
    let server = server?;
    let (router, mcp) = server.http_app(config)?;
    // The router is served as built, so its endpoint can be called directly.
    options.mcp = Some(Arc::new(mcp));
    let theirs = options.on_shutdown.take();
    options = options.on_shutdown(move || {
        server.hang_up_all();
        if let Some(hook) = theirs {
            hook();
        }
    });
    serve_with(listener, router, options).await
}

fn header_value(challenge: &Challenge) -> HeaderValue {
    // Challenge values are filtered to visible ASCII and spaces, which HeaderValue accepts.
    HeaderValue::from_str(&challenge.header_value())
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

async fn healthz() -> Response {
    status_json(StatusCode::OK, "ok")
}

async fn readyz(
    State(shared): State<Arc<Shared>>,
    draining: Option<axum::Extension<serve::Draining>>,
) -> Response {
    if draining.is_some_and(|d| d.is_set()) {
        return status_json(StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    let tokens = match &shared.auth {
        Auth::Off => true,
        Auth::Verifier(verifier) => verifier.ready().await,
    };
    if !tokens {
        return status_json(StatusCode::SERVICE_UNAVAILABLE, "not ready");
    }
    // Ready, but what an operator must know is said (e.g. an issuer without PKCE's S256).
    if let Auth::Verifier(verifier) = &shared.auth {
        let warnings = verifier.warnings();
        if !warnings.is_empty() {
            let body = serde_json::json!({ "status": "ready", "warnings": warnings });
            return (StatusCode::OK, axum::Json(body)).into_response();
        }
    }
    // Shared stores are not probed: when Redis is down every replica is alike, and taking all
    // of them out would also stop the requests that need no store (stateless, 2026-07-28).
    status_json(StatusCode::OK, "ready")
}

fn status_json(status: StatusCode, text: &'static str) -> Response {
    (status, axum::Json(serde_json::json!({ "status": text }))).into_response()
}

async fn resource_metadata(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(response) = shared
        .limit_address(request.extensions(), request.headers())
        .await
    {
        return response;
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        shared.metadata_json.clone(),
    )
        .into_response()
}

/// 429 or 503 with `Retry-After` (whole seconds, at least 1).
#[cold]
fn too_many(status: StatusCode, wait: std::time::Duration, message: &str) -> Response {
    let mut response = rpc_error(status, error_code::INVALID_REQUEST, message);
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

impl Shared {
    /// A new client connection with this transport's handler timeout. Sessions register theirs
    /// with the server (resource updates reach them); a one-request connection needs not, and
    /// the hot path stays free of the registry's lock.
    fn connection(&self, session: bool) -> Arc<Connection> {
        let connection = if session {
            self.server.connect()
        } else {
            Connection::one_request()
        };
        connection.set_handler_timeout(self.handler_timeout);
        connection
    }

    /// The owner of `principal`'s sessions (none for an authenticated caller without a subject).
    fn owner(&self, principal: &Principal) -> Result<Owner, SessionError> {
        let owner = Owner::of_caller(principal, matches!(self.auth, Auth::Verifier(_)));
        if let Err(SessionError::NoSubject) = owner {
            // Refused (403) once per request a valid token without `sub` sends: counted for the
            // INFO summary like the other session refusals (its event is at DEBUG). The address
            // is not at hand on every path that asks: the summary counts it without one.
            self.refusals.record(refusals::Kind::SessionRejected, None);
        }
        owner
    }

    /// A body refused before it was understood (400 malformed JSON-RPC, 413, 415): one event at
    /// DEBUG, and counted for the INFO summary, as any client can send one per request.
    #[cold]
    fn bad_request(&self, parts: &Parts, status: u16) {
        tracing::debug!(target: "scopegate::http", event = "bad_request", status, "request body refused");
        let peer = self.client_address(&parts.extensions, &parts.headers);
        self.refusals.record(refusals::Kind::BadRequest, peer);
    }

    /// The client's address: the peer's, or behind trusted proxies the one they forwarded
    /// (see [`HttpConfig::trusted_proxies`]); `None` when the peer is not known.
    fn client_address(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Option<std::net::IpAddr> {
        proxy::client_of(self.proxies.as_ref(), extensions, headers)
    }

    /// The per-address rate limit, when the client's address is known: the refusal, if any.
    async fn limit_address(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let limiter = self.per_address.as_ref()?;
        let client = self.client_address(extensions, headers)?;
        let wait = limiter.check(&limit::address_key(client)).await.err()?;
        tracing::debug!(target: "scopegate::http", event = "rate_limited", address = %client, "per-address rate limit");
        self.refusals
            .record(refusals::Kind::RateLimited, Some(client));
        Some(too_many(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            "too many requests: slow down",
        ))
    }

    /// The `Host` header names this server (DNS-rebinding protection, MCP transports "Security
    /// Warning"): the resource's host, a loopback name, or one allowed in the configuration.
    fn host_allowed(&self, parts: &Parts) -> bool {
        let Some(allowed) = &self.allowed_hosts else {
            return true;
        };
        let header = parts.headers.get(header::HOST);
        // The usual case first, on bytes: the resource's own authority.
        if let (Some(own), Some(header)) = (&self.resource_authority, header)
            && own.as_bytes() == header.as_bytes()
        {
            return true;
        }
        let Some(host) = host::authority(&parts.headers, &parts.uri) else {
            return false;
        };
        if self
            .resource_authority
            .as_deref()
            .is_some_and(|own| own.as_bytes() == host.as_bytes())
        {
            return true;
        }
        let Some(name) = host::name(host) else {
            return false;
        };
        allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Browsers send `Origin`; other clients do not. A browser page may call only from an
    /// allowed origin (DNS-rebinding protection, MCP transports "Security Warning").
    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.allowed_origins.contains(&origin) {
            return true;
        }
        if origin == self.resource_origin {
            return true;
        }
        self.allow_loopback_origins && is_loopback_origin(&origin)
    }

    fn challenge(
        &self,
        error: &'static str,
        description: String,
        scope: Option<String>,
    ) -> HeaderValue {
        header_value(&Challenge {
            error: Some(error),
            description: Some(description),
            scope,
            resource_metadata: Some(self.metadata_url.clone()),
        })
    }

    /// Authenticates the request: the principal, or the response refusing it.
    async fn authenticate(&self, request: &Parts) -> Result<Principal, Response> {
        let verifier = match &self.auth {
            Auth::Off => return Ok(Principal::anonymous()),
            Auth::Verifier(verifier) => verifier,
        };
        // Where a refusal came from, for the summary of refusals (only refusals ask).
        let client = || self.client_address(&request.extensions, &request.headers);
        // RFC 6750 §2.3 allows tokens in the query; OAuth 2.1 and MCP forbid it. Refuse loudly
        // rather than ignore, so a client leaking tokens into URLs finds out.
        if request.uri.query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
        }) {
            return Err(self.reject_request(
                "access tokens are accepted in the Authorization header only",
                client(),
            ));
        }
        // Two values are as many as it takes to tell "one" from "more than one".
        let mut values = request.headers.get_all(header::AUTHORIZATION).iter();
        let (first, second) = (values.next(), values.next());
        // A client's token is checked once; its later requests only compare it.
        let remembered = match (first, second) {
            (Some(only), None) => accepted_recently(only.as_bytes()),
            _ => None,
        };
        let credentials = || match (first, second) {
            (None, _) => bearer_credentials(&[]),
            (Some(one), None) => bearer_credentials(&[one.as_bytes()]),
            (Some(one), Some(two)) => bearer_credentials(&[one.as_bytes(), two.as_bytes()]),
        };
        let token = match &remembered {
            Some(token) => &**token,
            None => match credentials() {
                Credentials::Bearer(token) => token,
                Credentials::None => {
                    tracing::debug!(target: "scopegate::auth", event = "token_missing", "request without credentials");
                    self.refusals.record(refusals::Kind::TokenMissing, client());
                    return Err(
                        self.unauthorized(self.initial_challenge.clone(), "authorization required")
                    );
                }
                Credentials::Malformed(why) => return Err(self.reject_request(why, client())),
            },
        };
        match verifier.verify(token).await {
            Ok(principal) => {
                if remembered.is_none() {
                    remember_accepted(token);
                }
                tracing::debug!(target: "scopegate::auth", event = "token_accepted", subject = principal.subject(), client_id = principal.client_id(), scopes = %principal.scopes());
                Ok(principal)
            }
            Err(error) => Err(self.invalid_token(&error, client())),
        }
    }

    #[cold]
    fn invalid_token(&self, error: &AuthError, peer: Option<std::net::IpAddr>) -> Response {
        tracing::debug!(target: "scopegate::auth", event = "token_rejected", reason = error.reason(), "{error}");
        self.refusals.record(refusals::Kind::InvalidToken, peer);
        let challenge = self.challenge(
            "invalid_token",
            error.to_string(),
            self.initial_scope.clone(),
        );
        self.unauthorized(challenge, &error.to_string())
    }

    #[cold]
    fn unauthorized(&self, challenge: HeaderValue, message: &str) -> Response {
        let body = RpcResponse::error(
            None,
            ErrorObject::new(error_code::INVALID_REQUEST, message.to_owned()),
        );
        let mut response = json_response(StatusCode::UNAUTHORIZED, &body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response
    }

    #[cold]
    fn reject_request(&self, why: &'static str, peer: Option<std::net::IpAddr>) -> Response {
        tracing::debug!(target: "scopegate::auth", event = "token_rejected", reason = "invalid_request", "{why}");
        self.refusals.record(refusals::Kind::InvalidRequest, peer);
        let body = RpcResponse::error(None, ErrorObject::new(error_code::INVALID_REQUEST, why));
        let mut response = json_response(StatusCode::BAD_REQUEST, &body);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            self.challenge("invalid_request", why.to_owned(), None),
        );
        response
    }

    /// The 403 step-up challenge: the scope list is what the client holds that we know plus what
    /// the tool needs, because clients in the field replace their scope set with it.
    ///
    /// A 2026-07-28 request is told the scopes of this operation alone, all of them in one
    /// challenge (2026-07-28 authorization, "Scope Challenge Handling").
    #[cold]
    fn forbidden(&self, principal: &Principal, denial: &Denial, modern: bool) -> Response {
        let held = principal
            .scopes()
            .iter()
            .filter(|s| !modern && self.known_scopes.iter().any(|k| k == s));
        let mut scopes: Vec<&str> = held.chain(denial.required.iter().copied()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        // The name may be the client's own resource URI, up to the body limit: the challenge
        // echoes it clipped, so the header stays small (and valid: RFC 6750 §3's characters).
        let description = format!(
            "{} {} requires scope {}",
            denial.kind,
            crate::clip::clip(&denial.name, crate::clip::NAME_BYTES),
            denial.missing.join(" ")
        );
        let mut challenge = Challenge {
            error: Some("insufficient_scope"),
            description: Some(description),
            scope: Some(scopes.join(" ")),
            resource_metadata: Some(self.metadata_url.clone()),
        };
        if matches!(self.auth, Auth::Off) {
            // No authorization server to step up with: name the scopes, point at nothing.
            challenge.resource_metadata = None;
        }
        let challenge = header_value(&challenge);
        let body = denial.to_response(None);
        let mut response = json_response(StatusCode::FORBIDDEN, &body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response
    }
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or_default().to_owned()
    };
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

fn json_response(status: StatusCode, body: &RpcResponse) -> Response {
    // Built directly: a `String`'s `into_response` first sets a text content type that the
    // JSON one then replaces.
    let mut response = Response::new(Body::from(body.to_json_bytes()));
    *response.status_mut() = status;
    *response.headers_mut() = spare::take();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cold]
fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    json_response(
        status,
        &RpcResponse::error(None, ErrorObject::new(code, message.to_owned())),
    )
}

fn mcp_endpoint(shared: Arc<Shared>, request: Request) -> impl Future<Output = Response> + Send {
    // Split before the future is made: an `async fn` keeps its arguments' room for its whole
    // life, and the request would sit there unused beside its own parts.
    let (parts, body) = request.into_parts();
    endpoint(shared, parts, body)
}

// Not an `async fn`: an `async fn` keeps its arguments twice in its future (where they arrive
// and where its body moves them), and the parts alone are 224 bytes. An `async move` block uses
// the captured values in place. Likewise `post`, `respond` and `Core::call_tool`.
#[allow(clippy::manual_async_fn)]
fn endpoint(shared: Arc<Shared>, parts: Parts, body: Body) -> impl Future<Output = Response> {
    async move {
        if let Some(response) = shared
            .limit_address(&parts.extensions, &parts.headers)
            .await
        {
            return response;
        }
        let Some(_permit) = shared.concurrency.try_acquire() else {
            tracing::debug!(target: "scopegate::http", event = "overloaded", "too many requests in flight");
            let peer = shared.client_address(&parts.extensions, &parts.headers);
            shared.refusals.record(refusals::Kind::Overloaded, peer);
            return too_many(
                StatusCode::SERVICE_UNAVAILABLE,
                std::time::Duration::from_secs(1),
                "the server is busy",
            );
        };
        if !shared.host_allowed(&parts) {
            tracing::debug!(target: "scopegate::http", event = "host_rejected", host = ?parts.headers.get(header::HOST));
            let peer = shared.client_address(&parts.extensions, &parts.headers);
            shared.refusals.record(refusals::Kind::HostRejected, peer);
            return rpc_error(
                StatusCode::FORBIDDEN,
                error_code::INVALID_REQUEST,
                "Host not allowed (DNS rebinding protection)",
            );
        }
        if let Some(origin) = parts.headers.get(header::ORIGIN)
            && !shared.origin_allowed(origin)
        {
            tracing::debug!(target: "scopegate::http", event = "origin_rejected", origin = ?origin);
            let peer = shared.client_address(&parts.extensions, &parts.headers);
            shared.refusals.record(refusals::Kind::OriginRejected, peer);
            return rpc_error(
                StatusCode::FORBIDDEN,
                error_code::INVALID_REQUEST,
                "origin not allowed",
            );
        }
        let principal = match shared.authenticate(&parts).await {
            Ok(principal) => principal,
            Err(response) => return response,
        };
        // The per-principal limit and the session's record exist only when configured; their
        // future is boxed so that a request needing neither does not carry its room.
        let preloaded = if shared.per_principal.is_some() || shared.sessions.is_some() {
            match Box::pin(limit_and_preload(&shared, &principal, &parts)).await {
                Ok(preloaded) => preloaded,
                Err(response) => return response,
            }
        } else {
            None
        };
        let version = HeaderVersion::of(&parts.headers);
        if let HeaderVersion::Unknown(requested) = version
            && parts.method != Method::POST
        {
            return unsupported_version(None, &String::from_utf8_lossy(requested.as_bytes()));
        }
        let response = match parts.method {
            Method::POST => post(&shared, principal, &parts, version, body, preloaded).await,
            // 2026-07-28 has no sessions and no standalone stream.
            Method::GET | Method::DELETE if version.is_modern() => method_not_allowed(false),
            Method::DELETE => Box::pin(delete(&shared, &principal, &parts.headers)).await,
            Method::GET => {
                Box::pin(standalone_stream(
                    &shared,
                    &principal,
                    &parts.headers,
                    preloaded,
                ))
                .await
            }
            _ => method_not_allowed(shared.sessions.is_some()),
        };
        spare::keep(parts.headers);
        response
    }
}

/// The per-principal rate limit and, for a session kept in a shared store, its record: with
/// shared stores both commands leave together, one round trip of waiting instead of two.
async fn limit_and_preload(
    shared: &Shared,
    principal: &Principal,
    parts: &Parts,
) -> Result<Option<Box<Preloaded>>, Response> {
    let limited = async {
        match &shared.per_principal {
            // Every authenticated caller, a sub-less one by its token's digest (`principal_key`).
            Some(limiter) if matches!(shared.auth, Auth::Verifier(_)) => {
                limiter
                    .check(&session::principal_key(principal, &parts.headers))
                    .await
            }
            _ => Ok(()),
        }
    };
    let preload = async {
        match (&shared.sessions, session_id(&parts.headers)) {
            (Some(sessions), Some(id)) if parts.method != Method::DELETE => {
                sessions.preload(id).await.map(Box::new)
            }
            _ => None,
        }
    };
    let (limited, preloaded) = tokio::join!(limited, preload);
    if let Err(wait) = limited {
        tracing::debug!(target: "scopegate::http", event = "rate_limited", subject = principal.subject(), "per-principal rate limit");
        let peer = shared.client_address(&parts.extensions, &parts.headers);
        shared.refusals.record(refusals::Kind::RateLimited, peer);
        return Err(too_many(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            "too many requests: slow down",
        ));
    }
    Ok(preloaded)
}

/// A request's `MCP-Protocol-Version`, looked up once.
#[derive(Clone, Copy)]
enum HeaderVersion<'a> {
    Absent,
    /// A published revision (any is accepted: clients in the field send older ones on sessions
    /// that negotiated a newer one, and the messages are compatible).
    Known(&'static str),
    Unknown(&'a HeaderValue),
}

impl<'a> HeaderVersion<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let Some(value) = headers.get(&PROTOCOL_VERSION) else {
            return Self::Absent;
        };
        HEADER_PROTOCOL_VERSIONS
            .iter()
            .find(|known| known.as_bytes() == value.as_bytes())
            .map_or(Self::Unknown(value), |known| Self::Known(known))
    }

    /// A 2026-07-28 (or later) revision, whose requests carry their own `_meta`.
    fn is_modern(self) -> bool {
        matches!(self, Self::Known(version) if crate::protocol::MODERN_PROTOCOL_VERSIONS.contains(&version))
    }
}

/// GET: a legacy session's stream for messages unrelated to a request (resource updates).
async fn standalone_stream(
    shared: &Shared,
    principal: &Principal,
    headers: &HeaderMap,
    preloaded: Option<Box<Preloaded>>,
) -> Response {
    let Some(sessions) = &shared.sessions else {
        return method_not_allowed(false);
    };
    if !names_event_stream(headers) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            error_code::INVALID_REQUEST,
            "GET opens an event stream: Accept must include text/event-stream",
        );
    }
    let owner = match shared.owner(principal) {
        Ok(owner) => owner,
        Err(error) => return session_refused(&error),
    };
    let Some(id) = session_id(headers) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        );
    };
    let connection = match sessions
        .check(
            id,
            &owner,
            || shared.connection(true),
            preloaded.map(|p| *p),
        )
        .await
    {
        Ok(connection) => connection,
        Err(error) => return session_refused(&error),
    };
    // A token accepted within the clock leeway past its `exp` opens no stream: one that ended
    // at once would have the client reconnect in a loop.
    let deadline = token_deadline(principal);
    if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
        return shared.invalid_token(&AuthError::Expired, None);
    }
    // Updates follow the scopes of the principal that opened the stream, until a request
    // brings another.
    connection.note_principal(principal);
    let (outbound, mut rx) = Outbound::bounded_channel();
    connection.set_standalone(outbound);
    let messages = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    // The stream ends when the token that opened it does: it would otherwise go on delivering
    // to a client whose access has ended (the client opens another with a fresh token).
    match deadline {
        Some(deadline) => {
            use futures_util::StreamExt as _;
            event_stream(
                messages.take_until(tokio::time::sleep_until(deadline)),
                None,
            )
        }
        None => event_stream(messages, None),
    }
}

/// When the token a principal presented stops being valid: its `exp` claim (a fraction rounded
/// down), or `None` when the verifier gave no `exp`.
fn token_deadline(principal: &Principal) -> Option<tokio::time::Instant> {
    let exp = principal.claims().get("exp")?;
    let exp = match exp.as_u64() {
        Some(seconds) => seconds,
        // Past u64's range, the cast saturates: still the far future.
        None => exp.as_f64().filter(|s| *s >= 0.0)?.floor() as u64,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let left = std::time::Duration::from_secs(exp.saturating_sub(now));
    // A deadline past what an `Instant` holds is no deadline.
    tokio::time::Instant::now().checked_add(left)
}

/// The request body, whole.
///
/// Read here rather than with `axum::body::to_bytes`, whose limit wrapper and frame collector
/// are more code and an allocation per request: a body sent with its head (nearly every one)
/// arrives here as one frame in the first poll and is returned as it is, with no timer armed
/// (the timer exists only for a body still coming, which gets `body_timeout`).
async fn read_body(shared: &Shared, body: Body, parts: &Parts) -> Result<Bytes, Response> {
    use hyper::body::Body as _;
    let limit = shared.max_body_bytes;
    // A Content-Length over the limit is refused before anything is read.
    if usize::try_from(body.size_hint().lower()).map_or(true, |promised| promised > limit) {
        return Err(body_too_large(limit));
    }
    let mut reader = BodyReader {
        body,
        limit,
        first: None,
        rest: Vec::new(),
        total: 0,
    };
    let read = match std::future::poll_fn(|cx| Poll::Ready(reader.poll_read(cx))).await {
        Poll::Ready(read) => read,
        Poll::Pending => {
            let rest = std::future::poll_fn(|cx| reader.poll_read(cx));
            match tokio::time::timeout(shared.body_timeout, rest).await {
                Ok(read) => read,
                Err(_) => {
                    tracing::debug!(target: "scopegate::http", event = "body_timeout", "request body too slow");
                    let peer = shared.client_address(&parts.extensions, &parts.headers);
                    shared.refusals.record(refusals::Kind::BodyTimeout, peer);
                    return Err(rpc_error(
                        StatusCode::REQUEST_TIMEOUT,
                        error_code::INVALID_REQUEST,
                        "the request body did not arrive in time",
                    ));
                }
            }
        }
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge) => Err(body_too_large(limit)),
        Err(BodyError::Broken) => Err(rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "the request body could not be read",
        )),
    }
}

#[cold]
fn body_too_large(limit: usize) -> Response {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        error_code::INVALID_REQUEST,
        &format!("request body larger than {limit} bytes"),
    )
}

enum BodyError {
    TooLarge,
    /// The connection failed or the framing was invalid.
    Broken,
}

/// A body being read: its first frame kept as it came, later ones appended to a copy.
struct BodyReader {
    body: Body,
    limit: usize,
    first: Option<Bytes>,
    rest: Vec<u8>,
    total: usize,
}

impl BodyReader {
    fn poll_read(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<Bytes, BodyError>> {
        use hyper::body::Body as _;
        loop {
            if self.body.is_end_stream() {
                return Poll::Ready(Ok(self.take()));
            }
            let frame = match std::pin::Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(self.take())),
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Err(BodyError::Broken)),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            // Trailers carry nothing a JSON-RPC message needs.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.total = self.total.saturating_add(data.len());
            if self.total > self.limit {
                return Poll::Ready(Err(BodyError::TooLarge));
            }
            match &self.first {
                None => self.first = Some(data),
                Some(first) => {
                    if self.rest.is_empty() {
                        self.rest.extend_from_slice(first);
                    }
                    self.rest.extend_from_slice(&data);
                }
            }
        }
    }

    fn take(&mut self) -> Bytes {
        if self.rest.is_empty() {
            self.first.take().unwrap_or_default()
        } else {
            Bytes::from(std::mem::take(&mut self.rest))
        }
    }
}

#[cold]
fn method_not_allowed(sessions: bool) -> Response {
    let allow = if sessions {
        "GET, POST, DELETE"
    } else {
        "POST"
    };
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, allow)]).into_response()
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(&SESSION).and_then(|v| v.to_str().ok())
}

#[allow(clippy::manual_async_fn)]
fn post(
    shared: &Arc<Shared>,
    principal: Principal,
    parts: &Parts,
    version: HeaderVersion<'_>,
    body: Body,
    preloaded: Option<Box<Preloaded>>,
) -> impl Future<Output = Response> {
    async move {
        let content_type_ok = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !content_type_ok {
            shared.bad_request(parts, 415);
            return rpc_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error_code::INVALID_REQUEST,
                "Content-Type must be application/json",
            );
        }
        let bytes = match read_body(shared, body, parts).await {
            Ok(bytes) => bytes,
            Err(response) => {
                // 408 is counted where it is decided; 413 and an unreadable body here.
                if response.status() != StatusCode::REQUEST_TIMEOUT {
                    shared.bad_request(parts, response.status().as_u16());
                }
                return response;
            }
        };
        let message = match Message::parse(&bytes) {
            Ok(message) => message,
            Err(response) => {
                shared.bad_request(parts, 400);
                return json_response(StatusCode::BAD_REQUEST, &response);
            }
        };
        if let HeaderVersion::Unknown(requested) = version {
            let id = match &message {
                Message::Request(request) => Some(request.id.clone()),
                _ => None,
            };
            return unsupported_version(id, &String::from_utf8_lossy(requested.as_bytes()));
        }

        if let Message::Request(request) = &message
            && let Some(meta) = request.modern_meta()
        {
            if let Err(mismatch) = check_modern_headers(&parts.headers, request, &meta) {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &RpcResponse::error(
                        Some(request.id.clone()),
                        ErrorObject::new(error_code::HEADER_MISMATCH, mismatch),
                    ),
                );
            }
            return respond(
                shared,
                principal,
                message,
                shared.connection(false),
                None,
                true,
                parts,
            )
            .await;
        }
        if version.is_modern()
            && let (Message::Request(request), HeaderVersion::Known(version)) = (&message, version)
        {
            return json_response(
                StatusCode::BAD_REQUEST,
                &RpcResponse::error(
                    Some(request.id.clone()),
                    ErrorObject::new(
                        error_code::INVALID_PARAMS,
                        format!(
                            "a {version} request carries `_meta` with `io.modelcontextprotocol/protocolVersion` and `io.modelcontextprotocol/clientCapabilities`"
                        ),
                    ),
                ),
            );
        }

        let is_initialize = matches!(&message, Message::Request(r) if &*r.method == "initialize");
        let is_request = matches!(&message, Message::Request(_));
        if shared.sessions.is_some()
            && let Err(error) = shared.owner(&principal)
        {
            return session_refused(&error);
        }
        // The connection this message belongs to: the session's, or one for this request alone.
        let (connection, new_session) = match &shared.sessions {
            Some(sessions) if is_initialize => {
                let connection = shared.connection(true);
                match Box::pin(sessions.create(Owner::of(&principal), Arc::clone(&connection)))
                    .await
                {
                    Ok(id) => (connection, Some(id)),
                    Err(SessionError::Unavailable) => {
                        return session_refused(&SessionError::Unavailable);
                    }
                    Err(_) => return session_failure(),
                }
            }
            Some(sessions) => match session_id(&parts.headers) {
                None => {
                    return rpc_error(
                        StatusCode::BAD_REQUEST,
                        error_code::INVALID_REQUEST,
                        "missing Mcp-Session-Id: send initialize first",
                    );
                }
                Some(id) => match Box::pin(sessions.check(
                    id,
                    &Owner::of(&principal),
                    || shared.connection(true),
                    preloaded.map(|p| *p),
                ))
                .await
                {
                    Ok(connection) => (connection, None),
                    Err(SessionError::Unavailable) => {
                        return session_refused(&SessionError::Unavailable);
                    }
                    Err(_) => {
                        // Unknown, ended, or someone else's: audited, since the last is a hijack.
                        tracing::debug!(target: "scopegate::auth", event = "session_rejected", subject = principal.subject(), "request on a session that is not the caller's");
                        let peer = shared.client_address(&parts.extensions, &parts.headers);
                        shared
                            .refusals
                            .record(refusals::Kind::SessionRejected, peer);
                        return rpc_error(
                            StatusCode::NOT_FOUND,
                            error_code::INVALID_REQUEST,
                            "session not found",
                        );
                    }
                },
            },
            None => (shared.connection(false), None),
        };

        // With a shared store, the session whose changes go back to it after this message.
        let stored_session = shared
            .sessions
            .as_ref()
            .filter(|s| s.store().is_some())
            .and_then(|_| {
                new_session
                    .clone()
                    .or_else(|| session_id(&parts.headers).map(String::from))
            });

        // Notifications and the client's answers: handled at once, 202 with no body.
        let response = if is_request {
            respond(
                shared,
                principal,
                message,
                connection,
                new_session,
                false,
                parts,
            )
            .await
        } else {
            // Boxed: a request's future should not carry the room of this rarer path.
            let _ = Box::pin(
                shared
                    .server
                    .handle_in(message, &principal, &connection, None),
            )
            .await;
            StatusCode::ACCEPTED.into_response()
        };
        if let (Some(sessions), Some(id)) = (&shared.sessions, stored_session)
            && let Err(error) = Box::pin(sessions.save_changes(&id)).await
        {
            // Only initialize, `logging/setLevel` and subscriptions change a session, and all
            // three may be sent again: the client retries rather than carrying on with a session
            // the other replicas see differently.
            return session_refused(&error);
        }
        response
    }
}

/// How long a request's event stream waits for room before taking its client to have stopped
/// reading.
const STALLED_STREAM: std::time::Duration = std::time::Duration::from_secs(30);

/// Queues `message` on a request's event stream, waiting for room up to [`STALLED_STREAM`];
/// false when the client closed the stream or read nothing for that long.
async fn deliver(tx: &tokio::sync::mpsc::Sender<String>, message: String) -> bool {
    matches!(
        tokio::time::timeout(STALLED_STREAM, tx.send(message)).await,
        Ok(Ok(()))
    )
}

/// A slot of the in-flight limit held by a handler answering on an event stream.
struct StreamingSlot(Arc<Shared>);

impl StreamingSlot {
    fn hold(shared: Arc<Shared>) -> Self {
        shared.concurrency.hold();
        Self(shared)
    }
}

impl Drop for StreamingSlot {
    fn drop(&mut self) {
        self.0.concurrency.release();
    }
}

/// Dispatches a request and answers it: plain JSON, or an event stream when the handler sends
/// the client notifications or requests before its response.
#[allow(clippy::manual_async_fn)]
fn respond(
    shared: &Arc<Shared>,
    principal: Principal,
    message: Message,
    connection: Arc<Connection>,
    new_session: Option<String>,
    modern: bool,
    parts: &Parts,
) -> impl Future<Output = Response> {
    async move {
        // A request may send notifications and requests to the client before its response; they
        // travel on an event stream, which the response then switches to. Requests that send
        // nothing are answered with plain JSON.
        let streams = accepts_event_stream(&parts.headers);
        let (outbound, mut events) = Outbound::channel();
        let server = shared.server.clone();
        let dispatch_principal = principal.clone();
        let dispatch_connection = Arc::clone(&connection);
        let mut dispatch = Box::pin(async move {
            server
                .handle_in(
                    message,
                    &dispatch_principal,
                    &dispatch_connection,
                    streams.then_some(outbound),
                )
                .await
        });
        let reply = tokio::select! {
            biased;
            reply = &mut dispatch => reply,
            Some(first) = events.recv() => {
                // Bounded: a client that stops reading its stream ends it (and the request),
                // rather than the server queueing for it without end.
                let (tx, mut rx) =
                    tokio::sync::mpsc::channel::<String>(crate::connection::MAX_QUEUED_MESSAGES);
                let _ = tx.try_send(first); // the channel is empty
                // The handler runs on after this exchange (and its in-flight permit) ends: it
                // keeps a slot of the limit until it is done.
                let slot = StreamingSlot::hold(Arc::clone(shared));
                tokio::spawn(async move {
                    let _slot = slot;
                    let mut dispatch = dispatch;
                    loop {
                        tokio::select! {
                            biased;
                            // The client closed the stream: that cancels the request (2026-07-28),
                            // and dropping the handler stops it.
                            () = tx.closed() => return,
                            // While the stream is full the handler waits with it; a client
                            // that reads nothing for `STALLED_STREAM` has stopped reading.
                            Some(event) = events.recv() => {
                                if !deliver(&tx, event).await {
                                    // The client closed the stream, or stopped reading it:
                                    // either cancels the request.
                                    return;
                                }
                            }
                            reply = &mut dispatch => {
                                while let Some(event) = events.try_recv() {
                                    if !deliver(&tx, event).await {
                                        return;
                                    }
                                }
                                if let Reply::Response(response) = reply {
                                    deliver(&tx, response.to_json()).await;
                                }
                                return;
                            }
                        }
                    }
                });
                return event_stream(
                    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)),
                    new_session.as_deref(),
                );
            }
        };
        // Messages sent just before the handler finished still go out, ahead of the response.
        let mut early = Vec::new();
        while let Some(event) = events.try_recv() {
            early.push(event);
        }
        // A failed `initialize` starts no session: the one made for it ends unannounced (on a
        // task of its own: an await here would keep this future's state across it, and make
        // every request's future larger).
        let new_session = match new_session {
            Some(id) if !matches!(&reply, Reply::Response(r) if r.error_object().is_none()) => {
                let (shared, owner) = (Arc::clone(shared), Owner::of(&principal));
                tokio::spawn(async move {
                    if let Some(sessions) = &shared.sessions {
                        let _ = sessions.end(&id, &owner).await;
                    }
                });
                None
            }
            kept => kept,
        };
        let mut http = match reply {
            Reply::Nothing => StatusCode::ACCEPTED.into_response(),
            Reply::Refused(response, Refusal::BadRequest) => {
                json_response(StatusCode::BAD_REQUEST, &response)
            }
            Reply::Refused(response, Refusal::NotFound) => {
                json_response(StatusCode::NOT_FOUND, &response)
            }
            Reply::Denied(denial) => match shared.denial {
                DenialMode::Forbidden => shared.forbidden(&principal, &denial, modern),
                DenialMode::ToolError => json_response(StatusCode::OK, &denial.to_tool_error()),
            },
            Reply::Response(response) if early.is_empty() => {
                json_response(StatusCode::OK, &response)
            }
            Reply::Response(response) => {
                early.push(response.to_json());
                return event_stream(futures_util::stream::iter(early), new_session.as_deref());
            }
        };
        if let Some(id) = new_session
            && http.status() == StatusCode::OK
            && let Ok(value) = HeaderValue::from_str(&id)
        {
            http.headers_mut().insert(SESSION_HEADER, value);
        }
        http
    }
}

/// 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`, `prompts/get`,
/// `resources/read`) `Mcp-Name` must be present and equal the body's values; a mismatch names
/// what differs.
fn check_modern_headers(
    headers: &HeaderMap,
    request: &crate::protocol::Request,
    meta: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let header = |name: &str| -> Result<String, String> {
        let mut values = headers.get_all(name).iter();
        let value = values
            .next()
            .ok_or_else(|| format!("Header mismatch: the {name} header is required"))?;
        if values.next().is_some() {
            return Err(format!(
                "Header mismatch: the {name} header is given more than once"
            ));
        }
        let value = value
            .to_str()
            .map_err(|_| format!("Header mismatch: the {name} header has invalid characters"))?;
        decode_header_value(value)
            .ok_or_else(|| format!("Header mismatch: the {name} header is not valid base64"))
    };
    let expect = |name: &str, body: &str| -> Result<(), String> {
        let value = header(name)?;
        if value == body {
            Ok(())
        } else {
            Err(format!(
                "Header mismatch: {name} header value '{value}' does not match body value '{body}'"
            ))
        }
    };
    let version = meta
        .get(crate::protocol::META_PROTOCOL_VERSION)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    expect("MCP-Protocol-Version", version)?;
    expect(METHOD_HEADER, &request.method)?;
    let key = match &*request.method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(key) = key {
        let body = request
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p.get()).ok())
            .and_then(|p| {
                p.get(key)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        expect(NAME_HEADER, &body)?;
    }
    Ok(())
}

/// Header values that are not plain visible ASCII travel as `=?base64?…?=` (2026-07-28).
fn decode_header_value(value: &str) -> Option<String> {
    use base64::Engine as _;
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_owned()),
    }
}

/// 400 with `-32022` naming the supported versions, so a client can pick one and retry
/// (2026-07-28 versioning; legacy only asks for the 400).
#[cold]
fn unsupported_version(id: Option<crate::protocol::RequestId>, requested: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &RpcResponse::error(
            id,
            ErrorObject::new(
                error_code::UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
            )
            .with_data(serde_json::json!({
                "supported": HEADER_PROTOCOL_VERSIONS,
                "requested": requested,
            })),
        ),
    )
}

/// A session id that was not accepted: 404 when the session is not the caller's live one, 503
/// when the shared store could not tell.
#[cold]
fn session_refused(error: &SessionError) -> Response {
    match error {
        SessionError::NotFound => rpc_error(
            StatusCode::NOT_FOUND,
            error_code::INVALID_REQUEST,
            "session not found",
        ),
        SessionError::Unavailable => too_many(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(1),
            "the session store is unavailable: retry",
        ),
        SessionError::NoRandom => session_failure(),
        SessionError::NoSubject => {
            tracing::debug!(target: "scopegate::auth", event = "session_rejected", reason = "no_subject", "a caller without a subject asked for a session");
            rpc_error(
                StatusCode::FORBIDDEN,
                error_code::INVALID_REQUEST,
                "a session needs a subject and the token names none (sub): use the 2026-07-28 protocol or a stateless server",
            )
        }
    }
}

#[cold]
fn session_failure() -> Response {
    rpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        error_code::INTERNAL_ERROR,
        "could not create a session",
    )
}

/// Whether the client takes `text/event-stream` responses (MCP clients send both media types).
fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|value| lists_event_stream(value.as_bytes()))
}

/// Whether `Accept` names `text/event-stream` itself among its media ranges (a GET opens a
/// stream only when asked for one by name: `*/*` does not, nor `text/event-streams`).
fn names_event_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|range| {
            let media = range.split(|&b| b == b';').next().unwrap_or_default();
            media
                .trim_ascii()
                .eq_ignore_ascii_case(b"text/event-stream")
        })
    })
}

/// Whether an `Accept` value lists `text/event-stream` (or `*/*`) among its media ranges.
///
/// One pass over the bytes: media ranges are ASCII and short, and this runs on every POST (an
/// iterator chain of splits and trims cost several hundred instructions a request, and a
/// `memchr` call per range more than the scan it saves).
fn lists_event_stream(value: &[u8]) -> bool {
    // What MCP clients send (the transport asks for both types), as one comparison.
    if value == b"application/json, text/event-stream" {
        return true;
    }
    let matches = |media: &[u8]| {
        let media = media.trim_ascii();
        media.eq_ignore_ascii_case(b"text/event-stream") || media == b"*/*"
    };
    // The media range of the current element ends at its first `;` (parameters follow).
    let (mut start, mut media_end) = (0, None);
    for (i, &b) in value.iter().enumerate() {
        match b {
            b',' => {
                if matches(&value[start..media_end.unwrap_or(i)]) {
                    return true;
                }
                (start, media_end) = (i + 1, None);
            }
            b';' if media_end.is_none() => media_end = Some(i),
            _ => {}
        }
    }
    matches(&value[start..media_end.unwrap_or(value.len())])
}

/// An SSE response carrying each message of `messages` as one `message` event, closed when
/// `messages` ends.
fn event_stream(
    messages: impl futures_util::Stream<Item = String> + Send + 'static,
    session: Option<&str>,
) -> Response {
    use axum::response::sse::{Event, Sse};
    use futures_util::StreamExt as _;
    let stream = messages.map(|message| {
        Ok::<_, std::convert::Infallible>(Event::default().event("message").data(message))
    });
    let mut response = Sse::new(stream).into_response();
    // Proxies must pass each event on at once (2026-07-28 Streamable HTTP).
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(id) = session
        && let Ok(value) = HeaderValue::from_str(id)
    {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

async fn delete(shared: &Shared, principal: &Principal, headers: &HeaderMap) -> Response {
    let Some(sessions) = &shared.sessions else {
        return method_not_allowed(false);
    };
    let Some(id) = session_id(headers) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        );
    };
    let owner = match shared.owner(principal) {
        Ok(owner) => owner,
        Err(error) => return session_refused(&error),
    };
    match sessions.end(id, &owner).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => session_refused(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with nothing but the protocol: no tools, no scopes.
    struct Bare;

    impl McpServer for Bare {
        const INFO: crate::server::ServerInfo = crate::server::ServerInfo {
            name: "bare",
            version: "0",
            title: None,
            instructions: None,
        };
        const TOOLS: &'static [crate::tool::ToolDef<Self>] = &[];
        const SCOPES: &'static [&'static str] = &[];
        const IMPLICATIONS: &'static [crate::scope::Implication] = &[];
    }

    /// With its endpoint in the options, `serve_with` answers the endpoint's path itself: here
    /// the router has no route at all, so only the direct path can answer `ping`.
    #[tokio::test(flavor = "current_thread")]
    async fn serve_with_answers_its_endpoint_without_the_router() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = HttpConfig::new(format!("{base}/mcp"))
            .without_authorization()
            .stateless(true);
        let (_, mcp) = Server::new(Bare).unwrap().core.http_app(config).unwrap();
        let mut options = ServeOptions::default().shutdown_on(std::future::pending());
        options.mcp = Some(Arc::new(mcp));
        tokio::spawn(serve_with(listener, Router::new(), options));
        let client = reqwest::Client::new();
        let post = |path: &str| {
            client
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
                .send()
        };
        let ping = post("/mcp").await.unwrap();
        assert_eq!(ping.status(), StatusCode::OK);
        let body: serde_json::Value = ping.json().await.unwrap();
        assert_eq!(body["result"], serde_json::json!({}));
        // Any other path is the router's: here, nothing.
        for path in ["/mcp/", "/other"] {
            assert_eq!(
                post(path).await.unwrap().status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[test]
    fn loopback_origins_are_recognised() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "null",
            "http://evil.com",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_stream_deadline_is_the_tokens_exp() {
        use std::time::Duration;
        let with_exp = |exp: serde_json::Value| {
            let mut claims = serde_json::Map::new();
            claims.insert("exp".into(), exp);
            Principal::builder().claims(claims).build()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let left = |p: &Principal| {
            token_deadline(p).map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        };
        let in_100 = left(&with_exp((now + 100).into())).unwrap();
        assert!(
            in_100 > Duration::from_secs(98) && in_100 <= Duration::from_secs(100),
            "{in_100:?}"
        );
        let fraction = left(&with_exp(serde_json::json!(now as f64 + 100.9))).unwrap();
        assert!(
            fraction <= Duration::from_secs(100),
            "rounded down: {fraction:?}"
        );
        assert_eq!(
            left(&with_exp((now - 30).into())),
            Some(Duration::ZERO),
            "already past"
        );
        assert_eq!(left(&with_exp(u64::MAX.into())), None, "too far to hold");
        assert_eq!(left(&with_exp("soon".into())), None);
        assert_eq!(left(&Principal::anonymous()), None, "no exp, no deadline");
    }

    #[test]
    fn a_get_stream_is_asked_for_by_name() {
        let names = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            names_event_stream(&headers)
        };
        assert!(names("text/event-stream"));
        assert!(names("application/json, TEXT/Event-Stream;q=0.5"));
        assert!(!names("text/event-streams"));
        assert!(!names("text/event-stream-x, application/json"));
        assert!(!names("*/*"));
        assert!(!names("application/json"));
    }

    #[test]
    fn event_streams_are_accepted_by_media_range_only() {
        let accepts = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            }
            accepts_event_stream(&headers)
        };
        for yes in [
            &["application/json, text/event-stream"][..],
            &["text/event-stream"],
            &["application/json;q=0.9,TEXT/Event-Stream;q=0.5"],
            &["  text/event-stream  ,application/json"],
            &["*/*"],
            &["application/json", "text/event-stream"],
            &["a/b;x=1;y=2,text/event-stream;q=1"],
            &[",text/event-stream,"],
        ] {
            assert!(accepts(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &[""],
            &["application/json"],
            &["text/event-streams"],
            &["text/event-stream-ish, application/json"],
            &["text/*"],
            &["application/json;profile=text/event-stream"],
            &[";text/event-stream"],
            &["application/json;a=b;c=text/event-stream, text/plain"],
        ] {
            assert!(!accepts(no), "{no:?}");
        }
    }
}
