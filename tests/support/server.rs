//! A local test authorization server: RFC 8414 / OIDC discovery metadata and a JWKS, with knobs
//! for rotation and failure modes, on `127.0.0.1:<ephemeral>`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{TestKey, TokenBuilder, jwk_set};

/// Size of the [`JwksMode::Oversized`] body.
pub const OVERSIZED_BODY_LEN: usize = 5 * 1024 * 1024;

/// `Cache-Control: max-age` of the JWKS unless changed.
pub const DEFAULT_CACHE_MAX_AGE: u64 = 300;

/// Path of the JWK set.
pub const JWKS_PATH: &str = "/jwks";

/// How the JWKS (or, with [`KeyServer::set_metadata_mode`], the metadata) is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksMode {
    /// 200, `application/json`, the document.
    Normal,
    /// 503.
    Down,
    /// 200, `text/html`, a login page.
    Html,
    /// 200, `application/json`, JSON that is not a JWK set (nor metadata).
    Garbage,
    /// 200, `{"keys":[]}` (metadata: `{}`).
    Empty,
    /// 200, `application/json`, the document padded to [`OVERSIZED_BODY_LEN`] bytes.
    Oversized,
    /// Waits, then answers as `Normal`.
    Slow(Duration),
}

/// The discovery locations a [`KeyServer`] can answer (RFC 8414 3.1, OIDC Discovery 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetadataEndpoint {
    /// `/.well-known/oauth-authorization-server{path}`
    OAuth,
    /// `/.well-known/openid-configuration{path}`
    OpenId,
    /// `{path}/.well-known/openid-configuration` (only for an issuer with a path)
    OpenIdPathAppended,
}

struct Config {
    keys: Vec<TestKey>,
    raw_jwks: Option<Value>,
    raw_metadata: Option<Value>,
    jwks_mode: JwksMode,
    metadata_mode: JwksMode,
    cache_max_age: u64,
    issuer_override: Option<String>,
    serve_oauth: bool,
    serve_openid: bool,
    serve_openid_path_appended: bool,
}

struct Shared {
    /// `http://127.0.0.1:PORT`
    base: String,
    /// `""` or `"/tenant"`
    issuer_path: String,
    config: Mutex<Config>,
    jwks_fetches: AtomicUsize,
    metadata_fetches: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

impl Shared {
    fn config(&self) -> MutexGuard<'_, Config> {
        self.config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn issuer(&self) -> String {
        format!("{}{}", self.base, self.issuer_path)
    }

    fn endpoint(&self, path: &str) -> Option<MetadataEndpoint> {
        let p = &self.issuer_path;
        if path == format!("/.well-known/oauth-authorization-server{p}") {
            Some(MetadataEndpoint::OAuth)
        } else if path == format!("/.well-known/openid-configuration{p}") {
            Some(MetadataEndpoint::OpenId)
        } else if !p.is_empty() && path == format!("{p}/.well-known/openid-configuration") {
            Some(MetadataEndpoint::OpenIdPathAppended)
        } else {
            None
        }
    }

    fn metadata(&self, config: &Config) -> Value {
        if let Some(raw) = &config.raw_metadata {
            return raw.clone();
        }
        let base = &self.base;
        json!({
            "issuer": config.issuer_override.clone().unwrap_or_else(|| self.issuer()),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        })
    }
}

/// Configures a [`KeyServer`] before it starts.
#[derive(Debug)]
pub struct KeyServerBuilder {
    issuer_path: String,
    keys: Vec<TestKey>,
    cache_max_age: u64,
    serve_oauth: bool,
    serve_openid: bool,
    serve_openid_path_appended: bool,
}

impl Default for KeyServerBuilder {
    fn default() -> Self {
        Self {
            issuer_path: String::new(),
            keys: vec![TestKey::rsa_a()],
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            serve_oauth: true,
            serve_openid: true,
            serve_openid_path_appended: false,
        }
    }
}

impl KeyServerBuilder {
    /// Issuer `http://127.0.0.1:PORT/<path>` (`"tenant"` or `"/tenant"`); metadata moves to the
    /// path-inserted locations `/.well-known/oauth-authorization-server/tenant` and
    /// `/.well-known/openid-configuration/tenant`.
    pub fn issuer_path(mut self, path: &str) -> Self {
        let path = path.trim_matches('/');
        self.issuer_path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        self
    }

    /// Initial keys (default: `[TestKey::rsa_a()]`).
    pub fn keys(mut self, keys: Vec<TestKey>) -> Self {
        self.keys = keys;
        self
    }

    /// Initial JWKS `max-age` (default [`DEFAULT_CACHE_MAX_AGE`]).
    pub fn cache_max_age(mut self, seconds: u64) -> Self {
        self.cache_max_age = seconds;
        self
    }

    /// Answer `/.well-known/oauth-authorization-server{path}` (default on).
    pub fn serve_oauth_metadata(mut self, on: bool) -> Self {
        self.serve_oauth = on;
        self
    }

    /// Answer `/.well-known/openid-configuration{path}` (default on).
    pub fn serve_openid_configuration(mut self, on: bool) -> Self {
        self.serve_openid = on;
        self
    }

    /// Also answer `{path}/.well-known/openid-configuration` for a path issuer (default off).
    pub fn serve_openid_path_appended(mut self, on: bool) -> Self {
        self.serve_openid_path_appended = on;
        self
    }

    /// Binds `127.0.0.1:0` and serves in a background task of the current tokio runtime.
    pub async fn start(self) -> KeyServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            base: format!("http://{addr}"),
            issuer_path: self.issuer_path,
            config: Mutex::new(Config {
                keys: self.keys,
                raw_jwks: None,
                raw_metadata: None,
                jwks_mode: JwksMode::Normal,
                metadata_mode: JwksMode::Normal,
                cache_max_age: self.cache_max_age,
                issuer_override: None,
                serve_oauth: self.serve_oauth,
                serve_openid: self.serve_openid,
                serve_openid_path_appended: self.serve_openid_path_appended,
            }),
            jwks_fetches: AtomicUsize::new(0),
            metadata_fetches: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await;
        });
        KeyServer {
            shared,
            addr,
            shutdown: Some(shutdown_tx),
            task: Some(task),
        }
    }
}

/// A running test authorization server. Stops on [`KeyServer::stop`] or drop.
///
/// It runs on the test's tokio runtime: with `#[tokio::test]` (current-thread), it only answers
/// while the test is awaiting, so never block the thread while a client talks to it.
pub struct KeyServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl KeyServer {
    pub fn builder() -> KeyServerBuilder {
        KeyServerBuilder::default()
    }

    /// Issuer `http://127.0.0.1:PORT`, keys `[TestKey::rsa_a()]`.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Issuer `http://127.0.0.1:PORT/<path>`, keys `[TestKey::rsa_a()]`.
    pub async fn start_with_issuer_path(path: &str) -> Self {
        Self::builder().issuer_path(path).start().await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base)
    }

    /// The real issuer (what tokens carry), whatever [`KeyServer::set_issuer_override`] says.
    pub fn issuer(&self) -> String {
        self.shared.issuer()
    }

    pub fn jwks_uri(&self) -> String {
        self.url(JWKS_PATH)
    }

    /// RFC 8414 location: `/.well-known/oauth-authorization-server{issuer path}`.
    pub fn oauth_metadata_url(&self) -> String {
        self.url(&format!(
            "/.well-known/oauth-authorization-server{}",
            self.shared.issuer_path
        ))
    }

    /// OIDC location, path-inserted form: `/.well-known/openid-configuration{issuer path}`.
    pub fn openid_configuration_url(&self) -> String {
        self.url(&format!(
            "/.well-known/openid-configuration{}",
            self.shared.issuer_path
        ))
    }

    /// GET requests to the JWKS, whatever the answer.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// GET requests to any metadata location, answered or not (a disabled one answers 404).
    pub fn metadata_fetches(&self) -> usize {
        self.shared.metadata_fetches.load(Ordering::SeqCst)
    }

    /// Every request so far as `"METHOD /path"`, in arrival order (query strings dropped).
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Zeroes the fetch counters and the request log.
    pub fn reset_counters(&self) {
        self.shared.jwks_fetches.store(0, Ordering::SeqCst);
        self.shared.metadata_fetches.store(0, Ordering::SeqCst);
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// The keys currently published.
    pub fn keys(&self) -> Vec<TestKey> {
        self.shared.config().keys.clone()
    }

    /// Publishes `keys` from the next request on (rotation).
    pub fn set_keys(&self, keys: Vec<TestKey>) {
        self.shared.config().keys = keys;
    }

    /// Serves `jwks` verbatim instead of the keys' set (`None` goes back to the keys).
    pub fn set_raw_jwks(&self, jwks: Option<Value>) {
        self.shared.config().raw_jwks = jwks;
    }

    /// Serves `metadata` verbatim instead of the generated document (`None` goes back).
    pub fn set_raw_metadata(&self, metadata: Option<Value>) {
        self.shared.config().raw_metadata = metadata;
    }

    pub fn set_mode(&self, mode: JwksMode) {
        self.shared.config().jwks_mode = mode;
    }

    /// Same modes, for the metadata documents.
    pub fn set_metadata_mode(&self, mode: JwksMode) {
        self.shared.config().metadata_mode = mode;
    }

    /// `Cache-Control: max-age=<seconds>` on JWKS answers.
    pub fn set_cache_max_age(&self, seconds: u64) {
        self.shared.config().cache_max_age = seconds;
    }

    /// The metadata `issuer` claims `issuer` instead of the real one (`None` restores it).
    pub fn set_issuer_override(&self, issuer: Option<String>) {
        self.shared.config().issuer_override = issuer;
    }

    pub fn set_serve_oauth_metadata(&self, on: bool) {
        self.shared.config().serve_oauth = on;
    }

    pub fn set_serve_openid_configuration(&self, on: bool) {
        self.shared.config().serve_openid = on;
    }

    pub fn set_serve_openid_path_appended(&self, on: bool) {
        self.shared.config().serve_openid_path_appended = on;
    }

    /// The metadata document as it is served right now.
    pub fn metadata(&self) -> Value {
        let config = self.shared.config();
        self.shared.metadata(&config)
    }

    /// A token from this issuer signed by the first published key.
    pub fn token(&self, audience: impl Into<String>, scope: impl Into<String>) -> TokenBuilder {
        let key = self
            .shared
            .config()
            .keys
            .first()
            .cloned()
            .expect("the key server publishes no key; use token_with_key");
        self.token_with_key(&key, audience, scope)
    }

    /// A token from this issuer signed by `key` (published or not).
    pub fn token_with_key(
        &self,
        key: &TestKey,
        audience: impl Into<String>,
        scope: impl Into<String>,
    ) -> TokenBuilder {
        TokenBuilder::new(key, self.issuer(), audience, scope)
    }

    /// Stops accepting, closes idle connections, and waits (up to 5 s) for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl std::fmt::Debug for KeyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyServer")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    shared
        .requests
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(format!("{method} {path}"));

    if path == JWKS_PATH {
        if method != Method::GET {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        let (mode, document, max_age) = {
            let config = shared.config();
            let document = match &config.raw_jwks {
                Some(raw) => raw.clone(),
                None => jwk_set(&config.keys),
            };
            (config.jwks_mode, document, config.cache_max_age)
        };
        return answer(mode, document, Some(max_age), Document::Jwks).await;
    }

    if let Some(endpoint) = shared.endpoint(path) {
        if method != Method::GET {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        shared.metadata_fetches.fetch_add(1, Ordering::SeqCst);
        let (mode, document) = {
            let config = shared.config();
            let served = match endpoint {
                MetadataEndpoint::OAuth => config.serve_oauth,
                MetadataEndpoint::OpenId => config.serve_openid,
                MetadataEndpoint::OpenIdPathAppended => config.serve_openid_path_appended,
            };
            if !served {
                return StatusCode::NOT_FOUND.into_response();
            }
            (config.metadata_mode, shared.metadata(&config))
        };
        return answer(mode, document, None, Document::Metadata).await;
    }

    StatusCode::NOT_FOUND.into_response()
}

#[derive(Clone, Copy)]
enum Document {
    Jwks,
    Metadata,
}

const HTML: &str = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
<body><h1>Sign in to continue</h1><form method=\"post\"><input name=\"user\"></form></body></html>\n";

async fn answer(mode: JwksMode, document: Value, max_age: Option<u64>, kind: Document) -> Response {
    const JSON: &str = "application/json";
    match mode {
        JwksMode::Normal => body(StatusCode::OK, JSON, document.to_string(), max_age),
        JwksMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            body(StatusCode::OK, JSON, document.to_string(), max_age)
        }
        JwksMode::Down => body(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "service unavailable\n".to_owned(),
            None,
        ),
        JwksMode::Html => body(
            StatusCode::OK,
            "text/html; charset=utf-8",
            HTML.to_owned(),
            max_age,
        ),
        JwksMode::Garbage => {
            let garbage = match kind {
                Document::Jwks => json!({ "keys": "not-an-array", "hello": ["world"] }),
                Document::Metadata => json!(["not", "metadata"]),
            };
            body(StatusCode::OK, JSON, garbage.to_string(), max_age)
        }
        JwksMode::Empty => {
            let empty = match kind {
                Document::Jwks => json!({ "keys": [] }),
                Document::Metadata => json!({}),
            };
            body(StatusCode::OK, JSON, empty.to_string(), max_age)
        }
        JwksMode::Oversized => body(StatusCode::OK, JSON, oversized(document), max_age),
    }
}

/// `document` with a `"padding"` member making the body exactly [`OVERSIZED_BODY_LEN`] bytes, so
/// it is still a valid document for a client that reads it all.
fn oversized(document: Value) -> String {
    let mut object = match document {
        Value::Object(object) => object,
        other => [("document".to_owned(), other)].into_iter().collect(),
    };
    object.insert("padding".to_owned(), json!(""));
    let len = Value::Object(object.clone()).to_string().len();
    let padding = "x".repeat(OVERSIZED_BODY_LEN.saturating_sub(len));
    object.insert("padding".to_owned(), json!(padding));
    Value::Object(object).to_string()
}

fn body(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    max_age: Option<u64>,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(seconds) = max_age {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("max-age={seconds}")).expect("header value"),
        );
    }
    response
}
