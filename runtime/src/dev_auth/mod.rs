//! A development authorization server, mounted beside the MCP server, so the whole OAuth flow
//! runs on one laptop with no account anywhere. **For development only.**
//!
//! It is spec-correct enough for real clients: RFC 8414 metadata, dynamic client registration
//! (RFC 7591), the authorization code grant with PKCE S256 required (OAuth 2.1), a consent page
//! that lists each requested scope with the tools it unlocks, refresh tokens with rotation (and
//! reuse detection), resource indicators (RFC 8707: `resource` becomes `aud`), and RFC 9068
//! `at+jwt` access tokens signed with an ES256 key generated at start and published as a JWKS.
//!
//! It hands out any scope without a login, so it is hard to expose by accident: it refuses to
//! start for a non-loopback resource, and refuses every request that did not arrive on a
//! loopback local address ([`crate::http::LocalAddr`], which scopegate's own serve loop adds;
//! a router served by other means answers 403), that a proxy or tunnel forwarded (`Forwarded`,
//! `X-Forwarded-*`, `X-Real-IP`, `Via`: a proxy on the same machine arrives on loopback), or
//! whose `Host` is foreign (DNS rebinding), unless [`DevAuthConfig::allow_non_loopback()`] says
//! otherwise, loudly. `/authorize` and its decision answer browser navigations only (Fetch
//! Metadata), keep a bounded `state` and at most 20 pending requests per client. Registration
//! is bounded (JSON only, 64 KiB, rate limited, and a quota of clients and bytes per owner: the
//! peer's address and the request's `Origin`, so that one web page cannot spend the quota of
//! the developer's own tools; a client that never completed an authorization is forgotten
//! after 10 minutes), refresh
//! tokens rotate with reuse detection that cannot be flushed (see `refresh.rs`), and a replayed
//! authorization code revokes the refresh tokens issued from it. Access tokens already issued
//! are not recalled: they live out their short lifetime
//! ([`DevAuthConfig::access_token_ttl()`], 5 minutes by default).

mod authorize;
mod clients;
mod guard;
mod keys;
mod refresh;
mod register;
mod token;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

use crate::metadata;
use crate::scope::is_scope_token;
use crate::server::{Core, McpServer, Server};

use authorize::{authorize, decision};
use guard::is_loopback_url;
use keys::generate_key;
use register::register;
use token::token;

/// Settings of the development authorization server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevAuthConfig {
    /// Path under the MCP server's origin where it lives; also the issuer's path (default
    /// `/dev-auth`).
    pub path: String,
    /// Approve every authorization request without showing the consent page (for tests).
    pub auto_approve: bool,
    /// Allow an issuer that is not on a loopback address, and requests that arrive on any
    /// local address or through a proxy (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`).
    /// Never do this with real users: anyone who reaches the port can mint
    /// tokens with every scope. Logged as a warning at start.
    pub allow_non_loopback: bool,
    /// The subject every token is issued to (default `developer`).
    pub subject: String,
    /// Access token lifetime (default 5 min: short, so refresh and expiry get exercised).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token family, counted from the authorization code that started it
    /// (default 1 h): rotation does not extend it.
    pub refresh_token_ttl: Duration,
    /// How long a consent page may wait for its decision (default 10 min); a later decision is
    /// refused.
    pub consent_ttl: Duration,
    /// Registrations allowed per owner (client address and `Origin`) per minute, also the
    /// burst (default 20); more get `429` with `Retry-After`.
    pub registrations_per_minute: u32,
    /// Clients one owner (client address and `Origin`, or its absence) may hold registered
    /// (default 100; and at most 256 KiB of their metadata). A client that never completed an
    /// authorization is forgotten after 10 minutes unused, any other after a day. More get
    /// `429`; nobody's client is evicted to make room.
    pub max_clients_per_address: usize,
    /// Scopes granted when a client asks for none (default: every scope some tool requires).
    pub default_scopes: Option<Vec<String>>,
}

impl Default for DevAuthConfig {
    fn default() -> Self {
        Self {
            path: "/dev-auth".into(),
            auto_approve: false,
            allow_non_loopback: false,
            subject: "developer".into(),
            access_token_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(3600),
            consent_ttl: Duration::from_secs(600),
            registrations_per_minute: 20,
            max_clients_per_address: 100,
            default_scopes: None,
        }
    }
}

impl DevAuthConfig {
    /// Approves every request without a consent page.
    #[must_use]
    pub fn auto_approve(mut self, auto: bool) -> Self {
        self.auto_approve = auto;
        self
    }

    /// Sets the token subject.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the access token lifetime.
    #[must_use]
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Sets the lifetime of a refresh token family.
    #[must_use]
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// Sets how long a consent page waits for its decision.
    #[must_use]
    pub fn consent_ttl(mut self, ttl: Duration) -> Self {
        self.consent_ttl = ttl;
        self
    }

    /// Sets the registrations allowed per address per minute.
    #[must_use]
    pub fn registrations_per_minute(mut self, per_minute: u32) -> Self {
        self.registrations_per_minute = per_minute;
        self
    }

    /// Sets how many clients one address may hold registered.
    #[must_use]
    pub fn max_clients_per_address(mut self, clients: usize) -> Self {
        self.max_clients_per_address = clients;
        self
    }

    /// Permits a non-loopback issuer and requests on any local address (development on a
    /// shared network, at your own risk).
    #[must_use]
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }
}

/// Why the development authorization server would not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevAuthError {
    /// The resource URI is unusable.
    #[error(transparent)]
    Resource(#[from] metadata::UriError),
    /// The address is not loopback and `allow_non_loopback` is off.
    #[error(
        "the development authorization server refuses to serve `{0}`: not a loopback address (set allow_non_loopback to override, never with real users)"
    )]
    NotLoopback(String),
    /// The signing key could not be generated.
    #[error("could not generate the signing key: {0}")]
    Key(String),
    /// A configured default scope is not a scope of the server.
    #[error("default scope `{0}` is not a scope of this server")]
    Scope(String),
}

/// The development authorization server for one MCP server.
#[derive(Clone)]
pub struct DevAuth {
    state: Arc<DevState>,
}

struct DevState {
    issuer: String,
    path: String,
    resource: String,
    scopes: Vec<String>,
    default_scopes: Vec<String>,
    /// scope -> tools it unlocks (directly or through the hierarchy), for the consent page.
    unlocks: Vec<(String, Vec<String>)>,
    config: DevAuthConfig,
    key: EncodingKey,
    kid: String,
    jwks: Value,
    /// The issuer's host, lower case (IPv6 in brackets): a `Host` it accepts besides loopback.
    issuer_host: String,
    /// Whether the "cannot see the local address" warning was logged (once is enough).
    warned_unknown_local: AtomicBool,
    /// Everything the flow remembers, behind one lock: a code's redemption and the refresh
    /// family it starts, a refresh token's retirement and its successor, happen in one
    /// critical section each.
    store: Mutex<Store>,
}

struct Store {
    clients: clients::Clients,
    pending: HashMap<String, (AuthRequest, Instant)>,
    codes: HashMap<String, (Grant, Instant)>,
    families: refresh::Families,
}

#[derive(Clone)]
struct AuthRequest {
    client_id: String,
    /// The client's `client_name`, for the consent page.
    client_name: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    scopes: Vec<String>,
    resource: String,
}

#[derive(Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    resource: String,
}

/// Limits that keep a long-running development server's memory bounded.
const MAX_ENTRIES: usize = 10_000;
const CODE_TTL: Duration = Duration::from_secs(60);

impl DevAuth {
    /// A development authorization server issuing tokens for `resource` (the MCP server's
    /// public URI), with the scopes and tools of `server`. The issuer is the resource's origin
    /// plus [`DevAuthConfig::path`].
    pub fn new<S: McpServer>(
        server: &Server<S>,
        resource: &str,
        config: DevAuthConfig,
    ) -> Result<Self, DevAuthError> {
        Self::for_core(&server.core, resource, config)
    }

    fn for_core(
        server: &Core,
        resource: &str,
        config: DevAuthConfig,
    ) -> Result<Self, DevAuthError> {
        let resource = metadata::canonical_resource(resource)?;
        let (origin, _) = metadata::origin_and_path(&resource);
        if !config.allow_non_loopback && !is_loopback_url(origin) {
            return Err(DevAuthError::NotLoopback(origin.to_owned()));
        }
        let path = format!("/{}", config.path.trim_matches('/'));
        let issuer = format!("{origin}{path}");
        let table = server.scopes();
        let scopes: Vec<String> = table
            .supported()
            .iter()
            .filter(|s| **s != "offline_access")
            .map(|s| (*s).to_owned())
            .collect();
        let unlocks = server
            .scope_rows()
            .into_iter()
            .map(|(scope, _, tools)| {
                (
                    scope.to_owned(),
                    tools.into_iter().map(str::to_owned).collect(),
                )
            })
            .collect();
        let default_scopes = match &config.default_scopes {
            Some(scopes) => {
                if let Some(bad) = scopes
                    .iter()
                    .find(|s| !table.supported().contains(&s.as_str()))
                {
                    return Err(DevAuthError::Scope(bad.clone()));
                }
                scopes.clone()
            }
            None => server.required_scopes(),
        };
        let issuer_host = url::Url::parse(&issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let (key, jwk) = generate_key()?;
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        let jwks = json!({ "keys": [jwk] });
        tracing::warn!(
            target: "scopegate::dev_auth",
            issuer = %issuer,
            "DEVELOPMENT AUTHORIZATION SERVER: approves {} for subject `{}`; never use it in production",
            if config.auto_approve { "every request automatically" } else { "requests on a consent page without login" },
            config.subject
        );
        if config.allow_non_loopback {
            tracing::warn!(
                target: "scopegate::dev_auth",
                issuer = %issuer,
                "DEVELOPMENT AUTHORIZATION SERVER: allow_non_loopback is on: it answers on every address it is served on, and anyone who reaches it can mint tokens with every scope"
            );
        }
        Ok(Self {
            state: Arc::new(DevState {
                issuer,
                path,
                resource,
                scopes,
                default_scopes,
                unlocks,
                config,
                key,
                kid,
                jwks,
                issuer_host,
                warned_unknown_local: AtomicBool::new(false),
                store: Mutex::new(Store {
                    clients: clients::Clients::default(),
                    pending: HashMap::new(),
                    codes: HashMap::new(),
                    families: refresh::Families::new(),
                }),
            }),
        })
    }

    /// The issuer identifier (give it to [`crate::http::HttpConfig::jwt_issuer`]).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The routes: metadata (RFC 8414 path-inserted, and OpenID discovery), registration,
    /// authorization, consent, token and JWKS. Merge it into the MCP server's router, and serve
    /// it with [`crate::http::serve_on`] or [`crate::http::serve_with`] (or a loop of your own
    /// that inserts [`crate::http::LocalAddr`]): every request without a loopback local
    /// address is refused with 403.
    pub fn router(&self) -> Router {
        let p = &self.state.path;
        // Top-level navigations: no CORS, so no page on another origin can read them.
        let navigations = Router::new()
            .route(&format!("{p}/authorize"), get(authorize))
            .route(&format!("{p}/authorize/decision"), post(decision));
        let public = Router::new()
            .route(
                &format!("/.well-known/oauth-authorization-server{p}"),
                get(metadata_document),
            )
            .route(
                &format!("/.well-known/openid-configuration{p}"),
                get(metadata_document),
            )
            .route(
                &format!("{p}/.well-known/openid-configuration"),
                get(metadata_document),
            )
            .route(&format!("{p}/register"), post(register))
            .route(&format!("{p}/token"), post(token))
            .route(&format!("{p}/jwks"), get(jwks))
            .layer(guard::cors());
        // The guard wraps every route, preflights included.
        public
            .merge(navigations)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state),
                guard::guard,
            ))
            .with_state(Arc::clone(&self.state))
    }
}

impl std::fmt::Debug for DevAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevAuth")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, base64url: codes, refresh tokens, client ids and secrets.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom fails only when the OS has no entropy source at all; nothing can go on then.
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    URL_SAFE_NO_PAD.encode(buf)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl DevState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.issuer)
    }

    /// Validates requested scopes: every one must be a scope of the server.
    fn scopes_for(&self, requested: Option<&str>) -> Result<Vec<String>, String> {
        let requested: Vec<&str> = requested
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if requested.is_empty() {
            return Ok(self.default_scopes.clone());
        }
        let mut scopes = Vec::new();
        for scope in requested {
            if !is_scope_token(scope) || !self.scopes.iter().any(|s| s == scope) {
                return Err(format!("unknown scope `{scope}`"));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        Ok(scopes)
    }

    /// RFC 8707: tokens are only ever issued for the one resource this server protects.
    fn resource_for(&self, requested: Option<&str>) -> Result<String, String> {
        match requested {
            None => Ok(self.resource.clone()),
            Some(r) => match metadata::canonical_resource(r) {
                Ok(r) if r == self.resource => Ok(r),
                _ => Err(format!(
                    "this authorization server issues tokens for {} only",
                    self.resource
                )),
            },
        }
    }
}

fn json_ok(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// An RFC 6749 §5.2 error response.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_ok(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn metadata_document(State(s): State<Arc<DevState>>) -> Response {
    json_ok(
        StatusCode::OK,
        &json!({
            "issuer": s.issuer,
            "authorization_endpoint": s.url("authorize"),
            "token_endpoint": s.url("token"),
            "registration_endpoint": s.url("register"),
            "jwks_uri": s.url("jwks"),
            "scopes_supported": s.scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": false,
        }),
    )
}

async fn jwks(State(s): State<Arc<DevState>>) -> Response {
    let mut response = json_ok(StatusCode::OK, &s.jwks);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}
