//! A bare `when(flag => "scope")` tests a `bool` or `Option<bool>` argument (absent is false);
//! several clauses add up.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Shares a document.
#[mcp_tool(
    scope = "docs:share",
    when(publish => "docs:publish"),
    when(notify => "mail:send"),
)]
fn share(doc: String, publish: bool, notify: Option<bool>) -> String {
    format!("{doc} {publish} {notify:?}")
}

#[derive(McpServer)]
#[mcp(name = "docs", version = "1.0.0", tools(share))]
struct Docs;

/// Calls `share` with `arguments` as a caller holding only `docs:share`; the scopes a denial
/// says are missing, sorted (none when the call was answered).
fn missing(server: &Server<Docs>, arguments: Value) -> Vec<&'static str> {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("docs:share"))
        .build();
    let params = json!({ "name": "share", "arguments": arguments });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => {
            let response: Value = serde_json::from_str(&response.to_json()).unwrap();
            assert!(response.get("error").is_none(), "{response}");
            Vec::new()
        }
        Reply::Denied(denial) => {
            let mut missing = denial.missing;
            missing.sort_unstable();
            missing
        }
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn main() {
    assert_eq!(
        <Docs as McpServer>::SCOPES,
        ["docs:publish", "docs:share", "mail:send"]
    );
    let when: Vec<String> = <Docs as McpServer>::TOOLS[0]
        .meta
        .rules
        .when
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        when,
        [
            r#"when(publish => "docs:publish")"#,
            r#"when(notify => "mail:send")"#
        ]
    );

    let server = Server::new(Docs).unwrap();
    let none: [&str; 0] = [];
    assert_eq!(
        missing(&server, json!({ "doc": "d", "publish": false })),
        none
    );
    assert_eq!(
        missing(
            &server,
            json!({ "doc": "d", "publish": false, "notify": false })
        ),
        none
    );
    assert_eq!(
        missing(&server, json!({ "doc": "d", "publish": true })),
        ["docs:publish"]
    );
    assert_eq!(
        missing(
            &server,
            json!({ "doc": "d", "publish": false, "notify": true })
        ),
        ["mail:send"]
    );
    assert_eq!(
        missing(
            &server,
            json!({ "doc": "d", "publish": true, "notify": true })
        ),
        ["docs:publish", "mail:send"]
    );
}
