//! Origin and Host (DNS rebinding), and public metadata that opens nothing else to foreign
//! origins.

use reqwest::{Method, StatusCode};

use crate::capture::capture;
use crate::cases::{Audit, Expect, assert_no_failures, case, run};
use crate::harness::{call_body, default_harness};

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
