//! A bounded soak: many concurrent clients on 127.0.0.1 send a mix of valid, invalid and
//! under-scoped requests for a fixed time. No 5xx, no bad token accepted, no tool run without
//! its scope, memory flat. `SCOPEGATE_SOAK_SECS` lengthens it (the figures in SOAK.md come from
//! a 60 s run); the test command runs 8 s.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::json;
use support::KeyServer;

#[derive(Debug, Clone, Default)]
struct Counters {
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

/// Reads.
#[mcp_tool(scope = "soak:read")]
fn read(counters: State<Counters>) -> &'static str {
    counters.0.reads.fetch_add(1, Ordering::Relaxed);
    "ok"
}

/// Writes.
#[mcp_tool(scope = "soak:write")]
fn write(counters: State<Counters>) -> &'static str {
    counters.0.writes.fetch_add(1, Ordering::Relaxed);
    "ok"
}

#[derive(McpServer, Clone)]
#[mcp(name = "soak", tools(read, write))]
struct Soak {
    #[mcp(state)]
    counters: Counters,
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
    bad_request: AtomicU64,
    server_errors: AtomicU64,
    other: AtomicU64,
    bad_accepted: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_load_gets_no_5xx_and_lets_no_bad_token_in() {
    let seconds: u64 = std::env::var("SCOPEGATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let counters = Counters::default();
    let config = HttpConfig::new(&url)
        .jwt(JwtConfig::new(keys.issuer(), &url))
        .stateless(true)
        .rate_per_principal(None);
    let router = Server::new(Soak {
        counters: counters.clone(),
    })
    .unwrap()
    .http(config)
    .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let reader = keys.token(&url, "soak:read").build();
    let writer = keys.token(&url, "soak:read soak:write").build();
    let bad: Vec<String> = vec![
        keys.token(&url, "soak:read soak:write").alg_none(),
        keys.token(&url, "soak:read soak:write").expired().build(),
        keys.token(&url, "soak:read soak:write")
            .aud("http://elsewhere/mcp")
            .build(),
        keys.token(&url, "soak:read soak:write").flipped_signature(),
        keys.token(&url, "soak:read soak:write")
            .kid("random")
            .build(),
        "garbage".into(),
    ];
    let http = reqwest::Client::new();
    // Warm up, then measure memory from a steady state.
    let call = |tool: &str| {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":{}}})
            .to_string()
    };
    for _ in 0..50 {
        let _ = http
            .post(&url)
            .header("content-type", "application/json")
            .bearer_auth(&writer)
            .body(call("read"))
            .send()
            .await
            .unwrap();
    }
    let rss_start = rss_kib();
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients = 32;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, url, tally) = (http.clone(), url.clone(), Arc::clone(&tally));
        let (reader, writer, bad) = (reader.clone(), writer.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            let mut n: usize = client;
            while Instant::now() < deadline {
                n = n.wrapping_mul(31).wrapping_add(7);
                // 50% valid, 25% under-scoped, 25% bad tokens.
                let (token, tool, expect_ok, is_bad) = match n % 8 {
                    0..=3 => (writer.clone(), if n.is_multiple_of(2) { "read" } else { "write" }, true, false),
                    4 | 5 => (reader.clone(), "write", false, false),
                    _ => (bad[n % bad.len()].clone(), "read", false, true),
                };
                let body = json!({"jsonrpc":"2.0","id":n,"method":"tools/call","params":{"name":tool,"arguments":{}}});
                tally.sent.fetch_add(1, Ordering::Relaxed);
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .bearer_auth(&token)
                    .body(body.to_string())
                    .send()
                    .await;
                let status = match response {
                    Ok(r) => r.status(),
                    Err(_) => {
                        tally.other.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let counter = match status {
                    StatusCode::OK => &tally.ok,
                    StatusCode::UNAUTHORIZED => &tally.unauthorized,
                    StatusCode::FORBIDDEN => &tally.forbidden,
                    StatusCode::BAD_REQUEST => &tally.bad_request,
                    s if s.is_server_error() => &tally.server_errors,
                    _ => &tally.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if is_bad && status == StatusCode::OK {
                    tally.bad_accepted.fetch_add(1, Ordering::Relaxed);
                }
                if expect_ok {
                    assert_eq!(status, StatusCode::OK, "a valid call failed");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rss_end = rss_kib();
    let sent = tally.sent.load(Ordering::Relaxed);
    let writes = counters.writes.load(Ordering::Relaxed) as u64;
    eprintln!(
        "soak: {seconds} s, {clients} clients, {sent} requests ({:.0}/s): ok {}, 401 {}, 403 {}, 400 {}, 5xx {}, other {}; bad tokens accepted {}; tool runs: read {}, write {}; RSS {} KiB -> {} KiB",
        sent as f64 / seconds as f64,
        tally.ok.load(Ordering::Relaxed),
        tally.unauthorized.load(Ordering::Relaxed),
        tally.forbidden.load(Ordering::Relaxed),
        tally.bad_request.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
        tally.bad_accepted.load(Ordering::Relaxed),
        counters.reads.load(Ordering::Relaxed),
        writes,
        rss_start,
        rss_end,
    );
    assert!(sent > 1000, "the load ran ({sent} requests)");
    assert_eq!(tally.server_errors.load(Ordering::Relaxed), 0, "no 5xx");
    assert_eq!(
        tally.other.load(Ordering::Relaxed),
        0,
        "no other status, no dropped connection"
    );
    assert_eq!(
        tally.bad_accepted.load(Ordering::Relaxed),
        0,
        "no bad token accepted"
    );
    assert!(
        tally.forbidden.load(Ordering::Relaxed) > 0
            && tally.unauthorized.load(Ordering::Relaxed) > 0
    );
    // Every write ran for a token that held soak:write: the valid half only.
    assert!(writes <= tally.ok.load(Ordering::Relaxed));
    // Flat memory: allow allocator slack, not growth with the request count.
    assert!(
        rss_end < rss_start + 64 * 1024,
        "RSS grew from {rss_start} KiB to {rss_end} KiB"
    );
}
