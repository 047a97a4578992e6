//! Transport rules: protocol versions, bodies, origins and methods.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::files_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_rules_versions_bodies_origins_and_methods() {
    let h = files_with(|c, _, _| {
        c.max_body_bytes(1024)
            .allow_origin("https://app.example.com")
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});

    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("mcp-protocol-version", "2024-01-01"),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unsupported protocol version"
    );
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("mcp-protocol-version", "2025-06-18"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let big = json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(2000)}});
    let r = h.rpc(Some(&token), Some(&session), big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "foreign origin");
    for origin in ["https://app.example.com", "http://localhost:5173", &h.base] {
        let r = h
            .send(
                h.post(Some(&token), Some(&session), &ping)
                    .header("origin", origin),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{origin}");
        assert_eq!(r.headers["access-control-allow-origin"], origin);
    }

    let r = h
        .send(
            h.client
                .post(&h.resource)
                .bearer_auth(&token)
                .header("mcp-session-id", &session)
                .header("content-type", "text/plain")
                .body(ping.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &json!(null))
                .body("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], -32700);

    let r = h
        .send(
            h.client
                .get(&h.resource)
                .bearer_auth(&token)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_ACCEPTABLE,
        "the GET stream is an event stream"
    );
    let r = h.send(h.client.get(&h.resource)).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "GET is authenticated too"
    );

    // CORS preflight from an allowed origin exposes the headers clients must read.
    let r = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, mcp-session-id",
                ),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("origin", "https://app.example.com"),
        )
        .await;
    let exposed = r.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"),
        "{exposed}"
    );
}
