//! `Vec<Content>` is returned as the result's content blocks, in order.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Two blocks.
#[mcp_tool(public)]
fn two() -> Vec<Content> {
    vec![Content::text("one"), Content::text("two")]
}

#[derive(McpServer)]
#[mcp(name = "content", version = "1.0.0", tools(two))]
struct Blocks;

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
    let server = Server::new(Blocks).unwrap();
    let result = rpc(&server, "", "tools/call", json!({ "name": "two" }));
    assert_eq!(
        result,
        json!({ "content": [{ "type": "text", "text": "one" }, { "type": "text", "text": "two" }] })
    );
}
