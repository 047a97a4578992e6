//! A fake authorization server on 127.0.0.1 for the token exchange client: a token endpoint
//! whose answer each test chooses, which records every request it gets, and RFC 8414 metadata
//! naming it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// One request to the token endpoint: its `Authorization` header and its form.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) authorization: Option<String>,
    pub(crate) form: HashMap<String, String>,
    /// How many times each field came (RFC 8693 allows several `resource`s; we send one).
    pub(crate) counts: HashMap<String, usize>,
}

impl Seen {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }
}

type Answer = dyn Fn(&Seen, &str) -> (StatusCode, Value) + Send + Sync;

struct Inner {
    answer: Box<Answer>,
    delay: Duration,
    seen: Mutex<Vec<Seen>>,
    base: String,
}

/// The fake authorization server.
#[derive(Clone)]
pub(crate) struct Issuer {
    inner: Arc<Inner>,
}

impl Issuer {
    /// Answers every token request with `answer(request, token endpoint URL)`, after `delay`.
    pub(crate) async fn start(
        delay: Duration,
        answer: impl Fn(&Seen, &str) -> (StatusCode, Value) + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Self {
            inner: Arc::new(Inner {
                answer: Box::new(answer),
                delay,
                seen: Mutex::new(Vec::new()),
                base,
            }),
        };
        let app = Router::new()
            .route("/token", post(token))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
    }

    /// Answers every token request at once with a Bearer access token `token`.
    pub(crate) async fn granting(token: String, expires_in: u64) -> Self {
        Self::start(Duration::ZERO, move |_, _| {
            (StatusCode::OK, grant(&token, expires_in))
        })
        .await
    }

    /// Answers every token request with an opaque token, after `delay`.
    pub(crate) async fn granting_after(delay: Duration) -> Self {
        Self::start(delay, |_, _| (StatusCode::OK, grant("opaque", 300))).await
    }

    pub(crate) fn base(&self) -> &str {
        &self.inner.base
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}/token", self.inner.base)
    }

    /// Every request so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    pub(crate) fn requests(&self) -> usize {
        self.inner.seen.lock().unwrap().len()
    }
}

/// A successful RFC 8693 §2.2.1 answer.
pub(crate) fn grant(token: &str, expires_in: u64) -> Value {
    json!({
        "access_token": token,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": "Bearer",
        "expires_in": expires_in,
    })
}

/// An RFC 6749 §5.2 error answer.
pub(crate) fn refusal(code: &str, description: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({ "error": code, "error_description": description }),
    )
}

/// A JWS-shaped token with these claims (the client reads them, never checks the signature).
pub(crate) fn jwt(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(&json!({"alg": "ES256", "typ": "at+jwt"})),
        part(claims),
        URL_SAFE_NO_PAD.encode(b"not a real signature")
    )
}

async fn token(
    State(issuer): State<Issuer>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let mut form = HashMap::new();
    let mut counts = HashMap::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decode(key);
        *counts.entry(key.clone()).or_insert(0) += 1;
        form.insert(key, form_decode(value));
    }
    let seen = Seen {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        form,
        counts,
    };
    issuer.inner.seen.lock().unwrap().push(seen.clone());
    tokio::time::sleep(issuer.inner.delay).await;
    let (status, body) = (issuer.inner.answer)(&seen, &issuer.token_endpoint());
    (status, body.to_string())
}

async fn metadata(State(issuer): State<Issuer>) -> axum::Json<Value> {
    axum::Json(json!({
        "issuer": issuer.base(),
        "token_endpoint": issuer.token_endpoint(),
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:token-exchange"],
    }))
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space, `%XX` a
/// byte.
pub(crate) fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("percent-encoded byte"));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8")
}
