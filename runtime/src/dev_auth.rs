//! A development authorization server, mounted beside the MCP server, so the whole OAuth flow
//! runs on one laptop with no account anywhere. **For development only.**
//!
//! It is spec-correct enough for real clients: RFC 8414 metadata, dynamic client registration
//! (RFC 7591), the authorization code grant with PKCE S256 required (OAuth 2.1), a consent page
//! that lists each requested scope with the tools it unlocks, refresh tokens with rotation (and
//! reuse detection), resource indicators (RFC 8707: `resource` becomes `aud`), and RFC 9068
//! `at+jwt` access tokens signed with an ES256 key generated at start and published as a JWKS.
//!
//! It refuses to start on a non-loopback address unless told to, and says loudly what it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::constant_time_eq;
use crate::metadata;
use crate::scope::is_scope_token;
use crate::server::{Core, McpServer, Server};

/// Settings of the development authorization server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevAuthConfig {
    /// Path under the MCP server's origin where it lives; also the issuer's path (default
    /// `/dev-auth`).
    pub path: String,
    /// Approve every authorization request without showing the consent page (for tests).
    pub auto_approve: bool,
    /// Allow an issuer that is not on a loopback address. Never do this with real users.
    pub allow_non_loopback: bool,
    /// The subject every token is issued to (default `developer`).
    pub subject: String,
    /// Access token lifetime (default 5 min: short, so refresh and expiry get exercised).
    pub access_token_ttl: Duration,
    /// Refresh token lifetime (default 1 h).
    pub refresh_token_ttl: Duration,
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

    /// Permits a non-loopback issuer (development on a shared network, at your own risk).
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
    store: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    clients: HashMap<String, Client>,
    pending: HashMap<String, (AuthRequest, Instant)>,
    codes: HashMap<String, (Grant, Instant)>,
    refresh: HashMap<String, (Grant, Instant, String)>,
    /// Refresh tokens already exchanged, with their family: presenting one again means it was
    /// stolen, and the whole family is revoked (OAuth 2.1 §4.3.1, refresh token rotation).
    used_refresh: HashMap<String, String>,
}

#[derive(Clone)]
struct Client {
    secret: Option<String>,
    redirect_uris: Vec<String>,
    /// Whether it registered the `refresh_token` grant: only then does it get refresh tokens
    /// (a client that cannot refresh re-authorizes, which is how it steps up its scopes).
    refresh: bool,
}

#[derive(Clone)]
struct AuthRequest {
    client_id: String,
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
const CONSENT_TTL: Duration = Duration::from_secs(600);

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
                store: Mutex::new(Store::default()),
            }),
        })
    }

    /// The issuer identifier (give it to [`crate::http::HttpConfig::jwt_issuer`]).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The routes: metadata (RFC 8414 path-inserted, and OpenID discovery), registration,
    /// authorization, consent, token and JWKS. Merge it into the MCP server's router.
    pub fn router(&self) -> Router {
        let p = &self.state.path;
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(|origin, _| {
                origin.to_str().is_ok_and(is_loopback_url)
            }))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .allow_credentials(false);
        Router::new()
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
            .route(&format!("{p}/authorize"), get(authorize))
            .route(&format!("{p}/authorize/decision"), post(decision))
            .route(&format!("{p}/token"), post(token))
            .route(&format!("{p}/jwks"), get(jwks))
            .layer(cors)
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

fn generate_key() -> Result<(EncodingKey, Jwk), DevAuthError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|e| DevAuthError::Key(e.to_string()))?;
    let key = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
        .map_err(|e| DevAuthError::Key(e.to_string()))?;
    jwk.common.key_id = Some(random_token(12));
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok((key, jwk))
}

fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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

    fn access_token(
        &self,
        grant: &Grant,
        scopes: &[String],
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": self.issuer,
            "sub": self.config.subject,
            "aud": grant.resource,
            "client_id": grant.client_id,
            "scope": scopes.join(" "),
            "iat": now,
            "exp": now + self.config.access_token_ttl.as_secs(),
            "jti": random_token(16),
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
    }

    /// Issues an access token for `scopes` (the grant's, or fewer) and a new refresh token of
    /// `family` carrying the grant's full scopes.
    fn tokens(&self, grant: Grant, scopes: Vec<String>, family: String) -> Response {
        let with_refresh = self
            .lock()
            .clients
            .get(&grant.client_id)
            .is_some_and(|c| c.refresh);
        let access = match self.access_token(&grant, &scopes) {
            Ok(token) => token,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                );
            }
        };
        let refresh = random_token(32);
        let scope = scopes.join(" ");
        if with_refresh {
            let mut store = self.lock();
            let now = Instant::now();
            store.refresh.retain(|_, (_, expires, _)| *expires > now);
            if store.refresh.len() < MAX_ENTRIES {
                store.refresh.insert(
                    refresh.clone(),
                    (grant, now + self.config.refresh_token_ttl, family),
                );
            }
        }
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.access_token_ttl.as_secs(),
            "scope": scope,
        });
        if with_refresh {
            body["refresh_token"] = refresh.into();
        }
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body.to_string(),
        )
            .into_response()
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

/// RFC 7591 dynamic client registration.
async fn register(State(s): State<Arc<DevState>>, body: axum::body::Bytes) -> Response {
    let invalid =
        |what: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", what);
    let Ok(Value::Object(metadata)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("the body must be a JSON object");
    };
    let redirect_uris: Vec<String> = match metadata.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => {
            let uris: Option<Vec<String>> =
                uris.iter().map(|u| u.as_str().map(str::to_owned)).collect();
            match uris {
                Some(uris) => uris,
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_redirect_uri",
                        "redirect_uris must be strings",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "redirect_uris is required",
            );
        }
    };
    for uri in &redirect_uris {
        // Loopback http (native and CLI clients) or https; never a fragment (OAuth 2.1 §2.3).
        let ok = url::Url::parse(uri).is_ok_and(|u| {
            u.fragment().is_none()
                && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback_url(uri)))
        });
        if !ok {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                &format!("`{uri}` must be https or http on a loopback host, without a fragment"),
            );
        }
    }
    let method = metadata
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("client_secret_basic")
        .to_owned();
    if !matches!(
        method.as_str(),
        "none" | "client_secret_basic" | "client_secret_post"
    ) {
        return invalid(
            "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
        );
    }
    for (key, allowed) in [
        ("grant_types", &["authorization_code", "refresh_token"][..]),
        ("response_types", &["code"][..]),
    ] {
        if let Some(values) = metadata.get(key) {
            let ok = values.as_array().is_some_and(|v| {
                v.iter()
                    .all(|g| g.as_str().is_some_and(|g| allowed.contains(&g)))
            });
            if !ok {
                return invalid(&format!("{key} may only contain {}", allowed.join(", ")));
            }
        }
    }
    // RFC 7591 §2: `grant_types` defaults to the authorization code grant alone.
    let grant_types: Vec<String> = metadata
        .get("grant_types")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    let client_id = random_token(16);
    let secret = (method != "none").then(|| random_token(32));
    {
        let mut store = s.lock();
        if store.clients.len() >= MAX_ENTRIES {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many registered clients",
            );
        }
        store.clients.insert(
            client_id.clone(),
            Client {
                secret: secret.clone(),
                redirect_uris: redirect_uris.clone(),
                refresh: grant_types.iter().any(|g| g == "refresh_token"),
            },
        );
    }
    let mut out = metadata.clone();
    out.insert("client_id".into(), client_id.into());
    out.insert("client_id_issued_at".into(), unix_now().into());
    out.insert("token_endpoint_auth_method".into(), method.into());
    out.insert("grant_types".into(), json!(grant_types));
    out.insert("response_types".into(), json!(["code"]));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), secret.into());
        out.insert("client_secret_expires_at".into(), 0.into());
    }
    json_ok(StatusCode::CREATED, &Value::Object(out))
}

#[derive(Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
}

/// An error page for requests whose redirect URI cannot be trusted (RFC 6749 §4.1.2.1: never
/// redirect to an unverified URI).
fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Authorization error</title><h1>Authorization error</h1><p>{}</p>",
            escape(message)
        )),
    )
        .into_response()
}

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return error_page("invalid redirect URI"),
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

async fn authorize(
    State(s): State<Arc<DevState>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let Some(client_id) = params.client_id.clone() else {
        return error_page("client_id is required");
    };
    let Some(client) = s.lock().clients.get(&client_id).cloned() else {
        return error_page("unknown client_id: register the client first");
    };
    let redirect_uri = match &params.redirect_uri {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(_) => return error_page("redirect_uri is not registered for this client"),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page("redirect_uri is required"),
    };
    let state = params.state.clone();
    let fail = |error: &str, description: &str| {
        let mut query = vec![
            ("error", error),
            ("error_description", description),
            ("iss", s.issuer.as_str()),
        ];
        if let Some(state) = &state {
            query.push(("state", state));
        }
        redirect_with(&redirect_uri, &query)
    };
    if params.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    // OAuth 2.1: PKCE is required, and only S256 is accepted.
    let challenge = match (
        &params.code_challenge,
        params.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if c.len() == 43 => c.clone(),
        (Some(_), Some("S256")) => {
            return fail(
                "invalid_request",
                "code_challenge must be a base64url SHA-256",
            );
        }
        (None, _) => {
            return fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
        _ => return fail("invalid_request", "code_challenge_method must be S256"),
    };
    let scopes = match s.scopes_for(params.scope.as_deref()) {
        Ok(scopes) => scopes,
        Err(e) => return fail("invalid_scope", &e),
    };
    let resource = match s.resource_for(params.resource.as_deref()) {
        Ok(resource) => resource,
        Err(e) => return fail("invalid_target", &e),
    };
    let request = AuthRequest {
        client_id,
        redirect_uri,
        state,
        challenge,
        scopes,
        resource,
    };
    if s.config.auto_approve {
        return approve(&s, request);
    }
    let id = random_token(24);
    {
        let mut store = s.lock();
        let now = Instant::now();
        store
            .pending
            .retain(|_, (_, t)| now.duration_since(*t) < CONSENT_TTL);
        if store.pending.len() >= MAX_ENTRIES {
            return error_page("too many pending authorization requests");
        }
        store.pending.insert(id.clone(), (request.clone(), now));
    }
    Html(consent_page(&s, &request, &id)).into_response()
}

fn consent_page(s: &DevState, request: &AuthRequest, id: &str) -> String {
    let mut rows = String::new();
    for scope in &request.scopes {
        let tools = s
            .unlocks
            .iter()
            .find(|(name, _)| name == scope)
            .map(|(_, tools)| tools.join(", "))
            .unwrap_or_default();
        let tools = if tools.is_empty() {
            "(no tool on its own)".to_owned()
        } else {
            tools
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            escape(scope),
            escape(&tools)
        ));
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Authorize access</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4rem .8rem;text-align:left}}.warn{{background:#fff3cd;padding:.6rem}}</style></head>
<body><p class="warn"><strong>Development authorization server.</strong> Never use it with real users.</p>
<h1>Authorize access</h1>
<p>A client wants to call <code>{resource}</code> as <strong>{subject}</strong> with these scopes:</p>
<table><tr><th>scope</th><th>tools it unlocks</th></tr>{rows}</table>
<form method="post" action="{action}"><input type="hidden" name="request" value="{id}">
<p><button name="decision" value="approve">Approve</button> <button name="decision" value="deny">Deny</button></p></form>
</body></html>"#,
        resource = escape(&request.resource),
        subject = escape(&s.config.subject),
        action = escape(&s.url("authorize/decision")),
        id = escape(id),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Deserialize)]
struct DecisionForm {
    request: String,
    decision: String,
}

async fn decision(State(s): State<Arc<DevState>>, Form(form): Form<DecisionForm>) -> Response {
    let Some((request, _)) = s.lock().pending.remove(&form.request) else {
        return error_page("this authorization request has expired or was already answered");
    };
    if form.decision == "approve" {
        approve(&s, request)
    } else {
        let mut query = vec![
            ("error", "access_denied"),
            ("error_description", "the user denied the request"),
            ("iss", s.issuer.as_str()),
        ];
        if let Some(state) = &request.state {
            query.push(("state", state));
        }
        redirect_with(&request.redirect_uri, &query)
    }
}

fn approve(s: &DevState, request: AuthRequest) -> Response {
    let code = random_token(32);
    {
        let mut store = s.lock();
        let now = Instant::now();
        store
            .codes
            .retain(|_, (_, t)| now.duration_since(*t) < CODE_TTL);
        if store.codes.len() >= MAX_ENTRIES {
            return error_page("too many outstanding authorization codes");
        }
        store.codes.insert(
            code.clone(),
            (
                Grant {
                    client_id: request.client_id.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    challenge: request.challenge.clone(),
                    scopes: request.scopes.clone(),
                    resource: request.resource.clone(),
                },
                now,
            ),
        );
    }
    // RFC 9207: the `iss` parameter lets the client detect mix-up attacks.
    let mut query = vec![("code", code.as_str()), ("iss", s.issuer.as_str())];
    if let Some(state) = &request.state {
        query.push(("state", state));
    }
    redirect_with(&request.redirect_uri, &query)
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

/// Authenticates the client at the token endpoint: HTTP Basic, form secret, or (public
/// clients) the client id alone.
fn client_of(s: &DevState, headers: &HeaderMap, form: &TokenForm) -> Option<String> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (client_id, secret) = match (basic, &form.client_id) {
        (Some((id, secret)), _) => (id, Some(secret)),
        (None, Some(id)) => (id.clone(), form.client_secret.clone()),
        (None, None) => return None,
    };
    let store = s.lock();
    let client = store.clients.get(&client_id)?;
    match (&client.secret, secret) {
        (None, _) => Some(client_id),
        (Some(expected), Some(given))
            if constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Some(client_id)
        }
        _ => None,
    }
}

async fn token(
    State(s): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(client_id) = client_of(&s, &headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let bad_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some((grant, issued)) = form.code.as_ref().and_then(|c| s.lock().codes.remove(c))
            else {
                return bad_grant("unknown, used or expired authorization code");
            };
            if issued.elapsed() >= CODE_TTL {
                return bad_grant("the authorization code has expired");
            }
            if grant.client_id != client_id {
                return bad_grant("the code was issued to another client");
            }
            if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                return bad_grant("redirect_uri does not match the authorization request");
            }
            let Some(verifier) = &form.code_verifier else {
                return bad_grant("code_verifier is required (PKCE)");
            };
            if !pkce_ok(verifier, &grant.challenge) {
                return bad_grant("code_verifier does not match the code_challenge");
            }
            if let Some(resource) = &form.resource
                && s.resource_for(Some(resource)).ok().as_deref() != Some(grant.resource.as_str())
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the authorization request",
                );
            }
            let scopes = grant.scopes.clone();
            s.tokens(grant, scopes, random_token(16))
        }
        Some("refresh_token") => {
            let Some(presented) = &form.refresh_token else {
                return bad_grant("refresh_token is required");
            };
            let entry = {
                let mut store = s.lock();
                if let Some(family) = store.used_refresh.get(presented).cloned() {
                    // Replay of a rotated token: someone else has a copy. Revoke the family.
                    store.refresh.retain(|_, (_, _, f)| *f != family);
                    return bad_grant(
                        "this refresh token was already used; its successors are revoked",
                    );
                }
                store.refresh.get(presented).cloned()
            };
            let Some((grant, expires, family)) = entry else {
                return bad_grant("unknown or expired refresh token");
            };
            if expires <= Instant::now() {
                return bad_grant("the refresh token has expired");
            }
            if grant.client_id != client_id {
                return bad_grant("the refresh token was issued to another client");
            }
            // A refresh may narrow the access token's scopes, never widen them; the new refresh
            // token keeps the original ones (RFC 6749 §6).
            let scopes = match &form.scope {
                None => grant.scopes.clone(),
                Some(scope) => match s.scopes_for(Some(scope)) {
                    Ok(scopes) if scopes.iter().all(|x| grant.scopes.contains(x)) => scopes,
                    _ => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "a refresh cannot add scopes",
                        );
                    }
                },
            };
            if let Some(resource) = &form.resource
                && s.resource_for(Some(resource)).ok().as_deref() != Some(grant.resource.as_str())
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the original grant",
                );
            }
            // Rotation: the presented token is spent (only one concurrent use wins), and a new
            // one of the same family replaces it.
            {
                let mut store = s.lock();
                if store.refresh.remove(presented).is_none() {
                    return bad_grant("unknown or expired refresh token");
                }
                if store.used_refresh.len() >= MAX_ENTRIES {
                    store.used_refresh.clear();
                }
                store.used_refresh.insert(presented.clone(), family.clone());
            }
            s.tokens(grant, scopes, family)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// RFC 7636 §4.6 with S256: BASE64URL(SHA256(verifier)) == challenge; the verifier is 43–128
/// unreserved characters.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    constant_time_eq(
        URL_SAFE_NO_PAD.encode(digest.as_ref()).as_bytes(),
        challenge.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_checks_the_verifier_against_the_challenge() {
        // Challenge computed independently (Python hashlib + base64.urlsafe_b64encode).
        let verifier = "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Ck";
        let challenge = "kkW_ZCh3g8Pxxy8pvrI-Rq5Lf9STUO5Ayb7Nx0V9azU";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(
            "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Cs",
            challenge
        ));
        assert!(!pkce_ok("too-short", challenge));
        assert!(
            !pkce_ok(&format!("{verifier}!"), challenge),
            "characters outside the unreserved set"
        );
        assert!(!pkce_ok(&"a".repeat(129), challenge));
    }

    #[test]
    fn loopback_detection() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:3000/x",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "https://example.com",
            "http://localhost.example.com",
            "nonsense",
        ] {
            assert!(!is_loopback_url(bad), "{bad}");
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
