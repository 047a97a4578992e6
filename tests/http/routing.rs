//! What `serve_http_with` answers itself and what it leaves to the router, and `HEAD` on the
//! endpoint.

use reqwest::StatusCode;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::json;

use crate::files::Files;
use crate::harness::files;

/// `serve_http_with` answers the endpoint's own path directly and everything else through the
/// router: each path gets what the router alone would give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_endpoints_own_path_bypasses_the_router() {
    let h = files().await;
    let token = h.token("files:read").build();
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let session = h.initialize(&token).await;
    // The endpoint, with a query string (the path is what is matched).
    let query = h
        .send(
            h.post(Some(&token), Some(&session), &list)
                .query(&[("x", "1")]),
        )
        .await;
    assert_eq!(query.status, StatusCode::OK, "{:?}", query.body);
    assert!(query.body["result"]["tools"].is_array());
    // Other paths: the router's routes, or its 404.
    let metadata = h.send(h.client.get(h.metadata_url())).await;
    assert_eq!(metadata.status, StatusCode::OK);
    assert_eq!(metadata.body["resource"], json!(h.resource));
    for path in ["/mcp/", "/mcp/x", "/MCP", "/mcpx", "/"] {
        let url = format!("{}{path}", h.base);
        let reply = h
            .send(
                h.client
                    .post(url)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(list.to_string()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // HEAD and a CORS preflight on the endpoint are the endpoint's, as through the router.
    let head = h.send(h.client.head(&h.resource)).await;
    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let preflight = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "http://localhost:3000")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test]
async fn head_on_the_endpoint_gets_no_body() {
    use tower::ServiceExt as _;
    // Through the router itself: hyper strips a HEAD body on HTTP/1 anyway, HTTP/2 does not.
    let router = Server::new(Files::default())
        .unwrap()
        .http(HttpConfig::new("http://127.0.0.1:9/mcp").jwt_issuer("http://127.0.0.1:9"))
        .unwrap();
    for origin in [None, Some("http://127.0.0.1:9")] {
        let mut request = axum::http::Request::head("/mcp").header("host", "127.0.0.1:9");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        // No token: the 401 a GET gets, without its JSON body.
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{origin:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(body.is_empty(), "{origin:?}: {body:?}");
    }
}
