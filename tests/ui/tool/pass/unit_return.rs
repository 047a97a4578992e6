//! A tool may return nothing (no return type, or `()`): an empty, successful result.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Does nothing.
#[mcp_tool(public, idempotent)]
fn noop(_ignored: Option<String>) {}

/// Does nothing, and says so in its signature.
#[mcp_tool(public, idempotent)]
async fn unit() -> () {}

#[derive(McpServer)]
#[mcp(name = "noop", version = "1.0.0", tools(noop, unit))]
struct Noop;

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
    let server = Server::new(Noop).unwrap();
    for tool in ["noop", "unit"] {
        assert_eq!(
            rpc(&server, "", "tools/call", json!({ "name": tool })),
            json!({ "content": [] })
        );
    }
}
