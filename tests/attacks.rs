//! A table-driven attack suite against the Streamable HTTP transport as an OAuth 2.1 protected
//! resource: every item of `INTEROP.md`'s attack list and more, over real HTTP on 127.0.0.1,
//! against a local authorization server ([`support::KeyServer`]).
//!
//! Every case asserts
//! (a) the HTTP status,
//! (b) the `WWW-Authenticate` challenge (`error` code and `resource_metadata`) where one is due,
//! (c) that no tool ran (tool runs are counted through a `State<Runs>` counter), and
//! (d) that the refusal was audited: a `tracing` event on target `scopegate::auth` with the
//!     stable `event` field (`token_rejected` with `reason`, `token_missing`, `scope_denied` with
//!     `tool` and `missing`), or on `scopegate::http` for transport refusals (`origin_rejected`,
//!     `host_rejected`). Refusals after authentication that are not about authorization (a
//!     session of another principal, a batch, a body too large, a wrong content type) have no
//!     event of their own yet: those cases assert that the token was accepted and that no
//!     authentication refusal was logged.
//!
//! The per-request refusal events are at DEBUG (INFO holds `refusals_summary` lines: see the
//! log-flood section), so the capture layer has no level filter.
//!
//! Events are captured by a `tracing_subscriber` layer installed as the thread's default
//! subscriber, so every test runs on a current-thread runtime: the servers under test run on the
//! test's thread and their events reach the layer.
//!
//! A table does not stop at its first failing case: each test collects every failure, with the
//! request's answer and the events it produced, and fails once at the end listing them all.

#[path = "support/files.rs"]
mod files;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use files::{Files, Runs};
use jsonwebtoken::Algorithm;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use scopegate::auth::{JwtConfig, JwtVerifier};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};
use support::{JwksMode, KeyServer, TestKey, TokenBuilder, b64url, now};

// ---- the server under attack ---------------------------------------------------------------

// The server under attack is `files` (tests/support/files.rs).

// ---- audit capture -----------------------------------------------------------------------

/// One captured `tracing` event: its target and fields.
#[derive(Debug, Clone)]
struct Event {
    target: String,
    fields: BTreeMap<String, String>,
}

impl Event {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn is(&self, target: &str, event: &str) -> bool {
        self.target == target && self.field("event") == Some(event)
    }
}

/// Records every event whose target starts with `scopegate`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Event>>>);

impl Capture {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn since(&self, mark: usize) -> Vec<Event> {
        self.0.lock().unwrap()[mark..].to_vec()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let target = event.metadata().target();
        if target.starts_with("scopegate") {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(Event {
                target: target.to_owned(),
                fields,
            });
        }
    }
}

/// Installs a capturing subscriber for this thread (the test's current-thread runtime).
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let capture = Capture::default();
    let guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    (capture, guard)
}

const AUTH: &str = "scopegate::auth";
const HTTP: &str = "scopegate::http";

// ---- harness -------------------------------------------------------------------------------

/// A running MCP server on 127.0.0.1 plus the key server it trusts.
struct Harness {
    keys: KeyServer,
    base: String,
    resource: String,
    runs: Runs,
    client: reqwest::Client,
    capture: Capture,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn challenge(&self) -> Option<&str> {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("<not visible ASCII>"))
    }

    fn session(&self) -> Option<String> {
        self.headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// Starts the files server trusting `keys`, with `jwt` and `http` applied to the default
/// `JwtConfig::new(issuer, resource)` and `HttpConfig::new(resource)`.
async fn harness(
    keys: KeyServer,
    capture: &Capture,
    jwt: impl FnOnce(JwtConfig) -> JwtConfig,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let config =
        http(HttpConfig::new(&resource).jwt(jwt(JwtConfig::new(keys.issuer(), &resource))));
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    }
}

/// The files server with every default, trusting a fresh key server.
async fn default_harness(capture: &Capture) -> Harness {
    harness(KeyServer::start().await, capture, |j| j, |c| c).await
}

fn call_body(tool: &str) -> Value {
    let args = if tool == "read_file" || tool == "write_file" {
        json!({"path": "secret.txt"})
    } else {
        json!({})
    };
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}})
}

impl Harness {
    fn token(&self, scope: &str) -> TokenBuilder {
        self.keys.token(&self.resource, scope)
    }

    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    fn runs(&self) -> usize {
        self.runs.count()
    }

    /// Sends and reads the whole answer; `None` if that takes longer than 15 s (a hang).
    async fn try_send(&self, request: RequestBuilder) -> Option<Reply> {
        tokio::time::timeout(Duration::from_secs(15), async {
            let response = request.send().await.expect("the request is sent");
            let status = response.status();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            Reply {
                status,
                headers,
                body,
            }
        })
        .await
        .ok()
    }

    async fn send(&self, request: RequestBuilder) -> Reply {
        self.try_send(request).await.expect("an answer within 15 s")
    }

    /// A POST of `body` to the MCP endpoint with the usual headers, and `Authorization: Bearer`
    /// and `Mcp-Session-Id` when given.
    fn post(&self, token: Option<&str>, session: Option<&str>, body: &Value) -> RequestBuilder {
        let mut request = self.bare_post(session).body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request
    }

    /// A POST with content type, accept and session headers but no body and no credentials.
    fn bare_post(&self, session: Option<&str>) -> RequestBuilder {
        let mut request = self
            .client
            .post(&self.resource)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    }

    /// A `tools/call` of `tool` with `token` on `session`.
    fn call(&self, token: &str, session: &str, tool: &str) -> RequestBuilder {
        self.post(Some(token), Some(session), &call_body(tool))
    }

    /// A 2026-07-28 `tools/call` (no session) whose `Mcp-Name` header says `header_name` and
    /// whose body calls `tool`.
    fn modern_call(&self, token: &str, tool: &str, header_name: &str) -> RequestBuilder {
        let mut body = call_body(tool);
        body["params"]["_meta"] = support::modern_meta();
        self.post(Some(token), None, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", header_name)
    }

    /// Initializes a session with `token`; returns the session id.
    async fn initialize(&self, token: &str) -> String {
        let r = self
            .send(self.post(
                Some(token),
                None,
                &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "initialize: {:?}", r.body);
        r.session().expect("initialize issues a session id")
    }
}

fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(&challenge[start..end])
}

// ---- cases ---------------------------------------------------------------------------------

/// What a case must produce.
#[derive(Debug, Clone)]
enum Expect {
    /// 401 `error="invalid_token"`; `token_rejected` with one of these `reason`s.
    InvalidToken(&'static [&'static str]),
    /// 400 `error="invalid_request"`; `token_rejected` with `reason="invalid_request"`.
    InvalidRequest,
    /// 401 with a challenge but no `error` code (no credentials); `token_missing`.
    Missing,
    /// 403 `error="insufficient_scope"` whose `scope` holds the missing scopes; `scope_denied`
    /// naming `tool` and `missing` (space-separated, any order).
    ScopeDenied {
        tool: &'static str,
        missing: &'static str,
    },
    /// A refusal outside authentication (transport, protocol, session): this status, no
    /// challenge, no authentication refusal, and `audit` in the events.
    Refused { status: StatusCode, audit: Audit },
    /// A control: 200, the tool ran exactly once, `token_accepted`, no refusal event.
    Accepted,
}

/// The event a non-authentication refusal must leave.
#[derive(Debug, Clone, Copy)]
enum Audit {
    /// An event `event` on target `scopegate::http` (Origin / Host checks), and no
    /// authentication at all (the request was refused before it).
    Http(&'static str),
    /// The token was accepted (`token_accepted`), and no authentication refusal was logged:
    /// the transport or the session layer refused the request after authentication.
    TokenAccepted,
}

const ALGORITHM: &[&str] = &["algorithm"];
const MALFORMED: &[&str] = &["malformed"];
const UNKNOWN_KEY: &[&str] = &["unknown_key"];
const SIGNATURE: &[&str] = &["signature"];
const MALFORMED_OR_SIGNATURE: &[&str] = &["malformed", "signature"];
const CRITICAL: &[&str] = &["critical_header"];
const TYPE: &[&str] = &["type"];
const EXPIRED: &[&str] = &["expired"];
const EXPIRED_OR_CLAIMS: &[&str] = &["expired", "claims"];
const NOT_YET_VALID: &[&str] = &["not_yet_valid"];
const ISSUER: &[&str] = &["issuer"];
const ISSUER_OR_CLAIMS: &[&str] = &["issuer", "claims"];
const AUDIENCE: &[&str] = &["audience"];
const AUDIENCE_OR_CLAIMS: &[&str] = &["audience", "claims"];
const CLAIMS: &[&str] = &["claims"];
const UNAVAILABLE: &[&str] = &["unavailable"];

struct Case {
    name: String,
    request: RequestBuilder,
    expect: Expect,
}

fn case(name: impl Into<String>, request: RequestBuilder, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

fn is_refusal(e: &Event) -> bool {
    e.target == AUTH
        && matches!(
            e.field("event"),
            Some("token_rejected" | "token_missing" | "scope_denied")
        )
}

/// Runs one case; returns what went wrong (empty when the case passed).
async fn check(h: &Harness, case: Case) -> Vec<String> {
    let runs_before = h.runs();
    let mark = h.capture.len();
    let started = Instant::now();
    let Some(r) = h.try_send(case.request).await else {
        return vec![format!(
            "[{}] no answer within 15 s (a hang); expected {:?}",
            case.name, case.expect
        )];
    };
    let elapsed = started.elapsed();
    let events = h.capture.since(mark);
    let ran = h.runs() - runs_before;
    let mut problems = Vec::new();
    let metadata_url = h.metadata_url();
    let challenge = r.challenge();
    let any = |target: &str, event: &str| events.iter().any(|e| e.is(target, event));
    let want_status = |status: StatusCode, problems: &mut Vec<String>| {
        if r.status != status {
            problems.push(format!("status {} (expected {status})", r.status));
        }
    };
    let want_challenge = |error: Option<&str>, problems: &mut Vec<String>| match challenge {
        None => problems.push("no WWW-Authenticate challenge".to_owned()),
        Some(c) => {
            if !c.starts_with("Bearer") {
                problems.push(format!("challenge not Bearer: {c}"));
            }
            if param(c, "error") != error {
                problems.push(format!(
                    "challenge error {:?} (expected {error:?})",
                    param(c, "error")
                ));
            }
            if param(c, "resource_metadata") != Some(metadata_url.as_str()) {
                problems.push(format!(
                    "challenge resource_metadata {:?} (expected {metadata_url})",
                    param(c, "resource_metadata")
                ));
            }
        }
    };
    let no_accept = |problems: &mut Vec<String>| {
        if any(AUTH, "token_accepted") {
            problems.push("a token_accepted event was logged".to_owned());
        }
    };
    match &case.expect {
        Expect::InvalidToken(reasons) => {
            want_status(StatusCode::UNAUTHORIZED, &mut problems);
            want_challenge(Some("invalid_token"), &mut problems);
            let logged: Vec<&str> = events
                .iter()
                .filter(|e| e.is(AUTH, "token_rejected"))
                .filter_map(|e| e.field("reason"))
                .collect();
            if !logged.iter().any(|r| reasons.contains(r)) {
                problems.push(format!(
                    "audit: token_rejected reasons {logged:?} (expected one of {reasons:?})"
                ));
            }
            no_accept(&mut problems);
        }
        Expect::InvalidRequest => {
            want_status(StatusCode::BAD_REQUEST, &mut problems);
            want_challenge(Some("invalid_request"), &mut problems);
            if !events.iter().any(|e| {
                e.is(AUTH, "token_rejected") && e.field("reason") == Some("invalid_request")
            }) {
                problems.push("audit: no token_rejected with reason invalid_request".to_owned());
            }
            no_accept(&mut problems);
        }
        Expect::Missing => {
            want_status(StatusCode::UNAUTHORIZED, &mut problems);
            want_challenge(None, &mut problems);
            if !any(AUTH, "token_missing") {
                problems.push("audit: no token_missing event".to_owned());
            }
            no_accept(&mut problems);
        }
        Expect::ScopeDenied { tool, missing } => {
            want_status(StatusCode::FORBIDDEN, &mut problems);
            want_challenge(Some("insufficient_scope"), &mut problems);
            if let Some(scope) = challenge.and_then(|c| param(c, "scope")) {
                let held: Vec<&str> = scope.split(' ').collect();
                for m in missing.split(' ') {
                    if !held.contains(&m) {
                        problems.push(format!("challenge scope {scope:?} lacks {m}"));
                    }
                }
            } else {
                problems.push("challenge has no scope".to_owned());
            }
            if !events.iter().any(|e| {
                e.is(AUTH, "scope_denied")
                    && e.field("tool") == Some(*tool)
                    && e.field("missing").is_some_and(|m| same_scopes(m, missing))
            }) {
                problems.push(format!(
                    "audit: no scope_denied with tool={tool} missing={missing:?}"
                ));
            }
        }
        Expect::Refused { status, audit } => {
            want_status(*status, &mut problems);
            if let Some(c) = challenge {
                problems.push(format!("unexpected challenge {c}"));
            }
            if let Some(e) = events.iter().find(|e| is_refusal(e)) {
                problems.push(format!("unexpected authentication refusal {:?}", e.fields));
            }
            match audit {
                Audit::Http(event) => {
                    if !any(HTTP, event) {
                        problems.push(format!("audit: no {event} event on {HTTP}"));
                    }
                    no_accept(&mut problems);
                }
                Audit::TokenAccepted => {
                    if !any(AUTH, "token_accepted") {
                        problems.push("audit: the token was not accepted".to_owned());
                    }
                }
            }
        }
        Expect::Accepted => {
            want_status(StatusCode::OK, &mut problems);
            if ran != 1 {
                problems.push(format!("{ran} tool runs (expected 1)"));
            }
            if r.body.get("error").is_some() || r.body["result"]["isError"] == true {
                problems.push("the call failed".to_owned());
            }
            if !any(AUTH, "token_accepted") {
                problems.push("audit: no token_accepted".to_owned());
            }
            if let Some(e) = events.iter().find(|e| is_refusal(e)) {
                problems.push(format!("unexpected refusal event {:?}", e.fields));
            }
        }
    }
    if !matches!(case.expect, Expect::Accepted) && ran != 0 {
        problems.push(format!("{ran} tool run(s): a tool ran"));
    }
    if problems.is_empty() {
        return Vec::new();
    }
    let events: Vec<String> = events
        .iter()
        .map(|e| format!("{} {:?}", e.target, e.fields))
        .collect();
    vec![format!(
        "[{}] {}\n    answer: {} in {elapsed:?}, challenge {:?}, body {}\n    events: {events:?}",
        case.name,
        problems.join("; "),
        r.status,
        challenge,
        truncate(&r.body.to_string()),
    )]
}

/// Whether two space-separated scope lists hold the same scopes, in any order.
fn same_scopes(a: &str, b: &str) -> bool {
    let mut a: Vec<&str> = a.split(' ').filter(|s| !s.is_empty()).collect();
    let mut b: Vec<&str> = b.split(' ').filter(|s| !s.is_empty()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn truncate(text: &str) -> String {
    if text.len() <= 300 {
        text.to_owned()
    } else {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

/// Runs every case of a table, collecting failures.
async fn run(h: &Harness, cases: Vec<Case>, failures: &mut Vec<String>) -> usize {
    let count = cases.len();
    for case in cases {
        failures.extend(check(h, case).await);
    }
    count
}

fn assert_no_failures(table: &str, count: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{table}: {} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- token surgery -------------------------------------------------------------------------

/// `base64url(header).base64url(payload)` signed by `signer` (bytes as given: duplicated members,
/// invalid UTF-8, anything).
fn raw_token(signer: &TestKey, header: &[u8], payload: &[u8]) -> String {
    sign_message(signer, &format!("{}.{}", b64url(header), b64url(payload)))
}

fn sign_message(signer: &TestKey, message: &str) -> String {
    format!("{message}.{}", signer.sign(message.as_bytes()))
}

/// The token with `insert` put in the middle of segment `index`; the header and payload are
/// re-signed so the encoding is the only defect.
fn corrupt_segment(signer: &TestKey, token: &str, index: usize, insert: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let middle = parts[index].len() / 2;
    parts[index].insert_str(middle, insert);
    if index < 2 {
        sign_message(signer, &format!("{}.{}", parts[0], parts[1]))
    } else {
        parts.join(".")
    }
}

fn header_json(builder: &TokenBuilder) -> Vec<u8> {
    serde_json::to_vec(&builder.header_json()).unwrap()
}

fn claims_json(builder: &TokenBuilder) -> Vec<u8> {
    serde_json::to_vec(&builder.claims_json()).unwrap()
}

/// `{"a":1}` → `{"a":1,<extra>}`: appends members to a JSON object's text (duplicates allowed).
fn with_members(json: &[u8], extra: &str) -> Vec<u8> {
    let text = std::str::from_utf8(json).unwrap();
    let text = text.strip_suffix('}').unwrap();
    format!("{text},{extra}}}").into_bytes()
}

// ---- 1. forged, tampered and misdirected tokens --------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn forged_tampered_and_misdirected_tokens_are_refused_and_audited() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let rsa_a = TestKey::rsa_a();
    let ec = TestKey::ec_p256();
    let ed = TestKey::ed25519();
    let enc_key = TestKey::rsa_b().with_kid("enc-key").with_use("enc");
    let short_key = TestKey::rsa_1024().with_kid("short-key");
    let attacker = TestKey::rsa_b().with_kid("attacker");
    // Published before the first fetch: only rsa-a and ec-p256 are usable.
    h.keys.set_keys(vec![
        rsa_a.clone(),
        ec.clone(),
        enc_key.clone(),
        short_key.clone(),
    ]);
    // An attacker's key server that jku/x5u point at: it must never be contacted.
    let evil = KeyServer::builder()
        .keys(vec![attacker.clone()])
        .start()
        .await;

    let session = h.initialize(&h.token("files:read").build()).await;
    let t = || h.token("files:read");
    let issuer = h.keys.issuer();
    let mut tokens: Vec<(&str, String, &'static [&'static str])> = vec![
        // alg none and algorithm confusion
        ("alg none", t().alg_none(), ALGORITHM),
        ("alg None", t().unsigned_with_alg("None"), ALGORITHM),
        ("alg NONE", t().unsigned_with_alg("NONE"), ALGORITHM),
        ("alg nOnE", t().unsigned_with_alg("nOnE"), ALGORITHM),
        (
            "alg none with a valid RS256 signature kept",
            t().header("alg", "none").build(),
            ALGORITHM,
        ),
        (
            "alg header missing",
            raw_token(
                &rsa_a,
                &header_json(&t().without_header("alg")),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "alg as an array",
            raw_token(
                &rsa_a,
                &header_json(&t().header("alg", ["RS256"])),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "duplicate alg members (none, then RS256)",
            raw_token(
                &rsa_a,
                &with_members(&header_json(&t().header("alg", "none")), r#""alg":"RS256""#),
                &claims_json(&t()),
            ),
            &["malformed", "algorithm"],
        ),
        (
            "HS256 keyed with the public key PEM",
            t().hs256_confusion(),
            ALGORITHM,
        ),
        (
            "HS256 keyed with the public key PEM without its newline",
            t().hs256_with_secret(rsa_a.rsa_public_key_pem().unwrap().trim_end().as_bytes()),
            ALGORITHM,
        ),
        (
            "HS256 with a guessed secret",
            t().hs256_with_secret(b"secret"),
            ALGORITHM,
        ),
        (
            "alg RS256 with the kid of the ES256 key (ES256 signature)",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .header("alg", "RS256")
                .build(),
            ALGORITHM,
        ),
        (
            "our RSA kid and alg RS256, signed by an EC key",
            t().signed_by(&ec).build(),
            SIGNATURE,
        ),
        (
            "alg ES256 with the kid of the RSA key",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .kid("rsa-a")
                .build(),
            ALGORITHM,
        ),
        (
            "alg EdDSA with the kid of the RSA key",
            h.keys
                .token_with_key(&ed, &h.resource, "files:read")
                .kid("rsa-a")
                .build(),
            ALGORITHM,
        ),
        (
            "PS256 signed by the RSA key whose JWK says RS256",
            t().alg(Algorithm::PS256).build(),
            ALGORITHM,
        ),
        (
            "RS512 signed by the RSA key whose JWK says RS256",
            t().alg(Algorithm::RS512).build(),
            ALGORITHM,
        ),
        // keys and kids
        (
            "kid of a key published with use=enc",
            h.keys
                .token_with_key(&enc_key, &h.resource, "files:read")
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "kid of a published RSA-1024 key",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "no kid, signed by an RSA-1024 key",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .without_header("kid")
                .build(),
            SIGNATURE,
        ),
        ("unknown kid", t().kid("nobody").build(), UNKNOWN_KEY),
        (
            "kid injection ../../etc/passwd",
            t().kid("../../etc/passwd").build(),
            UNKNOWN_KEY,
        ),
        (
            "kid injection ' OR 1=1 --",
            t().kid("' OR 1=1 --").build(),
            UNKNOWN_KEY,
        ),
        (
            "kid with a NUL byte after a real kid",
            t().kid("rsa-a\u{0}").build(),
            UNKNOWN_KEY,
        ),
        ("empty kid", t().kid("").build(), UNKNOWN_KEY),
        (
            "kid of a real key in another case",
            t().kid("RSA-A").build(),
            UNKNOWN_KEY,
        ),
        ("kid as a number", t().header("kid", 1).build(), MALFORMED),
        (
            "our kid, signed by another RSA key",
            t().signed_by(&attacker).build(),
            SIGNATURE,
        ),
        (
            "no kid, signed by another RSA key",
            t().without_header("kid").signed_by(&attacker).build(),
            SIGNATURE,
        ),
        ("flipped signature", t().flipped_signature(), SIGNATURE),
        (
            "signature stripped (header.payload.)",
            format!("{}.", t().two_segments()),
            MALFORMED_OR_SIGNATURE,
        ),
        // keys the token brings along
        (
            "jku to the attacker's JWKS, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .jku(evil.jwks_uri())
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "jku to the attacker's JWKS, our kid",
            t().jku(evil.jwks_uri()).signed_by(&attacker).build(),
            SIGNATURE,
        ),
        (
            "x5u to the attacker, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .x5u(evil.url("/cert.pem"))
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "x5c chain, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .x5c(vec!["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".into()])
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "embedded jwk, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .embedded_jwk(attacker.jwk())
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "embedded jwk, our kid",
            t().embedded_jwk(
                attacker
                    .jwk()
                    .as_object()
                    .cloned()
                    .map(|mut j| {
                        j.insert("kid".into(), json!("rsa-a"));
                        Value::Object(j)
                    })
                    .unwrap(),
            )
            .signed_by(&attacker)
            .build(),
            SIGNATURE,
        ),
        (
            "embedded jwk, no kid",
            t().without_header("kid")
                .embedded_jwk(attacker.jwk())
                .signed_by(&attacker)
                .build(),
            SIGNATURE,
        ),
        // critical headers and types
        (
            "crit with an unknown extension",
            t().unknown_crit().build(),
            CRITICAL,
        ),
        (
            "crit b64=false (RFC 7797)",
            t().crit(&["b64"]).header("b64", false).build(),
            CRITICAL,
        ),
        ("crit empty", t().crit(&[]).build(), CRITICAL),
        (
            "crit null",
            t().header("crit", serde_json::Value::Null).build(),
            CRITICAL,
        ),
        ("typ JWT", t().typ("JWT").build(), TYPE),
        ("typ missing", t().without_header("typ").build(), TYPE),
        (
            "an ID token (typ JWT, aud = client id, nonce)",
            t().typ("JWT")
                .aud("test-client")
                .claim("nonce", "n-0S6_WzA2Mj")
                .claim("auth_time", now())
                .build(),
            TYPE,
        ),
        ("typ logout+jwt", t().typ("logout+jwt").build(), TYPE),
        (
            "typ application/at+jwt+x",
            t().typ("application/at+jwtx").build(),
            TYPE,
        ),
        ("typ as a number", t().header("typ", 1).build(), MALFORMED),
        // lifetime
        ("expired an hour ago", t().expired().build(), EXPIRED),
        ("exp 0", t().exp(0).build(), EXPIRED),
        ("exp missing", t().without_claim("exp").build(), EXPIRED),
        (
            "exp as a string",
            t().claim("exp", "tomorrow").build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "exp as a numeric string in the future",
            t().claim("exp", (now() + 300).to_string()).build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "exp negative",
            t().claim("exp", -1).build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "duplicate exp members (expired, then valid)",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(
                    &claims_json(&t().exp(now() - 3600)),
                    &format!(r#""exp":{}"#, now() + 300),
                ),
            ),
            &["malformed", "expired", "claims"],
        ),
        (
            "nbf an hour ahead",
            t().nbf_in_future().build(),
            NOT_YET_VALID,
        ),
        (
            "nbf as a string (far future)",
            t().claim("nbf", (now() + 3600).to_string()).build(),
            CLAIMS,
        ),
        (
            "iat an hour ahead",
            t().iat_in_future().build(),
            NOT_YET_VALID,
        ),
        (
            "iat as a string",
            t().claim("iat", "yesterday").build(),
            CLAIMS,
        ),
        // issuer
        (
            "wrong issuer",
            t().iss("https://evil.example").build(),
            ISSUER,
        ),
        ("issuer missing", t().without_claim("iss").build(), ISSUER),
        (
            "issuer with a trailing slash",
            t().iss(format!("{issuer}/")).build(),
            ISSUER,
        ),
        (
            "issuer differing only in case",
            t().iss(issuer.to_ascii_uppercase()).build(),
            ISSUER,
        ),
        (
            "issuer with a path added",
            t().iss(format!("{issuer}/tenant")).build(),
            ISSUER,
        ),
        (
            "issuer as an array holding ours and another",
            t().claim("iss", [issuer.as_str(), "https://evil.example"])
                .build(),
            ISSUER_OR_CLAIMS,
        ),
        (
            "issuer as a number",
            t().claim("iss", 1).build(),
            ISSUER_OR_CLAIMS,
        ),
        // audience: token passthrough
        (
            "audience of another resource on this host",
            t().aud(format!("{}/other", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience of another server",
            t().aud("https://api.example.com/mcp").build(),
            AUDIENCE,
        ),
        (
            "audience array without us",
            t().aud_array(&["https://a.example/mcp", "https://b.example/mcp"])
                .build(),
            AUDIENCE,
        ),
        ("audience empty array", t().aud_array(&[]).build(), AUDIENCE),
        (
            "audience missing",
            t().without_claim("aud").build(),
            AUDIENCE,
        ),
        (
            "audience with a trailing slash",
            t().aud_trailing_slash().build(),
            AUDIENCE,
        ),
        (
            "audience = our origin without the path",
            t().aud(&h.base).build(),
            AUDIENCE,
        ),
        (
            "audience = our metadata URL",
            t().aud(h.metadata_url()).build(),
            AUDIENCE,
        ),
        (
            "audience with the path in another case",
            t().aud(format!("{}/MCP", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience extending our path",
            t().aud(format!("{}/mcp-admin", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience = the authorization server",
            t().aud(&issuer).build(),
            AUDIENCE,
        ),
        (
            "audience as a number",
            t().claim("aud", 1).build(),
            AUDIENCE_OR_CLAIMS,
        ),
        (
            "duplicate aud members (another resource, then us)",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(
                    &claims_json(&t().aud("https://api.example.com/mcp")),
                    &format!(r#""aud":"{}""#, h.resource),
                ),
            ),
            &["malformed", "audience", "claims"],
        ),
        // claim types
        ("sub as a number", t().claim("sub", 42).build(), CLAIMS),
        (
            "client_id as an object",
            t().claim("client_id", json!({"id": "x"})).build(),
            CLAIMS,
        ),
        (
            "scope as an array",
            t().claim("scope", ["files:read"]).build(),
            CLAIMS,
        ),
        (
            "scp array holding a number",
            t().without_claim("scope").claim("scp", json!([1])).build(),
            CLAIMS,
        ),
        // shape and encoding
        ("two segments", t().two_segments(), MALFORMED),
        (
            "four segments",
            format!("{}.{}", t().build(), "e30"),
            MALFORMED,
        ),
        ("five segments", t().five_segments(), MALFORMED),
        ("only dots", "..".to_owned(), MALFORMED),
        (
            "empty header segment",
            {
                let token = t().build();
                let (_, rest) = token.split_once('.').unwrap();
                format!(".{rest}")
            },
            MALFORMED,
        ),
        (
            "empty payload segment, signed",
            sign_message(&rsa_a, &format!("{}.", b64url(&header_json(&t())))),
            MALFORMED,
        ),
        (
            "bad base64url in the header (+)",
            corrupt_segment(&rsa_a, &t().build(), 0, "+"),
            MALFORMED,
        ),
        (
            "bad base64url in the payload (/), re-signed",
            corrupt_segment(&rsa_a, &t().build(), 1, "/"),
            MALFORMED,
        ),
        (
            "bad base64url in the signature (~)",
            corrupt_segment(&rsa_a, &t().build(), 2, "~"),
            MALFORMED_OR_SIGNATURE,
        ),
        (
            "base64 padding after the signature",
            format!("{}==", t().build()),
            MALFORMED_OR_SIGNATURE,
        ),
        (
            "header JSON that is not UTF-8",
            raw_token(
                &rsa_a,
                &with_members(&header_json(&t()), "\"x\":\"\u{0}\"")
                    .into_iter()
                    .map(|b| if b == 0 { 0xff } else { b })
                    .collect::<Vec<u8>>(),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "payload JSON that is not UTF-8, signed",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(&claims_json(&t()), "\"x\":\"\u{0}\"")
                    .into_iter()
                    .map(|b| if b == 0 { 0xff } else { b })
                    .collect::<Vec<u8>>(),
            ),
            MALFORMED,
        ),
        (
            "header is a JSON array",
            raw_token(&rsa_a, b"[\"RS256\"]", &claims_json(&t())),
            MALFORMED,
        ),
        (
            "payload is a JSON string, signed",
            raw_token(&rsa_a, &header_json(&t()), b"\"files:read\""),
            MALFORMED,
        ),
        ("20 KiB header", t().oversized_header(20 * 1024), MALFORMED),
        ("64 KiB header", t().oversized_header(64 * 1024), MALFORMED),
        (
            "not a JWT at all",
            "opaque-token-value".to_owned(),
            MALFORMED,
        ),
    ];
    // Same key, another tenant of a multi-tenant authorization server.
    tokens.push((
        "same signing key, issuer of another tenant",
        TokenBuilder::new(
            &rsa_a,
            format!("{issuer}/other-tenant"),
            &h.resource,
            "files:read",
        )
        .build(),
        ISSUER,
    ));

    let mut cases = Vec::new();
    for (name, token, reasons) in tokens {
        // `whoami` is public: only authentication stands between the token and the tool.
        cases.push(case(
            name,
            h.call(&token, &session, "whoami"),
            Expect::InvalidToken(reasons),
        ));
    }
    assert!(cases.len() >= 90, "{} cases", cases.len());
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    let contacted = evil.requests();
    if !contacted.is_empty() {
        failures.push(format!(
            "[jku/x5u] the attacker's server was contacted: {contacted:?}"
        ));
    }
    assert_no_failures("forged tokens", count, &failures);
    assert_eq!(h.runs(), 0);
}

// ---- 2. credentials anywhere but one well-formed Authorization header ----------------------

#[tokio::test(flavor = "current_thread")]
async fn credentials_outside_a_single_bearer_header_are_refused() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let token = h.token("files:read files:write").build();
    // Accepted once here, the token is remembered by the thread that serves every case below
    // (one thread: current_thread): variants of its header must still be checked in full.
    let session = h.initialize(&token).await;
    let body = call_body("write_file");
    // A POST carrying everything but credentials.
    let p = || h.bare_post(Some(&session)).body(body.to_string());
    let with_auth = |value: &str| p().header("authorization", value.to_owned());
    let in_query = |query: &str| {
        h.client
            .post(format!("{}?{query}", h.resource))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .body(body.to_string())
    };
    let non_utf8 = {
        let mut bytes = format!("Bearer {token}").into_bytes();
        bytes.push(0xff);
        HeaderValue::from_bytes(&bytes).unwrap()
    };
    let cases = vec![
        case(
            "two Authorization headers, same token",
            p().header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "two Authorization headers, a valid one then garbage",
            p().header("authorization", format!("Bearer {token}"))
                .header("authorization", "Bearer garbage"),
            Expect::InvalidRequest,
        ),
        case(
            "two Authorization headers, garbage then a valid one",
            p().header("authorization", "Bearer garbage")
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "tab after the scheme",
            with_auth(&format!("Bearer\t{token}")),
            Expect::InvalidRequest,
        ),
        case(
            "comma-joined credentials",
            with_auth(&format!("Bearer {token}, Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "two tokens joined by a comma",
            with_auth(&format!("Bearer {token},{token}")),
            Expect::InvalidRequest,
        ),
        case(
            "scheme repeated",
            with_auth(&format!("Bearer Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token then a space and junk",
            with_auth(&format!("Bearer {token} x")),
            Expect::InvalidRequest,
        ),
        case(
            "padding inside the token",
            with_auth(&format!("Bearer {}", token.replacen('.', "=.", 1))),
            Expect::InvalidRequest,
        ),
        case(
            "Basic scheme carrying the token",
            with_auth(&format!(
                "Basic {}",
                base64_standard(format!("alice:{token}").as_bytes())
            )),
            Expect::InvalidRequest,
        ),
        case(
            "DPoP scheme",
            with_auth(&format!("DPoP {token}")),
            Expect::InvalidRequest,
        ),
        case("scheme only", with_auth("Bearer"), Expect::InvalidRequest),
        case(
            "empty Authorization header",
            with_auth(""),
            Expect::InvalidRequest,
        ),
        case(
            "a byte that is not UTF-8 after the token",
            p().header("authorization", non_utf8),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string",
            in_query(&format!("access_token={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string and the header",
            in_query(&format!("access_token={token}"))
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token as the second query parameter",
            in_query(&format!("a=1&access_token={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string, name percent-encoded",
            in_query(&format!("access%5Ftoken={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in a form body field access_token",
            h.client
                .post(&h.resource)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("mcp-session-id", &session)
                .body(format!("access_token={token}")),
            Expect::Missing,
        ),
        case(
            "token in a JSON body member access_token",
            h.bare_post(Some(&session)).body({
                let mut b = call_body("write_file");
                b["access_token"] = json!(token);
                b.to_string()
            }),
            Expect::Missing,
        ),
        case(
            "token in a cookie",
            p().header("cookie", format!("access_token={token}")),
            Expect::Missing,
        ),
        case(
            "token in Proxy-Authorization",
            p().header("proxy-authorization", format!("Bearer {token}")),
            Expect::Missing,
        ),
        case(
            "token in X-Forwarded-Authorization and X-Access-Token",
            p().header("x-forwarded-authorization", format!("Bearer {token}"))
                .header("x-access-token", &token),
            Expect::Missing,
        ),
        // Control: the same request with the token where it belongs.
        case(
            "control: the token in one well-formed header",
            with_auth(&format!("Bearer {token}")),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("credential smuggling", count, &failures);
    assert_eq!(h.runs(), 1, "only the control ran a tool");
}

/// RFC 9110 §11.1: the auth scheme is case-insensitive; RFC 6750 §2.1: `Bearer 1*SP b64token`.
/// Clients that write `bearer` or put two spaces are within the standard and must get in, on
/// the fast path for a token the thread has accepted before and on the full path for one it
/// has not.
#[tokio::test(flavor = "current_thread")]
async fn the_bearer_scheme_in_any_case_and_any_number_of_spaces_is_accepted() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let body = call_body("write_file");
    let mut cases = Vec::new();
    for (name, spelling) in [
        ("lowercase scheme", "bearer "),
        ("uppercase scheme", "BEARER "),
        ("mixed-case scheme", "BeArEr "),
        ("two spaces after the scheme", "Bearer  "),
        ("lowercase scheme and three spaces", "bearer   "),
    ] {
        // The token's first sight is in this spelling (the full path: syntax check, then
        // verification) ...
        let fresh = h.token("files:read files:write").build();
        let initialize = h
            .send(
                h.bare_post(None)
                    .header("authorization", format!("{spelling}{fresh}"))
                    .body(
                        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})
                            .to_string(),
                    ),
            )
            .await;
        assert_eq!(
            initialize.status,
            StatusCode::OK,
            "{name}: {:?}",
            initialize.body
        );
        let session = initialize
            .session()
            .expect("initialize issues a session id");
        // ... then a call spelled the same way reaches the tool (the fast path of a token this
        // thread accepted), and so does the usual spelling.
        for header in [format!("{spelling}{fresh}"), format!("Bearer {fresh}")] {
            cases.push(case(
                format!("{name}: {header:.12}…"),
                h.bare_post(Some(&session))
                    .header("authorization", header)
                    .body(body.to_string()),
                Expect::Accepted,
            ));
        }
    }
    let expected_runs = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Accepted))
        .count();
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("scheme spellings", count, &failures);
    assert_eq!(
        h.runs(),
        expected_runs,
        "every accepted spelling ran the tool"
    );
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---- 3. scope escalation -----------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn scopes_cannot_be_escalated() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let session = h.initialize(&h.token("files:read").build()).await;
    let denied = |name: &str, token: TokenBuilder, tool: &'static str, missing: &'static str| {
        case(
            name,
            h.call(&token.build(), &session, tool),
            Expect::ScopeDenied { tool, missing },
        )
    };
    let t = |scope: &str| h.token(scope);
    let cases = vec![
        denied(
            "token for read_file calling write_file",
            t("files:read"),
            "write_file",
            "files:write",
        ),
        denied(
            "token for write_file calling read_file",
            t("files:write"),
            "read_file",
            "files:read",
        ),
        denied(
            "token for read_file calling audit",
            t("files:read"),
            "audit",
            "audit:run",
        ),
        denied(
            "token with no scope calling audit",
            t(""),
            "audit",
            "audit:run files:read",
        ),
        denied(
            "scope with a suffix: files:readx",
            t("files:readx"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope prefix only: files",
            t("files"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope files:read with a trailing space calling write_file",
            t("files:read "),
            "write_file",
            "files:write",
        ),
        denied(
            "scope wildcard files:*",
            t("files:*"),
            "read_file",
            "files:read",
        ),
        denied(
            "comma-joined scopes",
            t("files:read,files:write"),
            "write_file",
            "files:write",
        ),
        denied(
            "tab-joined scopes",
            t("files:read\tfiles:write"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope in another case",
            t("FILES:READ"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope with a Cyrillic a",
            t("files:re\u{0430}d"),
            "read_file",
            "files:read",
        ),
        denied(
            "scope with a NUL byte",
            t("files:read\u{0}"),
            "read_file",
            "files:read",
        ),
        denied(
            "scp array in another case",
            t("").scp_array(&["FILES:READ"]),
            "read_file",
            "files:read",
        ),
        denied(
            "scp array element holding two scopes",
            t("").scp_array(&["files:read files:write"]),
            "write_file",
            "files:write",
        ),
        denied(
            "scp smuggled beside scope",
            t("files:read").claim("scp", ["files:write"]),
            "write_file",
            "files:write",
        ),
        denied(
            "empty scope beside an scp string",
            t("").claim("scp", "files:write"),
            "write_file",
            "files:write",
        ),
        denied(
            "the broader scope does not imply an unrelated one",
            t("files:admin"),
            "audit",
            "audit:run",
        ),
        denied(
            "one of two required scopes",
            t("audit:run"),
            "audit",
            "files:read",
        ),
        denied(
            "a scope named like the hierarchy root plus junk",
            t("files:adminx"),
            "write_file",
            "files:write",
        ),
        case(
            "2026-07-28 request without a session, calling write_file with a read token",
            h.modern_call(&t("files:read").build(), "write_file", "write_file"),
            Expect::ScopeDenied {
                tool: "write_file",
                missing: "files:write",
            },
        ),
        // Controls: what the tokens above lacked.
        case(
            "control: files:admin calls write_file",
            h.call(&t("files:admin").build(), &session, "write_file"),
            Expect::Accepted,
        ),
        case(
            "control: scp array calls read_file",
            h.call(
                &t("").scp_array(&["files:read"]).build(),
                &session,
                "read_file",
            ),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("scope escalation", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a tool");
}

// ---- 4. session hijack -------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn sessions_cannot_be_hijacked() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let alice = h.token("files:read").build();
    let session = h.initialize(&alice).await;
    let bob = h.token("files:read").sub("bob").build();
    let no_sub = h
        .token("files:read")
        .without_claim("sub")
        .client_id("alice")
        .build();
    let forged = h.token("files:read").signed_by(&TestKey::rsa_b()).build();
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let cases = vec![
        case(
            "another principal's token on the session",
            h.call(&bob, &session, "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another principal ends the session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&bob)
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another principal opens the session's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&bob)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            // RFC 9068 §2.2 requires `sub`: such a token never reaches the session check.
            "a token without sub whose client_id equals the owner's subject",
            h.call(&no_sub, &session, "read_file"),
            Expect::InvalidToken(&["claims"]),
        ),
        case(
            "the owner's session id in another case",
            h.call(&alice, &session.to_ascii_uppercase(), "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "the owner's session id with a character added",
            h.call(&alice, &format!("{session}A"), "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "a made-up session id",
            h.call(&alice, "made-up-session", "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "the session id without any token",
            h.post(None, Some(&session), &call_body("read_file")),
            Expect::Missing,
        ),
        case(
            "the session id with a token forged under the owner's name",
            h.call(&forged, &session, "read_file"),
            Expect::InvalidToken(SIGNATURE),
        ),
        case(
            "the owner still uses the session",
            h.call(&alice, &session, "read_file"),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("session hijack", count, &failures);
    assert_eq!(h.runs(), 1, "only the owner's call ran a tool");
}

// ---- 5. clock skew at the leeway boundary --------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn clock_skew_is_tolerated_up_to_the_leeway_and_no_further() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let session = h.initialize(&h.token("files:read").build()).await;
    // The default leeway is 60 s. The values leave a second or two of slack for the clock to
    // tick between minting and checking: refusals only get more certain as time passes, and the
    // accepted values stay inside the leeway for two seconds.
    let n = now();
    let t = || h.token("files:read");
    let cases = vec![
        case(
            "exp 58 s ago: inside the leeway",
            h.call(&t().exp(n - 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "exp 61 s ago: beyond the leeway",
            h.call(&t().exp(n - 61).build(), &session, "read_file"),
            Expect::InvalidToken(EXPIRED),
        ),
        case(
            "nbf 58 s ahead: inside the leeway",
            h.call(&t().nbf(n + 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "nbf 62 s ahead: beyond the leeway",
            h.call(&t().nbf(n + 62).build(), &session, "read_file"),
            Expect::InvalidToken(NOT_YET_VALID),
        ),
        case(
            "iat 58 s ahead: inside the leeway",
            h.call(&t().iat(n + 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "iat 62 s ahead: beyond the leeway",
            h.call(&t().iat(n + 62).build(), &session, "read_file"),
            Expect::InvalidToken(NOT_YET_VALID),
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("clock skew", count, &failures);
}

// ---- 6. key rotation, both directions ------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn rotated_keys_are_accepted_and_removed_keys_refused() {
    let (capture, _guard) = capture();
    let keys = KeyServer::builder().cache_max_age(1).start().await;
    let h = harness(
        keys,
        &capture,
        |mut j| {
            j.min_cache = Duration::ZERO;
            j.refresh_cooldown(Duration::from_millis(200))
        },
        |c| c,
    )
    .await;
    let old_key = TestKey::rsa_a();
    let new_key = TestKey::rsa_b().with_kid("rotated");
    let old = h.token("files:read").build();
    let session = h.initialize(&old).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    let mut failures = Vec::new();
    let mut count = 0;

    // Rotation in: the issuer publishes a new key next to the old one.
    tokio::time::sleep(Duration::from_millis(250)).await;
    h.keys.set_keys(vec![old_key.clone(), new_key.clone()]);
    let new = h
        .keys
        .token_with_key(&new_key, &h.resource, "files:read")
        .build();
    count += run(
        &h,
        vec![
            case(
                "a token signed by the newly published key",
                h.call(&new, &session, "read_file"),
                Expect::Accepted,
            ),
            case(
                "the old key during the overlap",
                h.call(&old, &session, "read_file"),
                Expect::Accepted,
            ),
        ],
        &mut failures,
    )
    .await;

    // Rotation out: the old key is withdrawn. Once the cached set expires (max-age 1 s) the next
    // request refreshes it in the background; after that the old key is gone.
    h.keys.set_keys(vec![new_key.clone()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    count += run(
        &h,
        vec![case(
            "a request after the cached set expired (refresh starts)",
            h.call(&new, &session, "read_file"),
            Expect::Accepted,
        )],
        &mut failures,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let fetches = h.keys.jwks_fetches();
    if fetches != 3 {
        failures.push(format!(
            "[rotation out] {fetches} JWKS fetches (expected 3: start, new kid, expiry)"
        ));
    }
    let old_again = h
        .keys
        .token_with_key(&old_key, &h.resource, "files:read")
        .build();
    count += run(
        &h,
        vec![
            case(
                "a token signed by the withdrawn key",
                h.call(&old_again, &session, "read_file"),
                Expect::InvalidToken(UNKNOWN_KEY),
            ),
            case(
                "a token signed by the withdrawn key under the new kid",
                h.call(
                    &h.keys
                        .token_with_key(&old_key, &h.resource, "files:read")
                        .kid("rotated")
                        .build(),
                    &session,
                    "read_file",
                ),
                Expect::InvalidToken(SIGNATURE),
            ),
            case(
                "the new key still works",
                h.call(&new, &session, "read_file"),
                Expect::Accepted,
            ),
        ],
        &mut failures,
    )
    .await;
    assert_no_failures("rotation", count, &failures);
}

// ---- 7. broken key sets and metadata: 401, never 500 -----------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn broken_key_sets_and_metadata_mean_401_never_500() {
    let (capture, _guard) = capture();
    let rsa_a = TestKey::rsa_a();
    let oct =
        json!({"keys": [{"kty": "oct", "kid": "rsa-a", "alg": "HS256", "k": b64url(b"secret")}]});
    let with = |extra: Value| {
        let mut jwk = rsa_a.jwk();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                jwk.as_object_mut().unwrap().remove(k);
            } else {
                jwk[k] = v.clone();
            }
        }
        json!({ "keys": [jwk] })
    };
    type Setup = Box<dyn Fn(&KeyServer)>;
    let faults: Vec<(&str, Setup)> = vec![
        (
            "JWKS 503",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Down)),
        ),
        (
            "JWKS served as HTML",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Html)),
        ),
        (
            "JWKS garbage JSON",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Garbage)),
        ),
        (
            "JWKS empty set",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Empty)),
        ),
        (
            "JWKS oversized (5 MiB)",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Oversized)),
        ),
        (
            "JWKS with only a use=enc key",
            Box::new(|k: &KeyServer| k.set_keys(vec![TestKey::rsa_a().with_use("enc")])),
        ),
        (
            "JWKS with only an RSA-1024 key",
            Box::new(|k: &KeyServer| k.set_keys(vec![TestKey::rsa_1024().with_kid("rsa-a")])),
        ),
        (
            "JWKS with only a symmetric (oct) key",
            Box::new(move |k: &KeyServer| k.set_raw_jwks(Some(oct.clone()))),
        ),
        (
            "JWKS key with key_ops [encrypt]",
            Box::new({
                let set = with(json!({"use": null, "key_ops": ["encrypt"]}));
                move |k: &KeyServer| k.set_raw_jwks(Some(set.clone()))
            }),
        ),
        (
            "JWKS key with alg RSA-OAEP",
            Box::new({
                let set = with(json!({"use": null, "alg": "RSA-OAEP"}));
                move |k: &KeyServer| k.set_raw_jwks(Some(set.clone()))
            }),
        ),
        (
            "metadata served as HTML",
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Html)),
        ),
        (
            "metadata garbage JSON",
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Garbage)),
        ),
        (
            "metadata naming another issuer",
            Box::new(|k: &KeyServer| k.set_issuer_override(Some("https://evil.example".into()))),
        ),
        (
            "metadata without jwks_uri",
            Box::new(|k: &KeyServer| {
                let mut m = k.metadata();
                m.as_object_mut().unwrap().remove("jwks_uri");
                k.set_raw_metadata(Some(m));
            }),
        ),
        (
            "metadata whose jwks_uri is a closed port",
            Box::new(|k: &KeyServer| {
                let mut m = k.metadata();
                m["jwks_uri"] = json!("http://127.0.0.1:9/jwks");
                k.set_raw_metadata(Some(m));
            }),
        ),
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, setup) in faults {
        let h = default_harness(&capture).await;
        setup(&h.keys);
        let token = h.token("files:read").build();
        count += run(
            &h,
            vec![case(
                name,
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
    }

    // A fixed key set never fetches: an unknown kid is refused on the spot.
    let keys = KeyServer::start().await;
    let issuer = keys.issuer();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let verifier = JwtVerifier::with_jwks(
        JwtConfig::new(&issuer, &resource),
        &support::jwk_set(&[TestKey::rsa_a()]),
    )
    .unwrap();
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(
            HttpConfig::new(&resource)
                .verifier(verifier)
                .authorization_server(&issuer),
        )
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    };
    let unknown = h
        .keys
        .token_with_key(
            &TestKey::rsa_b().with_kid("elsewhere"),
            &h.resource,
            "files:read",
        )
        .build();
    count += run(
        &h,
        vec![case(
            "fixed JWK set, unknown kid",
            h.post(Some(&unknown), None, &call_body("whoami")),
            Expect::InvalidToken(UNKNOWN_KEY),
        )],
        &mut failures,
    )
    .await;
    if !h.keys.requests().is_empty() {
        failures.push(format!(
            "[fixed JWK set] the issuer was contacted: {:?}",
            h.keys.requests()
        ));
    }
    assert_no_failures("broken key sets", count, &failures);
}

// ---- 8. issuer unreachable -----------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_issuer_keeps_cached_keys_and_fails_fast_without_them() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;

    // With keys cached, and the cache expired so every request tries to refresh: valid tokens
    // keep working while the issuer is down; unknown kids are refused.
    let keys = KeyServer::builder().cache_max_age(0).start().await;
    let h = harness(
        keys,
        &capture,
        |mut j| {
            j.min_cache = Duration::ZERO;
            j.refresh_cooldown(Duration::ZERO)
        },
        |c| c,
    )
    .await;
    let session = h.initialize(&h.token("files:read").build()).await;
    h.keys.set_mode(JwksMode::Down);
    h.keys.set_metadata_mode(JwksMode::Down);
    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(case(
            format!("issuer down, cached keys: valid token #{i}"),
            h.call(&h.token("files:read").build(), &session, "read_file"),
            Expect::Accepted,
        ));
    }
    cases.push(case(
        "issuer down, cached keys: unknown kid",
        h.call(
            &h.token("files:read").kid("new-kid").build(),
            &session,
            "read_file",
        ),
        Expect::InvalidToken(UNKNOWN_KEY),
    ));
    cases.push(case(
        "issuer down, cached keys: forged signature",
        h.call(
            &h.token("files:read").flipped_signature(),
            &session,
            "read_file",
        ),
        Expect::InvalidToken(SIGNATURE),
    ));
    count += run(&h, cases, &mut failures).await;

    // Without keys: refused quickly with a short timeout, whatever way the issuer fails.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    type Setup = Box<dyn Fn(&KeyServer)>;
    let modes: Vec<(&str, Option<String>, Setup)> = vec![
        (
            "JWKS at a closed port (connection refused)",
            Some(format!("http://127.0.0.1:{closed_port}/jwks")),
            Box::new(|_: &KeyServer| {}),
        ),
        (
            "JWKS that never answers",
            None,
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Slow(Duration::from_secs(30)))),
        ),
        (
            "metadata that never answers",
            None,
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Slow(Duration::from_secs(30)))),
        ),
    ];
    for (name, jwks_uri, setup) in modes {
        let h = harness(
            KeyServer::start().await,
            &capture,
            |j| {
                let j = j.http_timeout(Duration::from_millis(400));
                match jwks_uri {
                    Some(uri) => j.jwks_uri(uri),
                    None => j,
                }
            },
            |c| c,
        )
        .await;
        setup(&h.keys);
        let token = h.token("files:read").build();
        let started = Instant::now();
        count += run(
            &h,
            vec![case(
                format!("no cached keys: {name}"),
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_secs(2) {
            failures.push(format!(
                "[no cached keys: {name}] took {elapsed:?} (expected under 2 s)"
            ));
        }
        // The next request within the cooldown does not wait again.
        let started = Instant::now();
        count += run(
            &h,
            vec![case(
                format!("no cached keys, second request: {name}"),
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_millis(300) {
            failures.push(format!(
                "[no cached keys, second request: {name}] took {elapsed:?} (the cooldown should answer at once)"
            ));
        }
    }
    assert_no_failures("unreachable issuer", count, &failures);
}

// ---- 9. a slow issuer does not serialise requests with known kids --------------------------

#[tokio::test(flavor = "current_thread")]
async fn a_slow_issuer_does_not_hold_requests_with_known_kids() {
    let (capture, _guard) = capture();
    let keys = KeyServer::builder().cache_max_age(0).start().await;
    let h = Arc::new(
        harness(
            keys,
            &capture,
            |mut j| {
                j.min_cache = Duration::ZERO;
                j.refresh_cooldown(Duration::ZERO)
            },
            |c| c,
        )
        .await,
    );
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.keys.set_mode(JwksMode::Slow(Duration::from_secs(2)));
    let mark = capture.len();
    let runs_before = h.runs();
    let mut failures = Vec::new();

    // An unknown kid: its request waits for the (slow) fetch, holding the refresh.
    let pending = {
        let h = Arc::clone(&h);
        let session = session.clone();
        tokio::spawn(async move {
            let unknown = h.token("files:read").kid("not-yet-published").build();
            let started = Instant::now();
            let reply = h.try_send(h.call(&unknown, &session, "read_file")).await;
            (reply, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Meanwhile, requests with the known kid go through at once, concurrently. The cases run
    // concurrently, so their runs and events are checked together.
    let started = Instant::now();
    let mut known = Vec::new();
    for i in 0..5 {
        let h = Arc::clone(&h);
        let session = session.clone();
        known.push(tokio::spawn(async move {
            let token = h.token("files:read").build();
            let started = Instant::now();
            let reply = h.try_send(h.call(&token, &session, "read_file")).await;
            (i, reply, started.elapsed())
        }));
    }
    for task in known {
        let (i, reply, elapsed) = task.await.unwrap();
        let name = format!("known kid #{i} while a slow fetch is under way");
        match reply {
            None => failures.push(format!("[{name}] no answer within 15 s")),
            Some(r) if r.status != StatusCode::OK => {
                failures.push(format!("[{name}] status {} body {}", r.status, r.body));
            }
            Some(_) if elapsed >= Duration::from_secs(1) => {
                failures.push(format!(
                    "[{name}] took {elapsed:?}: held behind the slow fetch"
                ));
            }
            Some(_) => {}
        }
    }
    let all_known = started.elapsed();
    if all_known >= Duration::from_secs(1) {
        failures.push(format!(
            "[known kids] five requests took {all_known:?} together"
        ));
    }
    let name = "unknown kid while the issuer is slow";
    let (reply, elapsed) = pending.await.unwrap();
    match reply {
        None => failures.push(format!("[{name}] no answer within 15 s")),
        Some(r) => {
            let challenge = r.challenge().unwrap_or_default();
            if r.status != StatusCode::UNAUTHORIZED
                || param(challenge, "error") != Some("invalid_token")
                || param(challenge, "resource_metadata") != Some(h.metadata_url().as_str())
            {
                failures.push(format!(
                    "[{name}] status {}, challenge {challenge:?} (expected 401 invalid_token)",
                    r.status
                ));
            }
        }
    }
    if elapsed >= Duration::from_secs(8) {
        failures.push(format!("[{name}] took {elapsed:?}"));
    }
    let events = capture.since(mark);
    let accepted = events
        .iter()
        .filter(|e| e.is(AUTH, "token_accepted"))
        .count();
    if accepted != 5 {
        failures.push(format!(
            "[all] {accepted} token_accepted events (expected 5)"
        ));
    }
    if !events
        .iter()
        .any(|e| e.is(AUTH, "token_rejected") && e.field("reason") == Some("unknown_key"))
    {
        failures.push(format!(
            "[{name}] audit: no token_rejected with reason unknown_key in {events:?}"
        ));
    }
    let ran = h.runs() - runs_before;
    if ran != 5 {
        failures.push(format!(
            "[all] {ran} tool runs (expected 5, one per known kid)"
        ));
    }
    assert_no_failures("slow issuer", 6, &failures);
}

// ---- 10. Origin and Host (DNS rebinding) ---------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn foreign_origins_and_hosts_are_refused() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let port = h.base.rsplit(':').next().unwrap().to_owned();
    let call = || h.call(&token, &session, "read_file");
    let origin = |name: &str, value: &str| {
        case(
            name,
            call().header("origin", value),
            Expect::Refused {
                status: StatusCode::FORBIDDEN,
                audit: Audit::Http("origin_rejected"),
            },
        )
    };
    let host = |name: &str, value: String| {
        case(
            name,
            call().header("host", value),
            Expect::Refused {
                status: StatusCode::FORBIDDEN,
                audit: Audit::Http("host_rejected"),
            },
        )
    };
    let cases = vec![
        origin("foreign Origin", "https://evil.example"),
        origin("Origin null (sandboxed iframe, file:)", "null"),
        origin(
            "Origin on a domain starting with localhost",
            "http://localhost.evil.example",
        ),
        origin(
            "Origin on a domain starting with 127.0.0.1",
            &format!("http://127.0.0.1.nip.io:{port}"),
        ),
        origin(
            "Origin with userinfo looking like loopback",
            "http://127.0.0.1@evil.example",
        ),
        origin("Origin of our host on another scheme", "ftp://127.0.0.1"),
        host("Host of another domain", "evil.example".to_owned()),
        host(
            "Host of another domain with our port (DNS rebinding)",
            format!("evil.example:{port}"),
        ),
        case(
            "DNS rebinding: Host and Origin both the attacker's",
            call()
                .header("host", format!("evil.example:{port}"))
                .header("origin", format!("http://evil.example:{port}")),
            Expect::Refused {
                status: StatusCode::FORBIDDEN,
                audit: Audit::Http("host_rejected"),
            },
        ),
        host(
            "Host on a domain starting with localhost",
            format!("localhost.evil.example:{port}"),
        ),
        host(
            "Host on a domain starting with 127.0.0.1",
            format!("127.0.0.1.nip.io:{port}"),
        ),
        host(
            "Host: an IPv6 loopback literal without its closing bracket",
            format!("[::1:{port}"),
        ),
        host(
            "Host: an IPv6 loopback literal without its closing bracket or port",
            "[::1".to_owned(),
        ),
        host(
            "Host: an IPv6 loopback literal followed by another name",
            format!("[::1]x.evil.example:{port}"),
        ),
        case(
            "control: a loopback Origin",
            call().header("origin", format!("http://localhost:{port}")),
            Expect::Accepted,
        ),
        case(
            "control: the IPv6 loopback Host",
            call().header("host", format!("[::1]:{port}")),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("origin and host", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a tool");
}

// ---- 11. protocol abuse that must not reach a tool -----------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn protocol_abuse_never_reaches_a_tool() {
    let (capture, _guard) = capture();
    let h = harness(
        KeyServer::start().await,
        &capture,
        |j| j,
        |c| c.max_body_bytes(4096),
    )
    .await;
    let reader = h.token("files:read").build();
    let writer = h.token("files:read files:write").build();
    let session = h.initialize(&writer).await;
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let raw = |token: &str, body: String| h.bare_post(Some(&session)).bearer_auth(token).body(body);
    let typed = |content_type: Option<&str>| {
        let mut request = h
            .client
            .post(&h.resource)
            .bearer_auth(&writer)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .body(call_body("write_file").to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request
    };
    let cases = vec![
        case(
            "tools/call inside a batch array",
            raw(&writer, json!([call_body("write_file")]).to_string()),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "batch of a ping and a tools/call",
            raw(
                &writer,
                json!([{"jsonrpc":"2.0","id":9,"method":"ping"}, call_body("write_file")])
                    .to_string(),
            ),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "body over the size limit",
            raw(
                &writer,
                json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"x".repeat(8192)}}})
                    .to_string(),
            ),
            refused(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        case(
            "Content-Type text/plain",
            typed(Some("text/plain")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "Content-Type form-urlencoded",
            typed(Some("application/x-www-form-urlencoded")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "Content-Type application/jsonx",
            typed(Some("application/jsonx")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "no Content-Type",
            typed(None),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "duplicate method members (ping, then tools/call)",
            raw(
                &writer,
                r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"write_file","arguments":{"path":"x"}}}"#
                    .to_owned(),
            ),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "jsonrpc 1.0",
            raw(&writer, {
                let mut b = call_body("write_file");
                b["jsonrpc"] = json!("1.0");
                b.to_string()
            }),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "id as an object",
            raw(&writer, {
                let mut b = call_body("write_file");
                b["id"] = json!({"x": 1});
                b.to_string()
            }),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "tools/call sent as a notification (no id) without the scope",
            raw(&reader, {
                let mut b = call_body("write_file");
                b.as_object_mut().unwrap().remove("id");
                b.to_string()
            }),
            refused(StatusCode::ACCEPTED),
        ),
        case(
            "tools/call without a session",
            h.post(Some(&writer), None, &call_body("write_file")),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "unsupported MCP-Protocol-Version",
            raw(&writer, call_body("write_file").to_string())
                .header("mcp-protocol-version", "1999-01-01"),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "PUT with a tools/call body",
            h.client
                .request(Method::PUT, &h.resource)
                .bearer_auth(&writer)
                .header("content-type", "application/json")
                .header("mcp-session-id", &session)
                .body(call_body("write_file").to_string()),
            refused(StatusCode::METHOD_NOT_ALLOWED),
        ),
        case(
            "2026-07-28: Mcp-Name says read_file, the body calls write_file",
            h.modern_call(&reader, "write_file", "read_file"),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "2026-07-28 _meta on a session request with a legacy version header",
            {
                let mut b = call_body("write_file");
                b["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
                raw(&writer, b.to_string())
                    .header("mcp-protocol-version", "2025-11-25")
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "read_file")
            },
            refused(StatusCode::BAD_REQUEST),
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("protocol abuse", count, &failures);
    assert_eq!(h.runs(), 0);
}

// ---- public metadata: every origin reads it, and gets no further ----------------------------

/// The Protected Resource Metadata answers every Origin with `Access-Control-Allow-Origin: *`
/// (browser clients must discover the authorization server, RFC 9728 §3), never with
/// credentials. What that must not open: the MCP endpoint to a page on a foreign origin, with or
/// without a token, nor its preflight.
#[tokio::test(flavor = "current_thread")]
async fn public_metadata_opens_nothing_else_to_foreign_origins() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let foreign = [
        "https://evil.example",
        "null",
        "http://localhost.evil.example",
    ];
    let refused = || Expect::Refused {
        status: StatusCode::FORBIDDEN,
        audit: Audit::Http("origin_rejected"),
    };
    let mut cases = Vec::new();
    for origin in foreign {
        cases.push(case(
            format!("{origin}: a call with a valid token, after reading the metadata"),
            h.call(&token, &session, "read_file")
                .header("origin", origin),
            refused(),
        ));
        cases.push(case(
            format!("{origin}: a call without credentials"),
            h.bare_post(None)
                .header("origin", origin)
                .body(call_body("read_file").to_string()),
            refused(),
        ));
    }
    cases.push(case(
        "control: the same call from no browser",
        h.call(&token, &session, "read_file"),
        Expect::Accepted,
    ));
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;

    let root = format!("{}/.well-known/oauth-protected-resource", h.base);
    for origin in foreign {
        for url in [h.metadata_url(), root.clone()] {
            let r = h
                .send(
                    h.client
                        .get(&url)
                        .header("origin", origin)
                        .header("cookie", "session=stolen"),
                )
                .await;
            let allow = r.headers.get("access-control-allow-origin");
            if r.status != StatusCode::OK || allow.is_none_or(|v| v != "*") {
                failures.push(format!("[{origin} reads {url}] {} {allow:?}", r.status));
            }
            if r.headers.contains_key("access-control-allow-credentials") {
                failures.push(format!("[{origin} reads {url}] credentials allowed"));
            }
        }
        let preflight = h
            .send(
                h.client
                    .request(Method::OPTIONS, &h.resource)
                    .header("origin", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "authorization"),
            )
            .await;
        if let Some(allow) = preflight.headers.get("access-control-allow-origin") {
            failures.push(format!(
                "[{origin} preflights the endpoint] allowed: {allow:?}"
            ));
        }
    }
    assert_no_failures("public metadata", count, &failures);
    assert_eq!(h.runs(), 1, "only the control ran a tool");
}

// ---- resource URIs with dot segments (RFC 3986 §5.2.4) -------------------------------------
//
// A public `{+path}` template must not serve what a `..` in its URI names: the URI is resolved
// first, so the protected resource it names asks for its own scopes; a `..` above the root
// names nothing. Over HTTP, in both eras, for reads and subscriptions; every spelling of `..`.

/// Anything on the shelves, to anyone.
#[mcp_resource(uri = "store://h/{+path}", public)]
fn dot_shelf(runs: State<Runs>, path: String) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("shelf {path}")
}

/// The private plans.
#[mcp_resource(uri = "store://h/private/plans", scope = "store:private")]
fn dot_plans(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    "the plans".into()
}

/// The vault, by item.
#[mcp_resource(uri = "store://h/vault/{item}", scope = "store:vault")]
fn dot_vault(runs: State<Runs>, item: String) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("vault {item}")
}

#[derive(McpServer, Clone, Default)]
#[mcp(name = "store", resources(dot_shelf, dot_plans, dot_vault))]
struct Store {
    #[mcp(state)]
    runs: Runs,
}

/// The store server on 127.0.0.1, with every default, trusting a fresh key server.
async fn store_harness(capture: &Capture) -> Harness {
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let config = HttpConfig::new(&resource).jwt(JwtConfig::new(keys.issuer(), &resource));
    let runs = Runs::default();
    let router = Server::new(Store { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dot_segments_in_resource_uris_reach_nothing_unscoped() {
    let (capture, _guard) = capture();
    let h = store_harness(&capture).await;
    let outsider = h.token("store:vault").build();
    let insider = h.token("store:private store:vault").build();
    let session = h.initialize(&outsider).await;
    let insider_session = h.initialize(&insider).await;
    let legacy = |token: &str, session: &str, method: &str, uri: &str| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":{"uri":uri}});
        h.post(Some(token), Some(session), &body)
    };
    let modern = |token: &str, uri: &str| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"resources/read",
            "params":{"uri":uri,"_meta":support::modern_meta()}});
        h.post(Some(token), None, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "resources/read")
            .header("mcp-name", uri)
    };
    let denied = |uri: &str| Expect::ScopeDenied {
        tool: uri.to_owned().leak(),
        missing: "store:private",
    };
    let not_found = || Expect::Refused {
        status: StatusCode::OK,
        audit: Audit::TokenAccepted,
    };
    let mut cases = Vec::new();
    // Requests that must answer "resource not found", checked again below for the error.
    let mut missing = Vec::new();
    for dots in ["..", "%2E%2E", "%2e%2e", ".%2E", "%2e.", "%2E."] {
        let through = format!("store://h/public/{dots}/private/plans");
        let above = format!("store://h/{dots}/private/plans");
        let far_above = format!("store://h/a/{dots}/{dots}/{dots}/x");
        cases.push(case(
            format!("read {through}"),
            legacy(&outsider, &session, "resources/read", &through),
            denied(&through),
        ));
        cases.push(case(
            format!("2026-07-28: read {through}"),
            modern(&outsider, &through),
            denied(&through),
        ));
        cases.push(case(
            format!("subscribe {through}"),
            legacy(&outsider, &session, "resources/subscribe", &through),
            denied(&through),
        ));
        for uri in [&above, &far_above] {
            for (name, request) in [
                (
                    "read",
                    legacy(&insider, &insider_session, "resources/read", uri),
                ),
                ("2026-07-28: read", modern(&insider, uri)),
                (
                    "subscribe",
                    legacy(&insider, &insider_session, "resources/subscribe", uri),
                ),
            ] {
                missing.push((format!("{name} {uri}"), request.try_clone().unwrap()));
                cases.push(case(format!("{name} {uri}"), request, not_found()));
            }
        }
    }
    // Not dot segments, but paths a handler would resolve elsewhere than the URI names: an
    // absolute path, empty segments that a file system drops (`private//plans` is the plans),
    // Windows separators and drives. The public shelf gets none of them.
    for uri in [
        "store://h//etc/passwd",
        "store://h/private//plans",
        "store://h//private/plans",
        "store://h/vault//a",
        "store://h/vault/a/",
        "store://h/vault%5Ca",
        "store://h/private%5Cplans",
        "store://h/C:/Windows/win.ini",
    ] {
        let request = legacy(&outsider, &session, "resources/read", uri);
        missing.push((format!("read {uri}"), request.try_clone().unwrap()));
        cases.push(case(format!("read {uri}"), request, not_found()));
    }
    cases.push(case(
        "control: the insider reads the plans through the public shelf's path",
        legacy(
            &insider,
            &insider_session,
            "resources/read",
            "store://h/public/%2E%2E/private/plans",
        ),
        Expect::Accepted,
    ));
    cases.push(case(
        "control: the outsider reads the public shelf",
        modern(&outsider, "store://h/public/a/./b"),
        Expect::Accepted,
    ));
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    for (name, request) in missing {
        let r = h.send(request).await;
        let code = r.body["error"]["code"].as_i64();
        if !matches!(code, Some(-32002 | -32602))
            || r.body["error"]["message"] != "resource not found"
        {
            failures.push(format!("[{name}] not \"resource not found\": {}", r.body));
        }
    }
    assert_no_failures("dot segments", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a handler");
}

// ---- session owners: issuer, subject and client ----------------------------------------------
//
// A subject is unique only within its issuer: a server trusting two authorization servers must
// not let the second one's `alice` into the first one's sessions. And a caller without a
// subject (an introspection answer or a custom verifier may give none) gets no legacy session
// at all (403), while its 2026-07-28 requests are served.

/// Trusts two authorization servers, as a multi-tenant server does, and vouches for a token
/// with the claim `"subjectless": true` without its subject, as an introspection answer may.
struct TwoIssuers {
    one: JwtVerifier,
    two: JwtVerifier,
}

impl scopegate::auth::TokenVerifier for TwoIssuers {
    fn verify<'a>(&'a self, token: &'a str) -> scopegate::auth::VerifyFuture<'a> {
        Box::pin(async move {
            let principal = match self.one.verify(token).await {
                Ok(principal) => principal,
                Err(_) => self.two.verify(token).await?,
            };
            if principal.claims().get("subjectless") != Some(&Value::Bool(true)) {
                return Ok(principal);
            }
            let mut builder = Principal::builder()
                .scopes(principal.scopes().clone())
                .claims(principal.claims().clone());
            if let Some(issuer) = principal.issuer() {
                builder = builder.issuer(issuer);
            }
            if let Some(client) = principal.client_id() {
                builder = builder.client_id(client);
            }
            Ok(builder.build())
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sessions_belong_to_one_issuers_subject_and_need_a_subject() {
    let (capture, _guard) = capture();
    let (one, two) = (KeyServer::start().await, KeyServer::start().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let verifier = TwoIssuers {
        one: JwtVerifier::new(JwtConfig::new(one.issuer(), &resource)),
        two: JwtVerifier::new(JwtConfig::new(two.issuer(), &resource)),
    };
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(
            HttpConfig::new(&resource)
                .verifier(verifier)
                .authorization_server(one.issuer())
                .authorization_server(two.issuer()),
        )
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys: one,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    };
    // The same `sub` and `client_id`, each from its own issuer.
    let alice = h.token("files:read").build();
    let other_alice = two.token(&h.resource, "files:read").build();
    let subjectless = h.token("files:read").claim("subjectless", true).build();
    let session = h.initialize(&alice).await;
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let initialize = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let cases = vec![
        case(
            "another issuer's alice calls a tool on alice's session",
            h.call(&other_alice, &session, "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another issuer's alice ends alice's session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&other_alice)
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another issuer's alice opens alice's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&other_alice)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "a caller without a subject initializes a session",
            h.post(Some(&subjectless), None, &initialize),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject calls a tool on alice's session",
            h.call(&subjectless, &session, "read_file"),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject calls a tool without a session",
            h.post(Some(&subjectless), None, &call_body("read_file")),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject ends alice's session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&subjectless)
                .header("mcp-session-id", &session),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject opens alice's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&subjectless)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "control: a caller without a subject, 2026-07-28 (no session)",
            h.modern_call(&subjectless, "read_file", "read_file"),
            Expect::Accepted,
        ),
        case(
            "control: alice still uses her session",
            h.call(&alice, &session, "read_file"),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("session owners", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a tool");
    // The refused initialize issued no session id, and said why; and was audited.
    let r = h.send(h.post(Some(&subjectless), None, &initialize)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.session(), None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("subject")),
        "{}",
        r.body
    );
    assert!(
        h.capture
            .since(0)
            .iter()
            .any(|e| e.is(AUTH, "session_rejected") && e.field("reason") == Some("no_subject"))
    );
}

// ---- forwarded addresses: believed from trusted proxies only --------------------------------
//
// `X-Forwarded-For` and `Forwarded` are whatever the client wrote unless a trusted proxy wrote
// them. The server trusts 127.0.0.2 as its proxy; a client on 127.0.0.1 spoofing the headers
// stays in its own rate-limit bucket, and the audit names its real address.

#[tokio::test(flavor = "current_thread")]
async fn forwarding_headers_from_an_untrusted_peer_change_nothing() {
    let (capture, _guard) = capture();
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(
            HttpConfig::new(&resource)
                .jwt(JwtConfig::new(keys.issuer(), &resource))
                .trusted_proxies(scopegate::http::TrustedProxies::new(["127.0.0.2/32"]).unwrap())
                .rate_per_address(Some(scopegate::http::Quota::new(2, 0.001))),
        )
        .unwrap();
    tokio::spawn(async move {
        scopegate::http::serve_with(listener, router, scopegate::http::ServeOptions::default())
            .await
            .unwrap();
    });
    let h = Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 1]))
            .build()
            .unwrap(),
        capture: capture.clone(),
    };
    let proxy = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let token = h.token("files:read").build();
    let call = |forwarded: &str| {
        h.modern_call(&token, "read_file", "read_file")
            .header("x-forwarded-for", forwarded)
    };
    let limited = Expect::Refused {
        status: StatusCode::TOO_MANY_REQUESTS,
        audit: Audit::Http("rate_limited"),
    };
    let mut through_proxy = call_body("read_file");
    through_proxy["params"]["_meta"] = support::modern_meta();
    let cases = vec![
        case(
            "control: 203.0.113.1 by its own word",
            call("203.0.113.1"),
            Expect::Accepted,
        ),
        case(
            "control: 203.0.113.2 by its own word",
            call("203.0.113.2"),
            Expect::Accepted,
        ),
        case(
            "a spoofed X-Forwarded-For naming a fresh address",
            call("203.0.113.3"),
            limited.clone(),
        ),
        case(
            "a spoofed X-Forwarded-For naming the trusted proxy",
            call("127.0.0.2"),
            limited.clone(),
        ),
        case(
            "a spoofed chain ending in a fresh address",
            call("127.0.0.2, 198.51.100.1, 203.0.113.4"),
            limited.clone(),
        ),
        case(
            "a spoofed Forwarded",
            h.modern_call(&token, "read_file", "read_file")
                .header("forwarded", "for=203.0.113.5"),
            limited,
        ),
        case(
            "control: the trusted proxy forwards a fresh client",
            proxy
                .post(&h.resource)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .bearer_auth(&token)
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "read_file")
                .header("x-forwarded-for", "203.0.113.3")
                .body(through_proxy.to_string()),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("forwarded addresses", count, &failures);
    assert_eq!(h.runs(), 3, "only the controls ran a tool");
    let addresses: Vec<String> = h
        .capture
        .since(0)
        .iter()
        .filter(|e| e.is(HTTP, "rate_limited"))
        .filter_map(|e| e.field("address").map(str::to_owned))
        .collect();
    assert_eq!(addresses.len(), 4, "{addresses:?}");
    assert!(
        addresses.iter().all(|a| a == "127.0.0.1"),
        "the audit names the real peer: {addresses:?}"
    );
}

// ---- the development authorization server: exposure and token abuse ------------------------
//
// The development server hands out any scope without a login. Every case asserts the status,
// that no Bearer challenge and no credential (client, code or token) came back, the audit
// event on `scopegate::dev_auth`, and that the files server behind it ran no tool; a control
// shows a token from the same server does run one.

const DEV: &str = "scopegate::dev_auth";

/// The files server with the development server mounted, served by `serve_on` (or plain
/// `axum::serve` when `plain`) on 127.0.0.1, with `config` applied.
async fn dev_server(
    plain: bool,
    config: impl FnOnce(scopegate::dev_auth::DevAuthConfig) -> scopegate::dev_auth::DevAuthConfig,
) -> (String, Runs) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let runs = Runs::default();
    let server = Server::new(Files { runs: runs.clone() }).unwrap();
    let dev = scopegate::dev_auth::DevAuth::new(
        &server,
        &resource,
        config(scopegate::dev_auth::DevAuthConfig::default().auto_approve(true)),
    )
    .unwrap();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(dev.issuer()))
        .unwrap()
        .merge(dev.router());
    if plain {
        tokio::spawn(async move { axum::serve(listener, router).await });
    } else {
        tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    }
    (base, runs)
}

/// RFC 7636 appendix B's verifier and its S256 challenge.
const DEV_VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Ck";
const DEV_CHALLENGE: &str = "kkW_ZCh3g8Pxxy8pvrI-Rq5Lf9STUO5Ayb7Nx0V9azU";
const DEV_REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Registers a public client that may refresh, authorizes (auto-approved) and redeems the
/// code: returns the client id, the code and the token response.
async fn dev_flow(client: &reqwest::Client, base: &str, scope: &str) -> (String, String, Value) {
    let registered: Value = client
        .post(format!("{base}/dev-auth/register"))
        .json(
            &json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none",
            "grant_types":["authorization_code","refresh_token"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let r = client
        .get(format!("{base}/dev-auth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", DEV_REDIRECT),
            ("code_challenge", DEV_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = client
        .post(format!("{base}/dev-auth/token"))
        .form(&dev_redeem(&id, &code))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, code, tokens)
}

fn dev_redeem<'a>(client: &'a str, code: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEV_REDIRECT),
        ("client_id", client),
        ("code_verifier", DEV_VERIFIER),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn the_development_server_cannot_be_reached_flooded_or_replayed() {
    let (capture, _guard) = capture();
    let (base, runs) = dev_server(false, |c| c).await;
    let (plain, _) = dev_server(true, |c| c).await;
    let (strict, _) = dev_server(false, |c| c.registrations_per_minute(1)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = base.rsplit(':').next().unwrap().to_owned();

    // A stolen refresh token (rotated since) and a redeemed code.
    let (id, _, tokens) = dev_flow(&client, &base, "files:admin").await;
    let stolen = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = client
        .post(format!("{base}/dev-auth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &stolen),
            ("client_id", &id),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (id2, code2, tokens2) = dev_flow(&client, &base, "files:read").await;
    let live2 = tokens2["refresh_token"].as_str().unwrap().to_owned();
    // The strict server's one registration this minute.
    dev_flow(&client, &strict, "files:read").await;

    let register = |base: &str| client.post(format!("{base}/dev-auth/register"));
    let json_to = |base: &str| register(base).header("content-type", "application/json");
    let metadata = format!("{base}/.well-known/oauth-authorization-server/dev-auth");
    let ok_body = json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none"});
    let cases: Vec<(&str, RequestBuilder, StatusCode, &str)> = vec![
        (
            "metadata for a foreign Host (DNS rebinding)",
            client
                .get(&metadata)
                .header("host", format!("evil.example:{port}")),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "registration from a rebound page: Host and Origin the attacker's",
            json_to(&base)
                .header("host", format!("evil.example:{port}"))
                .header("origin", format!("http://evil.example:{port}"))
                .body(ok_body.to_string()),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "token request for a Host on a domain starting with 127.0.0.1",
            client
                .post(format!("{base}/dev-auth/token"))
                .header("host", format!("127.0.0.1.nip.io:{port}"))
                .form(&dev_redeem(&id2, &code2)),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "a router served where the local address is unknown (plain axum::serve)",
            json_to(&plain).body(ok_body.to_string()),
            StatusCode::FORBIDDEN,
            "local_address_rejected",
        ),
        (
            "registration as text/plain",
            register(&base)
                .header("content-type", "text/plain")
                .body(ok_body.to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "registration_refused",
        ),
        (
            "registration with two Content-Types, JSON first",
            json_to(&base)
                .header("content-type", "text/plain")
                .body(ok_body.to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "registration_refused",
        ),
        (
            "registration of 100 KiB",
            json_to(&base).body(
                json!({"redirect_uris":[DEV_REDIRECT],"x":"x".repeat(100 * 1024)}).to_string(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "registration_refused",
        ),
        (
            "registration of 1,000 redirect URIs",
            json_to(&base).body(json!({"redirect_uris": vec![DEV_REDIRECT; 1000]}).to_string()),
            StatusCode::BAD_REQUEST,
            "registration_refused",
        ),
        (
            "a second registration in a minute at 1 a minute",
            json_to(&strict).body(ok_body.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
            "registration_refused",
        ),
        (
            "a rotated refresh token replayed",
            client.post(format!("{base}/dev-auth/token")).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", stolen.as_str()),
                ("client_id", id.as_str()),
            ]),
            StatusCode::BAD_REQUEST,
            "refresh_token_reused",
        ),
        (
            "an authorization code redeemed twice",
            client
                .post(format!("{base}/dev-auth/token"))
                .form(&dev_redeem(&id2, &code2)),
            StatusCode::BAD_REQUEST,
            "code_replayed",
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (name, request, status, event) in cases {
        let mark = capture.len();
        let runs_before = runs.count();
        let r = request.send().await.unwrap();
        let got = r.status();
        let challenge = r.headers().get("www-authenticate").cloned();
        let location = r.headers().get("location").cloned();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let events = capture.since(mark);
        let mut problems = Vec::new();
        if got != status {
            problems.push(format!("status {got} (expected {status})"));
        }
        if let Some(c) = challenge {
            problems.push(format!("unexpected challenge {c:?}"));
        }
        for credential in [
            "access_token",
            "refresh_token",
            "client_id",
            "client_secret",
        ] {
            if body.get(credential).is_some() {
                problems.push(format!("a {credential} came back"));
            }
        }
        if location.is_some() {
            problems.push("a redirect (with a code?) came back".to_owned());
        }
        if !events.iter().any(|e| e.is(DEV, event)) {
            problems.push(format!("audit: no {event} event on {DEV}"));
        }
        if runs.count() != runs_before {
            problems.push("a tool ran".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{name}] {}\n    body {}\n    events {:?}",
                problems.join("; "),
                truncate(&body.to_string()),
                events.iter().map(|e| &e.fields).collect::<Vec<_>>()
            ));
        }
    }
    // What the replays revoked: the victims' live refresh tokens.
    for (name, client_id, token) in [
        ("after a refresh token replay", &id, &live),
        ("after a code replay", &id2, &live2),
    ] {
        let r = client
            .post(format!("{base}/dev-auth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::BAD_REQUEST {
            failures.push(format!("[{name}] the live refresh token still works"));
        }
    }
    // Control: a token from the same server runs a tool, exactly once.
    let (_, _, tokens) = dev_flow(&client, &base, "files:read").await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut call = call_body("read_file");
    call["params"]["_meta"] = support::modern_meta();
    let r = client
        .post(format!("{base}/mcp"))
        .bearer_auth(access)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "read_file")
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::OK {
        failures.push(format!("[control] the tool call got {}", r.status()));
    }
    assert_no_failures("development server", count, &failures);
    assert_eq!(runs.count(), 1, "only the control ran a tool");
}

// ---- plain http:// found by discovery: never fetched -------------------------------------------
//
// An issuer's metadata (fetched over https, or loopback) can name a `jwks_uri` on plain http://.
// Whoever is on that path would choose the keys, and with them which tokens are genuine
// (issue 18, item 8). Such a URL off loopback is refused before any request: the issuer counts
// as failing. The JWKS at `0.0.0.0` below is the key server's own (Linux connects `0.0.0.0` to
// this machine), so a 401 proves the refusal, not a network failure.

#[tokio::test(flavor = "current_thread")]
async fn a_discovered_plain_http_jwks_uri_is_refused_not_fetched() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, host) in [
        ("discovered http jwks_uri on 0.0.0.0", "0.0.0.0"),
        (
            "discovered http jwks_uri on a LAN name",
            "jwks.internal.example",
        ),
    ] {
        let h = default_harness(&capture).await;
        let port = h.keys.addr().port();
        let mut metadata = h.keys.metadata();
        metadata["jwks_uri"] = json!(format!("http://{host}:{port}/jwks"));
        h.keys.set_raw_metadata(Some(metadata));
        let token = h.token("files:read").build();
        let mark = h.capture.len();
        count += run(
            &h,
            vec![case(
                name,
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let refused = h.capture.since(mark).iter().any(|e| {
            e.is(AUTH, "jwks_fetch_failed")
                && e.field("error").is_some_and(|error| {
                    error.contains("allow_insecure_http") && error.contains(host)
                })
        });
        if !refused {
            failures.push(format!("[{name}] no jwks_fetch_failed naming the opt-out"));
        }
        if h.keys.jwks_fetches() != 0 {
            failures.push(format!("[{name}] the JWKS was fetched"));
        }
    }
    assert_no_failures("plain http discovery", count, &failures);
}

// ---- a withdrawn key: what it verified is not remembered -----------------------------------------
//
// Verified tokens are remembered until their `exp`, and a JWKS refresh that finds the same keys
// keeps them (issue 18, item 7). One that finds a key withdrawn, or changed under its `kid`,
// must forget every token that key verified: a leaked signing key is withdrawn precisely so that
// its tokens stop working.

#[tokio::test(flavor = "current_thread")]
async fn tokens_of_a_withdrawn_or_changed_key_are_refused_at_once() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, replacement) in [
        ("key withdrawn", vec![TestKey::rsa_b()]),
        (
            "other key material under the same kid",
            vec![TestKey::rsa_b().with_kid("rsa-a")],
        ),
    ] {
        let h = harness(
            KeyServer::start().await,
            &capture,
            |j| j.refresh_cooldown(Duration::ZERO),
            |c| c,
        )
        .await;
        let leaked = h.token("files:read").build();
        count += run(
            &h,
            vec![case(
                format!("{name}: control before"),
                h.modern_call(&leaked, "whoami", "whoami"),
                Expect::Accepted,
            )],
            &mut failures,
        )
        .await;
        h.keys.set_keys(replacement);
        // Any unknown kid makes the server look at the keys again.
        let probe = h.token("files:read").kid("rotation-probe").build();
        let expected = if name == "key withdrawn" {
            UNKNOWN_KEY
        } else {
            SIGNATURE
        };
        count += run(
            &h,
            vec![
                case(
                    format!("{name}: unknown kid"),
                    h.modern_call(&probe, "whoami", "whoami"),
                    Expect::InvalidToken(UNKNOWN_KEY),
                ),
                case(
                    format!("{name}: the remembered token"),
                    h.modern_call(&leaked, "whoami", "whoami"),
                    Expect::InvalidToken(expected),
                ),
            ],
            &mut failures,
        )
        .await;
    }
    assert_no_failures("withdrawn keys", count, &failures);
}

// ---- log floods: refusals are summarised at INFO, within a line budget ---------------------
//
// A client held over its rate limit, or sending forged tokens, must not be able to fill a disk
// or a log bill. Each flood below sends 3,000 refused requests over loopback (from one address,
// or from 1,000 addresses: the client binds 127.0.x.y) to a server logging as the quick start
// does (a real `fmt` writer at `info`), and asserts, for every request, its status and
// challenge; that no tool ran; that every refusal still has its own event at DEBUG; that the
// INFO summaries account for every request; and that the INFO log stayed within budget.

/// INFO lines a 3,000-request flood may write, whatever it is made of.
const FLOOD_LINE_BUDGET: usize = 100;

/// What a `fmt` layer wrote: the log as the operator sees it.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// One kind of refused request, sent raw (HTTP/1.1, pipelined).
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// Header lines added to the request, each ending in CRLF.
    headers: &'static str,
    /// A `Host` other than the server's own.
    host: Option<&'static str>,
    /// The status it must get.
    status: u16,
    /// The challenge's `error` (`""`: a challenge without one), or `None`: no challenge.
    challenge: Option<&'static str>,
    /// Its own event, at DEBUG: target and `event`.
    event: (&'static str, &'static str),
}

const FORGED_TOKEN: Probe = Probe {
    headers: "authorization: Bearer forged.token.value\r\n",
    host: None,
    status: 401,
    challenge: Some("invalid_token"),
    event: (AUTH, "token_rejected"),
};
const NO_TOKEN: Probe = Probe {
    headers: "",
    host: None,
    status: 401,
    challenge: Some(""),
    event: (AUTH, "token_missing"),
};
const OTHER_SCHEME: Probe = Probe {
    headers: "authorization: Basic dXNlcjpwYXNz\r\n",
    host: None,
    status: 400,
    challenge: Some("invalid_request"),
    event: (AUTH, "token_rejected"),
};
const FOREIGN_ORIGIN: Probe = Probe {
    headers: "origin: https://evil.example\r\n",
    host: None,
    status: 403,
    challenge: None,
    event: (HTTP, "origin_rejected"),
};
const FOREIGN_HOST: Probe = Probe {
    headers: "",
    host: Some("evil.example"),
    status: 403,
    challenge: None,
    event: (HTTP, "host_rejected"),
};

/// A flood: `addresses` clients, each sending `each` requests, over connections of at most
/// `per_connection` pipelined requests.
struct Flood {
    name: &'static str,
    addresses: u32,
    each: u32,
    per_connection: u32,
    /// Request `n` of the flood.
    probe: fn(u32) -> Probe,
    config: fn(HttpConfig) -> HttpConfig,
    /// The summaries' `top_address`, when one address sent it all.
    top_address: Option<&'static str>,
    /// The distinct addresses the busiest kind's summary must count (within 10 %).
    summary_addresses: u64,
}

/// One answer read off a pipelined connection: status and (lower-case) headers.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    headers: BTreeMap<String, String>,
}

/// Splits what a connection returned into its answers (bodies have a `Content-Length`).
fn parse_answers(mut bytes: &[u8]) -> Vec<RawAnswer> {
    let mut answers = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers: BTreeMap<String, String> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        bytes = &bytes[(end + 4 + length).min(bytes.len())..];
        answers.push(RawAnswer { status, headers });
    }
    answers
}

/// Sends `probes` pipelined on one connection from `local` to `server`; the answers, in order.
async fn pipeline(
    local: std::net::IpAddr,
    server: std::net::SocketAddr,
    probes: &[Probe],
) -> Vec<RawAnswer> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(local, 0)).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let body = call_body("read_file").to_string();
    let mut requests = String::new();
    for (i, probe) in probes.iter().enumerate() {
        let host = probe.host.map_or_else(|| server.to_string(), str::to_owned);
        let close = if i + 1 == probes.len() {
            "connection: close\r\n"
        } else {
            ""
        };
        requests.push_str(&format!(
            "POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
             accept: application/json, text/event-stream\r\ncontent-length: {}\r\n{}{close}\r\n{body}",
            body.len(),
            probe.headers,
        ));
    }
    stream.write_all(requests.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer))
        .await
        .expect("the answers within 15 s")
        .unwrap();
    parse_answers(&answer)
}

/// The `n`th client address of a flood: 127.0.0.1 for the first, then 127.0.x.y.
fn client_address(n: u32) -> std::net::IpAddr {
    let [_, _, x, y] = (0x7f00_0001 + n).to_be_bytes();
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, x, y))
}

/// Runs `flood` against a fresh server; returns what went wrong.
async fn run_flood(flood: &Flood, keys: &KeyServer) -> Vec<String> {
    // The quick start's setup: a `fmt` writer at `info`; and, beside it, the capture of every
    // event at every level.
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let (capture, logs) = (Capture::default(), LogBuffer::default());
    let subscriber = tracing_subscriber::registry().with(capture.clone()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_filter(tracing_subscriber::EnvFilter::new("info")),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let resource = format!("http://{server}/mcp");
    let config =
        (flood.config)(HttpConfig::new(&resource).jwt(JwtConfig::new(keys.issuer(), &resource)));
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            stopped.await.ok();
        })
        .await
        .unwrap();
    });

    let started = Instant::now();
    let mut sent = Vec::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut answers = Vec::new();
    for address in 0..flood.addresses {
        let mut first = address * flood.each;
        let end = first + flood.each;
        while first < end {
            let last = (first + flood.per_connection).min(end);
            let probes: Vec<Probe> = (first..last).map(flood.probe).collect();
            sent.extend(probes.iter().copied());
            let local = client_address(address);
            let from = first as usize;
            connections.spawn(async move { (from, pipeline(local, server, &probes).await) });
            first = last;
            // A bounded number of connections at once.
            if connections.len() >= 32 {
                answers.push(connections.join_next().await.unwrap().unwrap());
            }
        }
    }
    while let Some(done) = connections.join_next().await {
        answers.push(done.unwrap());
    }
    let elapsed = started.elapsed();
    // The server ends; its last window is written as it goes.
    drop(stop);
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server ends")
        .unwrap();

    let mut problems = Vec::new();
    let total = sent.len();
    let mut got = 0;
    let mut limited = 0;
    for (from, answers) in answers {
        for (i, answer) in answers.iter().enumerate() {
            got += 1;
            let probe = sent[from + i];
            if answer.status == 429 && answer.headers.contains_key("retry-after") {
                limited += 1;
                continue;
            }
            let challenge = answer.headers.get("www-authenticate");
            let error = challenge.map(|c| param(c, "error").unwrap_or(""));
            let points_at_metadata = challenge.is_none_or(|c| {
                param(c, "resource_metadata")
                    == Some(&format!(
                        "http://{server}/.well-known/oauth-protected-resource/mcp"
                    ))
            });
            if answer.status != probe.status || error != probe.challenge || !points_at_metadata {
                problems.push(format!(
                    "[{}] request {}: expected {} with challenge error {:?}, got {} with {challenge:?}",
                    flood.name,
                    from + i,
                    probe.status,
                    probe.challenge,
                    answer.status
                ));
            }
        }
    }
    if got != total {
        problems.push(format!(
            "[{}] {got} answers to {total} requests",
            flood.name
        ));
    }
    if runs.count() != 0 {
        problems.push(format!(
            "[{}] a tool ran {} times",
            flood.name,
            runs.count()
        ));
    }

    // Every refusal still has its own event, at DEBUG.
    let events = capture.since(0);
    let mut own_events: Vec<(&str, &str)> = sent.iter().map(|p| p.event).collect();
    own_events.push((HTTP, "rate_limited"));
    own_events.sort_unstable();
    own_events.dedup();
    let per_request = events
        .iter()
        .filter(|e| own_events.iter().any(|(target, event)| e.is(target, event)))
        .count();
    if per_request != total {
        problems.push(format!(
            "[{}] {per_request} per-request refusal events for {total} requests",
            flood.name
        ));
    }
    let rate_limited_events = events.iter().filter(|e| e.is(HTTP, "rate_limited")).count();
    if rate_limited_events != limited {
        problems.push(format!(
            "[{}] {limited} answers 429 but {rate_limited_events} rate_limited events",
            flood.name
        ));
    }
    // The summaries account for every request.
    let summaries: Vec<&Event> = events
        .iter()
        .filter(|e| e.field("event") == Some("refusals_summary"))
        .collect();
    let number =
        |e: &Event, name: &str| -> u64 { e.field(name).and_then(|n| n.parse().ok()).unwrap_or(0) };
    let summarised: u64 = summaries.iter().map(|e| number(e, "count")).sum();
    if summarised != total as u64 {
        problems.push(format!(
            "[{}] the summaries count {summarised} refusals of {total}: {summaries:?}",
            flood.name
        ));
    }
    // The busiest kind with a line of its own (not the `other` line past the cap).
    let busiest = summaries
        .iter()
        .filter(|e| e.field("kind") != Some("other"))
        .max_by_key(|e| number(e, "count"));
    let addresses = busiest.map_or(0, |e| number(e, "addresses"));
    let expected = flood.summary_addresses;
    if addresses * 10 < expected * 9 || addresses * 10 > expected * 11 {
        problems.push(format!(
            "[{}] the busiest summary counts {addresses} addresses of {expected}",
            flood.name
        ));
    }
    if let Some(top) = flood.top_address
        && busiest.and_then(|e| e.field("top_address")) != Some(top)
    {
        problems.push(format!(
            "[{}] the busiest summary names another top address: {busiest:?}",
            flood.name
        ));
    }
    // The log at the default level: within budget, and it says what happened.
    let lines = logs.lines();
    let said = lines
        .iter()
        .filter(|l| l.contains("requests refused for"))
        .count();
    if lines.len() > FLOOD_LINE_BUDGET || said != summaries.len() || said == 0 {
        problems.push(format!(
            "[{}] {} INFO lines ({said} summaries), budget {FLOOD_LINE_BUDGET}:\n{}",
            flood.name,
            lines.len(),
            lines.join("\n")
        ));
    }
    println!(
        "{}: {total} requests ({limited} rate limited) in {elapsed:?}: {} INFO lines, {} events at all levels\n{}",
        flood.name,
        lines.len(),
        events.len(),
        lines.join("\n")
    );
    problems
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_refusals_writes_a_bounded_log() {
    let floods = [
        Flood {
            name: "3,000 forged tokens from one address, held over its rate limit",
            addresses: 1,
            each: 3000,
            per_connection: 100,
            probe: |_| FORGED_TOKEN,
            config: |c| c.rate_per_address(Some(scopegate::http::Quota::new(100, 1.0))),
            top_address: Some("127.0.0.1"),
            summary_addresses: 1,
        },
        Flood {
            name: "3 forged tokens from each of 1,000 addresses",
            addresses: 1000,
            each: 3,
            per_connection: 3,
            probe: |_| FORGED_TOKEN,
            config: |c| c,
            top_address: None,
            summary_addresses: 1000,
        },
        Flood {
            name: "every kind of refusal from 1,000 addresses (more kinds than summary lines)",
            addresses: 1000,
            each: 3,
            per_connection: 3,
            probe: |n| {
                [
                    FORGED_TOKEN,
                    NO_TOKEN,
                    OTHER_SCHEME,
                    FOREIGN_ORIGIN,
                    FOREIGN_HOST,
                ][n as usize % 5]
            },
            config: |c| c,
            top_address: None,
            // Each address sends three kinds: each kind comes from 600 addresses.
            summary_addresses: 600,
        },
    ];
    let keys = KeyServer::start().await;
    let mut failures = Vec::new();
    for flood in &floods {
        failures.extend(run_flood(flood, &keys).await);
    }
    assert_no_failures("log floods", floods.len(), &failures);
}

// A caller with a valid token is not refused, yet can still make the server log once per
// request: a scope denial naming the resource URI it chose (up to the body limit), a session
// started past its cap (ending its oldest), an error response with `id: null` carrying a
// message of its choosing (issue 18, item 10). The flood below sends 3,000 of those over
// loopback, and the log at the default level must stay within the line budget, every line
// short: the names a client chose are clipped, evictions counted, the client's errors at DEBUG.
// Scope denials stay one INFO line each (the audit trail), so they are a small share here.

/// Bytes a line of the log at the default level may take, whatever the flood sent.
const FLOOD_LINE_BYTES: usize = 2048;

#[tokio::test(flavor = "current_thread")]
async fn a_flood_with_a_valid_token_writes_a_bounded_log() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let (capture, logs) = (Capture::default(), LogBuffer::default());
    let subscriber = tracing_subscriber::registry().with(capture.clone()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_filter(tracing_subscriber::EnvFilter::new("info")),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let resource = format!("http://{server}/mcp");
    // No rate limits: every request reaches the handler that logs it.
    let config = HttpConfig::new(&resource)
        .jwt(JwtConfig::new(keys.issuer(), &resource))
        .rate_per_address(None)
        .rate_per_principal(None);
    let runs = Runs::default();
    let router = Server::new(Store { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
            .unwrap();
    });

    // Two valid tokens, neither granting `store:vault`: one churns sessions, the other keeps
    // one session for its denials and error responses (so no churn ends it).
    let churner = keys
        .token(&resource, "store:private")
        .claim("sub", "churner")
        .build();
    let reader = keys
        .token(&resource, "store:private")
        .claim("sub", "reader")
        .build();
    let client = reqwest::Client::new();
    let initialize = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let post = |token: &str, session: Option<&str>, body: String| {
        let mut request = client
            .post(&resource)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {token}"))
            .body(body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    };
    let session = post(&reader, None, initialize.to_string())
        .send()
        .await
        .unwrap()
        .headers()
        .get("mcp-session-id")
        .expect("initialize issues a session id")
        .to_str()
        .unwrap()
        .to_owned();
    let mark = capture.len();
    let logged_before = logs.lines().len();

    /// What request `n` of the flood is, and what it must get.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Sent {
        Denied,
        Initialize,
        NullIdError,
    }
    const TOTAL: usize = 3000;
    const DENIALS: usize = 50;
    let long = "v".repeat(64 * 1024);
    let kind = |n: usize| match n {
        _ if n.is_multiple_of(60) => Sent::Denied,
        _ if n.is_multiple_of(2) => Sent::Initialize,
        _ => Sent::NullIdError,
    };
    let mut requests = Vec::with_capacity(TOTAL);
    for n in 0..TOTAL {
        let sent = kind(n);
        let request = match sent {
            // One URI of a whole MiB, the rest of 64 KiB.
            Sent::Denied => {
                let item = if n == 0 {
                    "w".repeat(1 << 20)
                } else {
                    format!("{long}{n}")
                };
                let body = json!({"jsonrpc":"2.0","id":n,"method":"resources/read","params":{"uri":format!("store://h/vault/{item}")}});
                post(&reader, Some(&session), body.to_string())
            }
            Sent::Initialize => post(&churner, None, initialize.to_string()),
            Sent::NullIdError => {
                let body =
                    json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":long}});
                post(&reader, Some(&session), body.to_string())
            }
        };
        requests.push((sent, request));
    }
    assert_eq!(
        requests.iter().filter(|(s, _)| *s == Sent::Denied).count(),
        DENIALS
    );

    let mut failures = Vec::new();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut answers = Vec::with_capacity(TOTAL);
    for (n, (sent, request)) in requests.into_iter().enumerate() {
        in_flight.spawn(async move { (n, sent, request.send().await) });
        if in_flight.len() >= 16 {
            answers.push(in_flight.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(done) = in_flight.join_next().await {
        answers.push(done.unwrap());
    }
    for (n, sent, answer) in answers {
        // A header too large for the client to read is a failure too, not a panic.
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                failures.push(format!("request {n} ({sent:?}): {error:?}"));
                continue;
            }
        };
        let status = answer.status();
        let challenge = answer
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("<not visible ASCII>").to_owned());
        let ok = match sent {
            Sent::Denied => {
                let challenge = challenge.as_deref().unwrap_or("");
                let length = if n == 0 {
                    (1 << 20) + 16
                } else {
                    64 * 1024 + 16 + n.to_string().len()
                };
                status == StatusCode::FORBIDDEN
                    && param(challenge, "error") == Some("insufficient_scope")
                    && challenge.len() < 1024
                    && param(challenge, "error_description")
                        .is_some_and(|d| d.contains(&format!("... ({length} bytes)")))
            }
            Sent::Initialize => status == StatusCode::OK && challenge.is_none(),
            Sent::NullIdError => status == StatusCode::ACCEPTED && challenge.is_none(),
        };
        if !ok {
            failures.push(format!(
                "request {n} ({sent:?}): {status} with {challenge:?}"
            ));
        }
    }
    if runs.count() != 0 {
        failures.push(format!("a resource was read {} times", runs.count()));
    }
    drop(stop);
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server ends")
        .unwrap();

    // Each still has its own event: a denial at INFO, the others at DEBUG.
    let events = capture.since(mark);
    let count = |target: &str, event: &str| events.iter().filter(|e| e.is(target, event)).count();
    let initializes = (0..TOTAL).filter(|&n| kind(n) == Sent::Initialize).count();
    let errors = TOTAL - DENIALS - initializes;
    for (target, event, expected) in [
        (AUTH, "scope_denied", DENIALS),
        // The churner's first 100 sessions fit under the per-principal cap.
        (HTTP, "session_evicted", initializes - 100),
        ("scopegate::tool", "client_error_response", errors),
    ] {
        if count(target, event) != expected {
            failures.push(format!(
                "{} {event} events for {expected}",
                count(target, event)
            ));
        }
    }
    // The log at the default level: within budget, every line short.
    let lines = logs.lines()[logged_before..].to_vec();
    let long_lines: Vec<String> = lines
        .iter()
        .filter(|l| l.len() >= FLOOD_LINE_BYTES)
        .map(|l| format!("{} bytes: {}...", l.len(), &l[..200]))
        .collect();
    if lines.len() > FLOOD_LINE_BUDGET || !long_lines.is_empty() {
        failures.push(format!(
            "{} lines at the default level (budget {FLOOD_LINE_BUDGET}), {} of {FLOOD_LINE_BYTES} bytes or more:\n{}",
            lines.len(),
            long_lines.len(),
            long_lines.join("\n")
        ));
    }
    let scope_lines = lines.iter().filter(|l| l.contains("scope_denied")).count();
    if scope_lines != DENIALS {
        failures.push(format!(
            "{scope_lines} scope_denied lines for {DENIALS} denials"
        ));
    }
    println!(
        "valid-token flood: {TOTAL} requests, {} lines at the default level, longest {} bytes",
        lines.len(),
        lines.iter().map(String::len).max().unwrap_or(0)
    );
    assert_no_failures("valid-token flood", TOTAL, &failures);
}

// ---- the development server: consent flooding, a shared quota, a proxy in front ---------------
//
// Web pages reach the loopback development server through the developer's browser: `<img>`
// requests to `/authorize` (each kept pending with its `state`), a form posting a forged
// approval, registrations that spend a quota shared with the developer's own tools. A reverse
// proxy on the same machine arrives on loopback. Every case asserts the status, that no Bearer
// challenge and no code or credential came back, the audit event, and that no tool ran; the
// controls show the developer's own client still registers, and a token still runs a tool.

/// Registers a public client (with `origin`, if any) on the development server at `base`:
/// the status and the client id.
async fn dev_register(
    client: &reqwest::Client,
    base: &str,
    origin: Option<&str>,
) -> (StatusCode, String) {
    let mut request = client
        .post(format!("{base}/dev-auth/register"))
        .json(&json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none"}));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["client_id"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "current_thread")]
async fn the_development_server_keeps_pages_and_proxies_out() {
    let (capture, _guard) = capture();
    let (base, runs) =
        dev_server(false, |c| c.auto_approve(false).max_clients_per_address(2)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize_url = format!("{base}/dev-auth/authorize");
    let (status, id) = dev_register(&client, &base, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let authorize = |state: &str| {
        client.get(&authorize_url).query(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", DEV_REDIRECT),
            ("code_challenge", DEV_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", state),
        ])
    };
    // A consent page left open (its request id), then 19 more pending: the client's 20.
    let page = authorize("s").send().await.unwrap().text().await.unwrap();
    let pending = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    for _ in 0..19 {
        assert_eq!(
            authorize("s").send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    // A page's origin spends its quota of two clients.
    for _ in 0..2 {
        let (status, _) = dev_register(&client, &base, Some("https://evil.example")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let decision = |site: &str| {
        client
            .post(format!("{base}/dev-auth/authorize/decision"))
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "navigate")
            .form(&[("request", pending.as_str()), ("decision", "approve")])
    };
    let metadata = format!("{base}/.well-known/oauth-authorization-server/dev-auth");
    let cases: Vec<(&str, RequestBuilder, StatusCode, &str)> = vec![
        (
            "a 60 KB state, to be kept pending",
            authorize(&"s".repeat(60_000)),
            StatusCode::SEE_OTHER,
            "authorize_refused",
        ),
        (
            "the 21st pending request of one client",
            authorize("s"),
            StatusCode::TOO_MANY_REQUESTS,
            "authorize_refused",
        ),
        (
            "/authorize fetched by an <img> on another page",
            authorize("s")
                .header("sec-fetch-mode", "no-cors")
                .header("sec-fetch-site", "cross-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "an approval posted by a form on another site",
            decision("cross-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "an approval posted from a sibling site",
            decision("same-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "a third registration from a page's origin",
            client
                .post(format!("{base}/dev-auth/register"))
                .header("origin", "https://evil.example")
                .json(&json!({"redirect_uris":[DEV_REDIRECT]})),
            StatusCode::TOO_MANY_REQUESTS,
            "registration_refused",
        ),
        (
            "metadata through nginx (X-Forwarded-For, X-Real-IP)",
            client
                .get(&metadata)
                .header("x-forwarded-for", "192.0.2.60")
                .header("x-real-ip", "192.0.2.60"),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "registration through a proxy that writes Forwarded",
            client
                .post(format!("{base}/dev-auth/register"))
                .header("forwarded", "for=192.0.2.60;proto=https")
                .json(&json!({"redirect_uris":[DEV_REDIRECT]})),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "/authorize through a tunnel that writes Via",
            authorize("s").header("via", "1.1 tunnel"),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "a token request with only X-Forwarded-Proto",
            client
                .post(format!("{base}/dev-auth/token"))
                .header("x-forwarded-proto", "https")
                .form(&dev_redeem(&id, "a-code")),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "a decision with X-Forwarded-Host",
            client
                .post(format!("{base}/dev-auth/authorize/decision"))
                .header("x-forwarded-host", "dev.example")
                .form(&[("request", pending.as_str()), ("decision", "approve")]),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (name, request, status, event) in cases {
        let mark = capture.len();
        let runs_before = runs.count();
        let r = request.send().await.unwrap();
        let got = r.status();
        let challenge = r.headers().get("www-authenticate").cloned();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap_or("").to_owned());
        let body = r.text().await.unwrap_or_default();
        let events = capture.since(mark);
        let mut problems = Vec::new();
        if got != status {
            problems.push(format!("status {got} (expected {status})"));
        }
        if let Some(c) = challenge {
            problems.push(format!("unexpected challenge {c:?}"));
        }
        // A refusal may redirect with an error, never with a code, nor echo a huge state.
        if let Some(location) = &location {
            let url = reqwest::Url::parse(location).unwrap();
            let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            if !keys.iter().any(|k| k == "error") || keys.iter().any(|k| k == "code") {
                problems.push(format!("a redirect without an error: {keys:?}"));
            }
            if location.len() > 2048 {
                problems.push(format!("a redirect of {} bytes", location.len()));
            }
        }
        for credential in [
            "access_token",
            "refresh_token",
            "client_id",
            "client_secret",
        ] {
            if body.contains(&format!("\"{credential}\"")) {
                problems.push(format!("a {credential} came back"));
            }
        }
        if !events.iter().any(|e| e.is(DEV, event)) {
            problems.push(format!("audit: no {event} event on {DEV}"));
        }
        if runs.count() != runs_before {
            problems.push("a tool ran".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{name}] {}\n    body {}\n    events {:?}",
                problems.join("; "),
                truncate(&body),
                events.iter().map(|e| &e.fields).collect::<Vec<_>>()
            ));
        }
    }
    // Controls: the developer's own tools (no Origin) still register on the same address, and
    // the consent page's own form (same-origin) still gets its code, neither cached nor referred.
    let (status, _) = dev_register(&client, &base, None).await;
    if status != StatusCode::CREATED {
        failures.push(format!(
            "[control] the developer's registration got {status}"
        ));
    }
    let r = decision("same-origin").send().await.unwrap();
    let headers = r.headers();
    let code = headers
        .get("location")
        .and_then(|l| reqwest::Url::parse(l.to_str().ok()?).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        });
    if code.is_none()
        || headers.get("cache-control").is_none_or(|v| v != "no-store")
        || headers
            .get("referrer-policy")
            .is_none_or(|v| v != "no-referrer")
    {
        failures.push(format!(
            "[control] the consent form's approval: {headers:?}"
        ));
    }
    if let Some(code) = code {
        let tokens: Value = client
            .post(format!("{base}/dev-auth/token"))
            .form(&dev_redeem(&id, &code))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut call = call_body("read_file");
        call["params"]["_meta"] = support::modern_meta();
        let r = client
            .post(format!("{base}/mcp"))
            .bearer_auth(tokens["access_token"].as_str().unwrap_or(""))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "read_file")
            .body(call.to_string())
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            failures.push(format!("[control] the tool call got {}", r.status()));
        }
    }
    assert_no_failures("development server: pages and proxies", count, &failures);
    assert_eq!(runs.count(), 1, "only the control ran a tool");
}

// ---- a key shadowed under its kid: what it verified is not remembered -----------------------
//
// RFC 7517 §4.5 wants distinct `kid`s; an issuer (or whoever controls its JWKS) may still
// publish a second key of the same type under a `kid` already used. Tokens name keys by `kid`,
// so the later key is the one used, and the earlier one, still listed but unreachable, must
// count as withdrawn: the tokens it verified are not remembered (issue 18, item 7).

#[tokio::test(flavor = "current_thread")]
async fn tokens_of_a_key_shadowed_under_its_kid_are_refused_at_once() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    let h = harness(
        KeyServer::start().await,
        &capture,
        |j| j.refresh_cooldown(Duration::ZERO),
        |c| c,
    )
    .await;
    let shadowed = h.token("files:read").build();
    count += run(
        &h,
        vec![case(
            "control before",
            h.modern_call(&shadowed, "whoami", "whoami"),
            Expect::Accepted,
        )],
        &mut failures,
    )
    .await;
    // The signing key stays published, with another RSA key after it under its kid.
    h.keys
        .set_keys(vec![TestKey::rsa_a(), TestKey::rsa_b().with_kid("rsa-a")]);
    let probe = h.token("files:read").kid("shadow-probe").build();
    count += run(
        &h,
        vec![
            case(
                "unknown kid (the keys are looked at again)",
                h.modern_call(&probe, "whoami", "whoami"),
                Expect::InvalidToken(UNKNOWN_KEY),
            ),
            case(
                "the remembered token of the shadowed key",
                h.modern_call(&shadowed, "whoami", "whoami"),
                Expect::InvalidToken(SIGNATURE),
            ),
        ],
        &mut failures,
    )
    .await;
    assert_no_failures("shadowed kid", count, &failures);
}
