//! Abuse limits and graceful shutdown, over real HTTP on 127.0.0.1: rate limits (429 with
//! Retry-After), concurrency (503), session caps with eviction, handler timeouts, slow and
//! oversized request heads, and a shutdown that lets in-flight calls finish.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use scopegate::ServerOptions;
use scopegate::auth::JwtConfig;
use scopegate::http::{HttpConfig, Quota, ServeOptions, serve_with};
use scopegate::prelude::*;
use serde_json::{Value, json};
use support::KeyServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sleeps for `ms` milliseconds.
#[mcp_tool(public)]
async fn nap(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms}")
}

/// Needs a scope.
#[mcp_tool(scope = "x:use")]
fn scoped() -> &'static str {
    "ok"
}

/// Reports progress at once, then sleeps for `ms` milliseconds: its answer becomes an event
/// stream while it still runs.
#[mcp_tool(public)]
async fn chatty(ms: u64, ctx: RequestContext) -> String {
    ctx.progress(0.0, None, Some("starting"));
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms}")
}

/// The tags of [`linger`] calls that started, and of those whose handler was dropped.
static STARTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static DROPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Notes `tag` when its handler is dropped.
struct Noted(String);

impl Drop for Noted {
    fn drop(&mut self) {
        DROPPED.lock().unwrap().push(std::mem::take(&mut self.0));
    }
}

/// Runs for an hour, noting its tag when it starts and when it is dropped; with a progress
/// token it reports progress first, so that its answer is an event stream.
#[mcp_tool(public)]
async fn linger(tag: String, ctx: RequestContext) -> String {
    let _noted = Noted(tag.clone());
    STARTED.lock().unwrap().push(tag);
    ctx.progress(0.0, None, Some("lingering"));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "unreachable".into()
}

#[derive(McpServer)]
#[mcp(name = "limits", tools(nap, scoped, chatty, linger))]
struct Limits;

struct Env {
    url: String,
    base: String,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

async fn start(
    options: ServerOptions,
    configure: impl FnOnce(HttpConfig) -> HttpConfig,
    serve: impl FnOnce(ServeOptions) -> ServeOptions,
) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{base}/mcp");
    let config = configure(
        HttpConfig::new(&url)
            .without_authorization()
            .stateless(true),
    );
    let router = Server::with_options(Limits, options)
        .unwrap()
        .http(config)
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve_options = serve(ServeOptions::default().shutdown_on(async {
        let _ = rx.await;
    }));
    let served =
        tokio::spawn(async move { serve_with(listener, router, serve_options).await.unwrap() });
    Env {
        url,
        base,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        served,
    }
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":arguments}})
}

impl Env {
    async fn post(&self, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_address_is_rate_limited_on_every_endpoint() {
    let env = start(
        ServerOptions::default(),
        |c| c.rate_per_address(Some(Quota::new(3, 0.2))),
        |s| s,
    )
    .await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    for _ in 0..2 {
        assert_eq!(env.post(&ping, None).await.status(), StatusCode::OK);
    }
    // Discovery draws from the same bucket: a client hammering it is slowed too.
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", env.base);
    assert_eq!(
        env.http.get(&metadata).send().await.unwrap().status(),
        StatusCode::OK
    );
    let refused = env.post(&ping, None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        (1..=5).contains(&retry_after(&refused)),
        "{}",
        retry_after(&refused)
    );
    let refused = env.http.get(&metadata).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_principal_is_rate_limited() {
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = HttpConfig::new(&url)
        .jwt(JwtConfig::new(keys.issuer(), &url))
        .stateless(true)
        .rate_per_principal(Some(Quota::new(2, 0.1)));
    let router = Server::new(Limits).unwrap().http(config).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::new();
    let alice = keys.token(&url, "x:use").build();
    let bob = keys.token(&url, "x:use").sub("bob").build();
    let send = |token: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(call("scoped", json!({})).to_string())
            .send()
    };
    assert_eq!(send(alice.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(send(alice.clone()).await.unwrap().status(), StatusCode::OK);
    let refused = send(alice).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) >= 1);
    assert_eq!(
        send(bob).await.unwrap().status(),
        StatusCode::OK,
        "another principal is not slowed"
    );
}

/// Vouches for tokens without naming a subject, as an introspection answer or a custom
/// verifier may: `subless-*` with a scope, `empty-*` with nothing at all.
struct SubjectLess;

impl scopegate::auth::TokenVerifier for SubjectLess {
    fn verify<'a>(&'a self, token: &'a str) -> scopegate::auth::VerifyFuture<'a> {
        let answer = if token.starts_with("subless-") {
            Ok(Principal::builder()
                .issuer("https://as.example")
                .client_id("app")
                .scopes(scopegate::ScopeSet::from_space_separated("x:use"))
                .build())
        } else if token.starts_with("empty-") {
            Ok(Principal::anonymous())
        } else {
            Err(scopegate::auth::AuthError::Inactive)
        };
        Box::pin(std::future::ready(answer))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_a_subject_are_limited_per_token() {
    let env = start(
        ServerOptions::default(),
        |c| {
            c.verifier(SubjectLess)
                .authorization_server("https://as.example")
                .rate_per_address(None)
                .rate_per_principal(Some(Quota::new(2, 0.001)))
        },
        |s| s,
    )
    .await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    for token in ["subless-1", "empty-1"] {
        assert_eq!(env.post(&ping, Some(token)).await.status(), StatusCode::OK);
        assert_eq!(env.post(&ping, Some(token)).await.status(), StatusCode::OK);
        assert_eq!(
            env.post(&ping, Some(token)).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{token}: a caller without a subject is limited too"
        );
    }
    // Each token its own bucket: one sub-less caller of a client does not starve the others.
    for token in ["subless-2", "empty-2"] {
        assert_eq!(
            env.post(&ping, Some(token)).await.status(),
            StatusCode::OK,
            "{token}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_concurrency_limit_are_shed() {
    let env = start(
        ServerOptions::default(),
        |c| c.max_concurrent_requests(1),
        |s| s,
    )
    .await;
    let slow = {
        let (http, url) = (env.http.clone(), env.url.clone());
        tokio::spawn(async move {
            http.post(&url)
                .header("content-type", "application/json")
                .body(call("nap", json!({"ms": 600})).to_string())
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let shed = env
        .post(&json!({"jsonrpc":"2.0","id":2,"method":"ping"}), None)
        .await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&shed), 1);
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    let after = env
        .post(&json!({"jsonrpc":"2.0","id":3,"method":"ping"}), None)
        .await;
    assert_eq!(after.status(), StatusCode::OK, "the slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_answering_on_an_event_stream_keeps_its_slot() {
    let env = start(
        ServerOptions::default(),
        |c| c.max_concurrent_requests(1),
        |s| s,
    )
    .await;
    let mut request = call("chatty", json!({"ms": 800}));
    request["params"]["_meta"] = json!({"progressToken": 7});
    let mut streaming = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(streaming.status(), StatusCode::OK);
    assert_eq!(
        streaming.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let progress = streaming.chunk().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&progress).contains("notifications/progress"),
        "{progress:?}"
    );
    // The exchange's headers are out, the handler still runs: the one slot is its.
    let shed = env
        .post(&json!({"jsonrpc":"2.0","id":2,"method":"ping"}), None)
        .await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let mut rest = Vec::new();
    while let Some(chunk) = streaming.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(String::from_utf8_lossy(&rest).contains("slept 800"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = env
        .post(&json!({"jsonrpc":"2.0","id":3,"method":"ping"}), None)
        .await;
    assert_eq!(after.status(), StatusCode::OK, "the slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_per_principal_with_the_oldest_evicted() {
    let env = start(
        ServerOptions::default(),
        |c| c.stateless(false).max_sessions(100, 2),
        |s| s,
    )
    .await;
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let r = env.post(&init, None).await;
        sessions.push(r.headers()["mcp-session-id"].to_str().unwrap().to_owned());
    }
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let status = |session: String| {
        env.http
            .post(&env.url)
            .header("content-type", "application/json")
            .header("mcp-session-id", session)
            .body(ping.to_string())
            .send()
    };
    assert_eq!(
        status(sessions[0].clone()).await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "the oldest was evicted"
    );
    assert_eq!(
        status(sessions[1].clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        status(sessions[2].clone()).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_has_one_standalone_stream_the_newest() {
    let env = start(ServerOptions::default(), |c| c.stateless(false), |s| s).await;
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = env.post(&init, None).await;
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let open = || {
        env.http
            .get(&env.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .send()
    };
    let mut first = open().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // While it is the session's stream, it stays open.
    let pending = tokio::time::timeout(Duration::from_millis(300), first.chunk()).await;
    assert!(pending.is_err(), "the only stream stays open: {pending:?}");
    // A second GET takes over: the first one ends, so a client cannot pile up streams.
    let second = open().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while first.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the replaced stream ended");
    let mut second = second;
    let pending = tokio::time::timeout(Duration::from_millis(300), second.chunk()).await;
    assert!(
        pending.is_err(),
        "the newest stream stays open: {pending:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_past_their_timeout_fail_instead_of_hanging() {
    let env = start(
        ServerOptions::default(),
        |c| c.handler_timeout(Some(Duration::from_millis(200))),
        |s| s,
    )
    .await;
    let started = Instant::now();
    let r: Value = env
        .post(&call("nap", json!({"ms": 10_000})), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(r["result"]["isError"], true);
    assert_eq!(r["result"]["content"][0]["text"], "tool `nap` timed out");

    // A 2026-07-28 request (no session, its own `_meta`) is bounded by the same timeout.
    let mut modern = call("nap", json!({"ms": 10_000}));
    modern["params"]["_meta"] = support::modern_meta();
    let started = Instant::now();
    let r: Value = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "nap")
        .body(modern.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{r}");
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert_eq!(r["result"]["content"][0]["text"], "tool `nap` timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_request_heads_are_cut_off() {
    let env = start(
        ServerOptions::default(),
        |c| c,
        |s| {
            s.header_read_timeout(Duration::from_millis(300))
                .max_header_bytes(8192)
        },
    )
    .await;
    let addr = env.base.trim_start_matches("http://").to_owned();
    // Slow loris: half a request head, then silence.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(3));
    // A head larger than the limit.
    let big = "x".repeat(20_000);
    let r = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("x-padding", big)
        .body("{}")
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
}

/// Writes a POST of `body` to the MCP endpoint on a raw connection.
async fn send(stream: &mut tokio::net::TcpStream, body: &Value) {
    let body = body.to_string();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
}

/// Sends one request on a raw connection and reads its whole response (by Content-Length);
/// returns the status line and body.
async fn exchange(stream: &mut tokio::net::TcpStream, body: &Value) -> (String, String) {
    send(stream, body).await;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        received.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if received.len() >= end + 4 + length {
                let status = text.lines().next().unwrap().to_owned();
                return (status, text[end + 4..end + 4 + length].to_owned());
            }
        }
    }
}

/// Waits (up to 5 s) until `list` holds `tag`.
async fn noted(list: &std::sync::Mutex<Vec<String>>, tag: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if list.lock().unwrap().iter().any(|t| t == tag) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Writes a `linger` call tagged `tag` on a raw connection (with a progress token when
/// `stream`), and waits until its handler runs.
async fn lingering(env: &Env, tag: &str, stream: bool) -> tokio::net::TcpStream {
    let mut request = call("linger", json!({ "tag": tag }));
    if stream {
        request["params"]["_meta"] = json!({"progressToken": 1});
    }
    let address = env.base.trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    send(&mut connection, &request).await;
    assert!(noted(&STARTED, tag).await, "the handler started");
    connection
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_stops_its_call() {
    let env = start(
        ServerOptions::default(),
        |c| c.max_concurrent_requests(1),
        |s| s,
    )
    .await;
    let connection = lingering(&env, "json", false).await;
    assert!(
        !noted(&DROPPED, "json").await,
        "a waiting client keeps its call"
    );
    drop(connection);
    assert!(noted(&DROPPED, "json").await, "the handler was stopped");
    let after = env
        .post(&json!({"jsonrpc":"2.0","id":2,"method":"ping"}), None)
        .await;
    assert_eq!(after.status(), StatusCode::OK, "its slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_closes_its_event_stream_stops_the_call() {
    let env = start(
        ServerOptions::default(),
        |c| c.max_concurrent_requests(1),
        |s| s,
    )
    .await;
    let mut connection = lingering(&env, "stream", true).await;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("notifications/progress") {
        let n = connection.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        received.extend_from_slice(&chunk[..n]);
    }
    assert!(String::from_utf8_lossy(&received).contains("text/event-stream"));
    drop(connection);
    assert!(noted(&DROPPED, "stream").await, "the handler was stopped");
    let after = env
        .post(&json!({"jsonrpc":"2.0","id":2,"method":"ping"}), None)
        .await;
    assert_eq!(after.status(), StatusCode::OK, "its slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_after_its_request_is_gone_too() {
    let env = start(ServerOptions::default(), |c| c, |s| s).await;
    let mut connection = lingering(&env, "half", false).await;
    connection.shutdown().await.unwrap();
    assert!(noted(&DROPPED, "half").await, "the handler was stopped");
}

/// Waits for the server to close `stream`; returns how long that took.
async fn closed_after(stream: &mut tokio::net::TcpStream) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    assert!(rest.is_empty(), "nothing is sent on close: {rest:?}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_is_timed_apart_from_slow_heads() {
    let env = start(
        ServerOptions::default(),
        |c| c,
        |s| {
            s.header_read_timeout(Duration::from_millis(300))
                .idle_timeout(Duration::from_millis(1500))
        },
    )
    .await;
    let addr = env.base.trim_start_matches("http://").to_owned();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (status, body) = exchange(&mut stream, &ping).await;
    assert!(status.contains(" 200 "), "{status} {body}");
    // Idle for longer than the head timeout: the kept-alive connection still serves.
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A handler slower than the head timeout is not cut off either.
    let (status, body) = exchange(&mut stream, &call("nap", json!({"ms": 700}))).await;
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(
        body.contains("slept 700") && !body.contains("isError"),
        "{body}"
    );
    // Left idle, the connection is closed after the idle timeout, not the head timeout.
    let idle = closed_after(&mut stream).await;
    assert!(
        idle >= Duration::from_millis(1300) && idle < Duration::from_secs(4),
        "closed after {idle:?}"
    );

    // After an idle spell, a new head that stalls gets the head timeout, not the idle one.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (status, _) = exchange(&mut stream, &ping).await;
    assert!(status.contains(" 200 "));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let stalled = closed_after(&mut stream).await;
    assert!(
        stalled < Duration::from_millis(1000),
        "closed after {stalled:?}"
    );

    // A connection that never sends a byte gets the head timeout from the accept.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let silent = closed_after(&mut stream).await;
    assert!(
        silent < Duration::from_millis(1000),
        "closed after {silent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_408() {
    let env = start(
        ServerOptions::default(),
        |c| c.body_timeout(Duration::from_millis(300)),
        |s| s,
    )
    .await;
    let addr = env.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The head at once, then 10 of the 60 bytes promised, then silence.
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 60\r\n\r\n\
              {\"jsonrpc\"",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer, not a hang")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // A body that arrives in time is served.
    let r = env
        .post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Sends a chunked POST whose body comes in `pieces`, `pause` apart; returns the whole answer.
async fn chunked(addr: &str, pieces: &[&[u8]], pause: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    for piece in pieces {
        tokio::time::sleep(pause).await;
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        // The server may answer (and close) before the whole body is sent.
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("an answer, not a hang")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_pieces_is_read_whole_and_the_limit_counts_every_piece() {
    let env = start(
        ServerOptions::default(),
        |c| c.max_body_bytes(200).body_timeout(Duration::from_secs(3)),
        |s| s,
    )
    .await;
    let addr = env.base.trim_start_matches("http://").to_owned();
    // Four pieces within the body timeout: one message. (An empty chunk would end the body.)
    let answer = chunked(
        &addr,
        &[
            b"{\"jsonrpc\":\"2.0\",",
            b" ",
            b"\"id\":42,",
            b"\"method\":\"ping\"}",
        ],
        Duration::from_millis(30),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""id":42"#), "{answer}");
    // No Content-Length to refuse up front: the pieces add up past the limit.
    let pad = vec![b' '; 150];
    let answer = chunked(
        &addr,
        &[
            b"{\"jsonrpc\":\"2.0\",",
            &pad,
            &pad,
            b"\"id\":1,\"method\":\"ping\"}",
        ],
        Duration::from_millis(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 200 bytes"), "{answer}");
    // Under the limit in one piece, the same server answers.
    let r = env
        .post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_calls_finish_and_refuses_new_ones() {
    let mut env = start(
        ServerOptions::default(),
        |c| c,
        |s| s.drain_timeout(Duration::from_secs(5)),
    )
    .await;
    let in_flight = {
        let (http, url) = (env.http.clone(), env.url.clone());
        tokio::spawn(async move {
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(call("nap", json!({"ms": 500})).to_string())
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    env.shutdown.take().unwrap().send(()).unwrap();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["content"][0]["text"], "slept 500");
    tokio::time::timeout(Duration::from_secs(5), &mut env.served)
        .await
        .expect("serve returns after draining")
        .unwrap();
    let fresh = reqwest::Client::new()
        .post(&env.url)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string())
        .send()
        .await;
    assert!(fresh.is_err(), "no new connections after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_drains_when_the_router_is_nested_under_a_prefix() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Server::new(Limits)
        .unwrap()
        .http(
            HttpConfig::new(format!("{base}/mcp"))
                .without_authorization()
                .stateless(true)
                .health_checks(true),
        )
        .unwrap();
    let nested = axum::Router::new().nest("/api", router);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions::default()
        .readiness_grace(Duration::from_millis(1000))
        .shutdown_on(async {
            let _ = rx.await;
        });
    let served = tokio::spawn(serve_with(listener, nested, options));
    let ready = || async {
        reqwest::Client::new()
            .get(format!("{base}/api/readyz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(ready().await, StatusCode::OK);
    tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ready().await, StatusCode::SERVICE_UNAVAILABLE, "draining");
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the server stops after the grace")
        .unwrap()
        .unwrap();
}
