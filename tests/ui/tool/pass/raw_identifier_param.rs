//! A raw identifier parameter (`r#type`) is the argument `type`.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Echoes the type.
#[mcp_tool(public)]
fn kind(r#type: String) -> String {
    r#type
}

#[derive(McpServer)]
#[mcp(name = "kind", version = "1.0.0", tools(kind))]
struct Kind;

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
    assert_eq!(<Kind as McpServer>::TOOLS[0].params[0].name, "type");
    let server = Server::new(Kind).unwrap();
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "kind", "arguments": { "type": "t" } }),
    );
    assert_eq!(result["content"][0]["text"], "t");
}
