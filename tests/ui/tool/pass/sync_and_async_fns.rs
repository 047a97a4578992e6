//! A tool may be a plain `fn` or an `async fn`; both are called the same way.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Adds two numbers.
#[mcp_tool(public)]
fn add(a: i64, b: i64) -> String {
    (a + b).to_string()
}

/// Adds two numbers, after yielding once.
#[mcp_tool(public)]
async fn add_later(a: i64, b: i64) -> String {
    tokio::task::yield_now().await;
    (a + b).to_string()
}

#[derive(McpServer)]
#[mcp(name = "math", version = "1.0.0", tools(add, add_later))]
struct Math;

/// Sends one JSON-RPC request as a caller holding `scopes` and returns its `result`.
fn rpc<S: McpServer>(server: &Server<S>, scopes: &str, method: &str, params: Value) -> Value {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated(scopes))
        .build();
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => {
            let response: Value = serde_json::from_str(&response.to_json()).unwrap();
            assert!(response.get("error").is_none(), "{response}");
            response["result"].clone()
        }
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn main() {
    let server = Server::new(Math).unwrap();
    for tool in ["add", "add_later"] {
        let result = rpc(
            &server,
            "",
            "tools/call",
            json!({ "name": tool, "arguments": { "a": 2, "b": 3 } }),
        );
        assert_eq!(
            result,
            json!({ "content": [{ "type": "text", "text": "5" }] }),
            "{tool}"
        );
    }
}
