//! Log floods: refusals, and requests under a valid token, write a bounded log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::json;

use crate::capture::{AUTH, Capture, Event, HTTP};
use crate::cases::assert_no_failures;
use crate::files::{Files, Runs};
use crate::harness::{call_body, param};
use crate::resources::Store;
use crate::support::KeyServer;

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
