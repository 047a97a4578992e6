//! Authorization of calls: a valid token's tools, the 403 step-up, denials as tool errors, and
//! authorization switched off.

use reqwest::StatusCode;
use scopegate::http::DenialMode;
use serde_json::{Value, json};

use crate::files::{Files, Runs};
use crate::harness::{files, files_with, param, start};
use crate::support::KeyServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_lists_and_calls_tools_and_the_tool_sees_the_principal_only() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .rpc(
            Some(&token),
            Some(&session),
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["tools"].as_array().unwrap().len(), 4);
    let r = h
        .call(&token, &session, "read_file", json!({"path": "a.txt"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["content"][0]["text"], "contents of a.txt");
    let r = h.call(&token, &session, "whoami", json!({})).await;
    let text = r.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("alice|test-client|files:read|"), "{text}");
    assert!(text.contains(r#""iss":"#), "claims reach the tool: {text}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !text.contains(signature),
        "the raw token never reaches tool code"
    );
    assert_eq!(h.runs(), 2);

    // A notification is accepted with 202 and no body.
    let r = h
        .rpc(
            Some(&token),
            Some(&session),
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_the_tools_scope_gets_a_403_step_up_challenge() {
    let h = files().await;
    let token = h.token("files:read unknown:scope").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let c = r.challenge();
    assert!(c.starts_with("Bearer "), "{c}");
    assert_eq!(param(c, "error"), Some("insufficient_scope"));
    // What the client holds that this server knows, plus what the tool needs.
    assert_eq!(param(c, "scope"), Some("files:read files:write"));
    assert_eq!(
        param(c, "resource_metadata"),
        Some(h.metadata_url().as_str())
    );
    assert!(
        param(c, "error_description")
            .unwrap()
            .contains("files:write")
    );
    assert_eq!(
        r.body["error"]["data"]["missingScopes"],
        json!(["files:write"])
    );

    // All missing scopes of a multi-scope tool are asked for at once.
    let bare = h.token("").build();
    let session = h.initialize(&bare).await;
    let r = h.call(&bare, &session, "audit", json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(param(r.challenge(), "scope"), Some("audit:run files:read"));
    assert_eq!(h.runs(), 0, "no tool ran");

    // With the broader scope of the hierarchy the call goes through.
    let admin = h.token("files:admin").build();
    let session = h.initialize(&admin).await;
    let r = h
        .call(&admin, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_can_be_tool_errors_instead_of_403() {
    let h = files_with(|c, _, _| c.denial(DenialMode::ToolError)).await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["isError"], true);
    assert!(
        r.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("files:write")
    );
    assert_eq!(h.runs(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_off_serves_public_tools_only() {
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, _, _| {
        c.without_authorization()
    })
    .await;
    let r = h.send(h.client.get(h.metadata_url())).await;
    assert!(r.body.get("scopes_supported").is_none());
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}))
        .await;
    let session = r.session().unwrap();
    let r = h
        .rpc(None, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .rpc(None, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"x"}}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
