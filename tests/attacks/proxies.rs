//! Forwarded addresses: believed from trusted proxies only.

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;

use crate::capture::{HTTP, capture};
use crate::cases::{Audit, Expect, assert_no_failures, case, run};
use crate::files::{Files, Runs};
use crate::harness::{Harness, call_body};
use crate::support::{self, KeyServer};

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
