//! Sessions: bound to their principal, ended with DELETE, not needed when stateless, and never
//! issued by a failed initialize.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{files, files_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_bound_to_their_principal_and_end_with_delete() {
    let h = files().await;
    let alice = h.token("files:read").build();
    let bob = h.token("files:read").sub("bob").build();
    let session = h.initialize(&alice).await;
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});

    let r = h.rpc(Some(&alice), None, list.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "missing session id");
    let r = h.rpc(Some(&alice), Some("made-up"), list.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "unknown session id");
    let r = h.rpc(Some(&bob), Some(&session), list.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another principal's session"
    );
    let r = h
        .send(
            h.client
                .delete(&h.resource)
                .bearer_auth(&bob)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another principal cannot end it"
    );
    let r = h.rpc(Some(&alice), Some(&session), list.clone()).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = h
        .send(
            h.client
                .delete(&h.resource)
                .bearer_auth(&alice)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.rpc(Some(&alice), Some(&session), list).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "ended session");

    // Sessions never authenticate: a valid session id with no token is a 401.
    let session = h.initialize(&alice).await;
    let r = h
        .rpc(
            None,
            Some(&session),
            json!({"jsonrpc":"2.0","id":3,"method":"ping"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_mode_needs_no_session() {
    let h = files_with(|c, _, _| c.stateless(true)).await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.session().is_none());
    let r = h
        .rpc(Some(&token), None, json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"p"}}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(h.client.delete(&h.resource).bearer_auth(&token))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_initialize_gets_no_session_id() {
    let h = files().await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["error"]["code"], -32602, "{}", r.body);
    assert_eq!(r.session(), None, "no session for a failed initialize");
    // A good one still gets its session.
    let session = h.initialize(&token).await;
    assert!(!session.is_empty());
}
