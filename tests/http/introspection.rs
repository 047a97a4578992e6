//! Opaque tokens: RFC 7662 introspection and its cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::json;

use crate::files::{Files, Runs};
use crate::harness::{Harness, param};
use crate::support::{self, KeyServer};

/// A local RFC 7662 introspection endpoint: knows a few opaque tokens, counts its calls.
async fn introspection_endpoint(resource: String) -> (String, Arc<AtomicUsize>) {
    use axum::extract::State as AxState;
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/introspect",
            axum::routing::post(
                |AxState((calls, resource)): AxState<(Arc<AtomicUsize>, String)>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // "rs:secret" in HTTP Basic: the resource server authenticates itself.
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Basic cnM6c2VjcmV0") {
                        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({"error":"invalid_client"})));
                    }
                    let token = body
                        .split('&')
                        .find_map(|p| p.strip_prefix("token="))
                        .unwrap_or_default()
                        .to_owned();
                    let exp = support::now() + 300;
                    let answer = match token.as_str() {
                        "good-token" => json!({"active":true,"aud":resource,"sub":"carol","client_id":"c1","scope":"files:read","exp":exp}),
                        "other-resource" => json!({"active":true,"aud":"http://elsewhere/mcp","sub":"carol","scope":"files:read","exp":exp}),
                        "refresh" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"token_type":"refresh_token"}),
                        "bound" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
                        // Over the 64 KiB an answer may take.
                        "huge" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"padding":"x".repeat(70_000)}),
                        _ => json!({"active":false}),
                    };
                    (axum::http::StatusCode::OK, axum::Json(answer))
                },
            ),
        )
        .with_state((Arc::clone(&calls), resource));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_cached() {
    use scopegate::auth::{IntrospectionConfig, IntrospectionVerifier};
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    // The endpoint must know our resource URI before we know our port: bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let (endpoint, calls) = introspection_endpoint(resource.clone()).await;
    let verifier = IntrospectionVerifier::new(IntrospectionConfig::new(
        &endpoint, "rs", "secret", &resource,
    ));
    let config = HttpConfig::new(&resource)
        .verifier(verifier)
        .authorization_server(keys.issuer());
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
    };

    let session = h.initialize("good-token").await;
    let r = h.call("good-token", &session, "whoami", json!({})).await;
    assert!(
        r.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("carol|c1|files:read|")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second request was answered from the cache"
    );

    for (token, description) in [
        ("revoked", "not active"),
        ("other-resource", "another resource"),
        ("refresh", "not an access token"),
        ("bound", "bound to a key"),
        ("huge", "could not be reached"),
    ] {
        let r = h
            .rpc(
                Some(token),
                None,
                json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
        assert!(
            param(r.challenge(), "error_description")
                .unwrap()
                .contains(description),
            "{}",
            r.challenge()
        );
    }
    assert_eq!(h.runs(), 1);
}
