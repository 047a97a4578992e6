//! The transport's settings: [`HttpConfig`] and its builder, and how denials are answered.

use std::net::SocketAddr;
use std::sync::Arc;

use super::proxy::TrustedProxies;
use super::store::{RateLimitStore, SessionStore};
use crate::auth::{DpopConfig, JwtConfig, JwtVerifier, TokenVerifier};
use crate::metadata;
use crate::server::Quota;

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
pub(super) enum Auth {
    /// Every request is anonymous (only `public` tools run). For local development and the
    /// conformance suite; never the default.
    Off,
    /// Every request must carry a token this verifier accepts.
    Verifier(Arc<dyn TokenVerifier>),
}

/// Settings of the HTTP transport. Build with [`HttpConfig::new`] and the setters.
#[derive(Clone)]
pub struct HttpConfig {
    pub(super) resource: String,
    pub(super) auth: Option<Auth>,
    pub(super) authorization_servers: Vec<String>,
    pub(super) extra_scopes: Vec<String>,
    pub(super) initial_scopes: Option<Vec<String>>,
    pub(super) resource_name: Option<String>,
    pub(super) resource_documentation: Option<String>,
    pub(super) stateless: bool,
    pub(super) denial: DenialMode,
    pub(super) max_body_bytes: usize,
    pub(super) allowed_origins: Vec<String>,
    pub(super) allow_loopback_origins: bool,
    pub(super) allowed_hosts: Vec<String>,
    pub(super) any_host: bool,
    pub(super) max_sessions: usize,
    pub(super) max_sessions_per_principal: usize,
    pub(super) max_listen_streams: usize,
    pub(super) max_listen_streams_per_principal: usize,
    pub(super) max_concurrent_requests: usize,
    pub(super) rate_per_address: Option<Quota>,
    pub(super) rate_per_principal: Option<Quota>,
    pub(super) handler_timeout: Option<std::time::Duration>,
    pub(super) body_timeout: std::time::Duration,
    pub(super) health_checks: bool,
    pub(super) session_store: Option<Arc<dyn SessionStore>>,
    pub(super) rate_limit_store: Option<Arc<dyn RateLimitStore>>,
    pub(super) trusted_proxies: Option<TrustedProxies>,
    pub(super) allow_insecure_http: bool,
    pub(super) dpop: Option<DpopConfig>,
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
            max_listen_streams: 10_000,
            max_listen_streams_per_principal: 100,
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
            dpop: None,
            jwt_config: None,
        }
    }

    /// Accepts DPoP-bound tokens (RFC 9449, SEP-1932) with a proof beside each request, as
    /// `config` says: which proof algorithms, the `iat` window, server nonces, whether bearer
    /// tokens are still accepted. Each proof's `jti` is spent in the server's replay store
    /// ([`ServerOptions::replay_store`](crate::server::ServerOptions::replay_store)): give
    /// replicas a shared one (`RedisStore`, feature `redis`, which they already share for their
    /// rate limits and request states); while it cannot answer, DPoP requests are refused (503).
    ///
    /// The verifier must accept DPoP ([`TokenVerifier::verify_dpop`]): [`JwtVerifier`] and
    /// [`IntrospectionVerifier`](crate::auth::IntrospectionVerifier) do. Default: bearer tokens
    /// only, and a bound token is refused.
    #[must_use]
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
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
    /// [`ServeOptions::header_read_timeout`](super::ServeOptions::header_read_timeout)'s business.
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

    /// Most open 2026-07-28 `subscriptions/listen` streams in all (default 10 000) and per
    /// principal (default 100; per token for a caller without a subject, and shared by every
    /// anonymous caller when authorization is off). Past either, a new one is refused (`503`
    /// or `429`, with `Retry-After`) until one of those open ends; an open stream keeps no slot
    /// of [`max_concurrent_requests`](Self::max_concurrent_requests).
    #[must_use]
    pub fn max_listen_streams(mut self, total: usize, per_principal: usize) -> Self {
        self.max_listen_streams = total;
        self.max_listen_streams_per_principal = per_principal;
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
    /// limit at the proxy. Needs [`serve_with`](super::serve_with) (or `ConnectInfo<SocketAddr>` from your own
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

    /// Allows plain `http://` URLs to hosts that are not loopback: the resource URI, the
    /// authorization servers, and the issuer, metadata and JWKS of the JWT verifier that
    /// [`HttpConfig::jwt`] or [`HttpConfig::jwt_issuer`] builds (before or after this call).
    /// Default false: such a URL is refused when the router is built (or, found by discovery,
    /// when it is fetched), because tokens and keys would cross the network unprotected.
    ///
    /// For a private network whose path is trusted. A verifier built by hand and passed to
    /// [`HttpConfig::verifier`] keeps its own setting (`JwtConfig::allow_insecure_http`,
    /// `IntrospectionConfig::allow_insecure_http`).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        match self.jwt_config.take() {
            // Built again, now with the setting (nothing has used it yet: it is being built).
            Some(config) => self.jwt(config),
            None => self,
        }
    }

    /// `config` with this configuration's opt-out applied, for the verifier it builds.
    fn with_insecure_http(&self, config: JwtConfig) -> JwtConfig {
        JwtConfig {
            allow_insecure_http: config.allow_insecure_http || self.allow_insecure_http,
            ..config
        }
    }
}
