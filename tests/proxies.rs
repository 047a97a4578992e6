//! Behind a load balancer, over real HTTP on loopback: the server listens on 127.0.0.1 and
//! trusts 127.0.0.2/32 as its proxy. A client bound to 127.0.0.2 plays the proxy, whose
//! `X-Forwarded-For` (or `Forwarded`) decides the rate-limit bucket; a client on 127.0.0.1 is
//! an untrusted peer, whose forwarding headers change nothing.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::StatusCode;
use scopegate::http::{
    ForwardedHeader, HttpConfig, Quota, ServeOptions, TrustedProxies, serve_with,
};
use scopegate::prelude::*;
use serde_json::json;

/// Anyone may ask the time.
#[mcp_tool(public)]
fn time() -> &'static str {
    "12:00"
}

#[derive(McpServer)]
#[mcp(name = "proxied", tools(time))]
struct Proxied;

const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

struct Env {
    url: String,
    metadata: String,
    /// Connects from 127.0.0.2, the trusted proxy.
    proxy: reqwest::Client,
    /// Connects from 127.0.0.1, not trusted.
    direct: reqwest::Client,
}

/// A stateless server allowing each client address 2 requests (and nearly no refill).
async fn start(proxies: Option<TrustedProxies>) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{base}/mcp");
    let mut config = HttpConfig::new(&url)
        .without_authorization()
        .stateless(true)
        .rate_per_address(Some(Quota::new(2, 0.001)));
    if let Some(proxies) = proxies {
        config = config.trusted_proxies(proxies);
    }
    let router = Server::new(Proxied).unwrap().http(config).unwrap();
    tokio::spawn(async move {
        serve_with(listener, router, ServeOptions::default())
            .await
            .unwrap();
    });
    Env {
        metadata: format!("{base}/.well-known/oauth-protected-resource/mcp"),
        url,
        proxy: reqwest::Client::builder()
            .local_address(PROXY)
            .build()
            .unwrap(),
        direct: reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .build()
            .unwrap(),
    }
}

fn trusted() -> TrustedProxies {
    TrustedProxies::new(["127.0.0.2/32"]).unwrap()
}

impl Env {
    /// A `ping` from `client` with the forwarding header `name: value` (none when `None`).
    async fn ping(&self, client: &reqwest::Client, header: Option<(&str, &str)>) -> StatusCode {
        let mut request = client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string());
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.send().await.unwrap().status()
    }
}

fn xff(value: &str) -> Option<(&str, &str)> {
    Some(("x-forwarded-for", value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_decides_the_bucket() {
    let env = start(Some(trusted())).await;
    let ok = StatusCode::OK;
    let limited = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(env.ping(&env.proxy, xff("203.0.113.1")).await, ok);
    assert_eq!(env.ping(&env.proxy, xff("203.0.113.1")).await, ok);
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.1")).await,
        limited,
        "its limit"
    );
    // What a client writes itself is left of what the proxy appended: not read.
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.2, 203.0.113.1")).await,
        limited,
        "a client cannot talk its way into another bucket"
    );
    // Another client behind the same proxy has its own allowance.
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.9, 203.0.113.2")).await,
        ok
    );
    assert_eq!(env.ping(&env.proxy, xff("[2001:db8::1]:4711")).await, ok);
    // Discovery draws from the forwarded address's bucket too.
    let metadata = env
        .proxy
        .get(&env.metadata)
        .header("x-forwarded-for", "203.0.113.1")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), limited);
    let metadata = env
        .proxy
        .get(&env.metadata)
        .header("x-forwarded-for", "203.0.113.3")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_header_from_an_untrusted_peer_changes_nothing() {
    let env = start(Some(trusted())).await;
    assert_eq!(
        env.ping(&env.direct, xff("203.0.113.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        env.ping(&env.direct, xff("203.0.113.2")).await,
        StatusCode::OK
    );
    for spoofed in [
        xff("203.0.113.3"),
        xff("127.0.0.2"),
        Some(("forwarded", "for=203.0.113.4")),
        None,
    ] {
        assert_eq!(
            env.ping(&env.direct, spoofed).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{spoofed:?}: the peer 127.0.0.1's bucket, whatever the header says"
        );
    }
    // The proxy's own bucket (and its clients') is untouched.
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.1")).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_unknown_forwarded_address_falls_back_to_the_peer() {
    let env = start(Some(trusted())).await;
    assert_eq!(env.ping(&env.proxy, xff("unknown")).await, StatusCode::OK);
    assert_eq!(
        env.ping(&env.proxy, xff("not-an-address")).await,
        StatusCode::OK
    );
    // Addresses no client has (multicast, unspecified, broadcast) are malformed too.
    for fallback in [
        xff("_hidden"),
        xff("203.0.113.1, 999.0.0.1"),
        xff(""),
        None,
        xff("224.0.0.1"),
        xff("0.0.0.0"),
        xff("[ff02::1]:4711"),
        xff("255.255.255.255"),
    ] {
        assert_eq!(
            env.ping(&env.proxy, fallback).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{fallback:?}: the proxy 127.0.0.2's own bucket"
        );
    }
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.1")).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_writing_forwarded_are_read_by_rfc_7239() {
    let env = start(Some(trusted().header(ForwardedHeader::Forwarded))).await;
    let forwarded = |value| Some(("forwarded", value));
    let v6 = forwarded("for=\"[2001:db8:cafe::17]:4711\";proto=https");
    assert_eq!(env.ping(&env.proxy, v6).await, StatusCode::OK);
    assert_eq!(env.ping(&env.proxy, v6).await, StatusCode::OK);
    assert_eq!(
        env.ping(&env.proxy, v6).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        env.ping(&env.proxy, forwarded("for=203.0.113.9")).await,
        StatusCode::OK,
        "another client"
    );
    // X-Forwarded-For is not the header these proxies write: the peer's bucket.
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.2")).await,
        StatusCode::OK
    );
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.3")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_no_proxy_is_trusted() {
    let env = start(None).await;
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.2")).await,
        StatusCode::OK
    );
    assert_eq!(
        env.ping(&env.proxy, xff("203.0.113.3")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_trusted_proxies_only_gives_the_farthest_of_them() {
    // 127.0.0.3 is an inner proxy (or a health checker inside the trusted network): a request
    // it sends through 127.0.0.2 is its own, not the nearest proxy's.
    let proxies = TrustedProxies::new(["127.0.0.2/32", "127.0.0.3/32"]).unwrap();
    let env = start(Some(proxies)).await;
    let limited = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(env.ping(&env.proxy, None).await, StatusCode::OK);
    assert_eq!(env.ping(&env.proxy, None).await, StatusCode::OK);
    assert_eq!(env.ping(&env.proxy, None).await, limited, "the peer's own");
    for _ in 0..2 {
        assert_eq!(
            env.ping(&env.proxy, xff("127.0.0.3, 127.0.0.2")).await,
            StatusCode::OK,
            "the left-most trusted proxy's bucket, not the peer's"
        );
    }
    assert_eq!(env.ping(&env.proxy, xff("127.0.0.3")).await, limited);
}

#[test]
fn a_range_holding_every_address_is_refused() {
    // Every peer a trusted proxy: anyone could choose its bucket and its audited address.
    for everyone in ["0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"] {
        let error = TrustedProxies::new(["10.0.0.0/8", everyone]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(everyone) && message.contains("every address"),
            "{message}"
        );
    }
}
