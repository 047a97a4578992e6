//! The 401 challenge: where it points, and the scope it asks for first.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{files, files_with, param};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_credentials_gets_a_401_pointing_at_the_metadata() {
    let h = files().await;
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge(),
        format!(
            r#"Bearer scope="audit:run files:read files:write", resource_metadata="{}""#,
            h.metadata_url()
        )
    );
    assert!(
        param(r.challenge(), "error").is_none(),
        "no error code without credentials"
    );
    // The metadata the challenge points at is the one served.
    let url = param(r.challenge(), "resource_metadata").unwrap();
    assert_eq!(h.send(h.client.get(url)).await.body["resource"], h.resource);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_challenge_scope_is_configurable() {
    let h = files_with(|c, _, _| c.initial_scopes(["files:read"])).await;
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(param(r.challenge(), "scope"), Some("files:read"));
}
