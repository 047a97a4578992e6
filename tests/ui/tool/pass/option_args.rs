//! `Option<T>` arguments are optional: not in `required`, `None` when absent.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Greets someone, some number of times.
#[mcp_tool(public)]
fn greet(name: String, times: Option<u8>, punctuation: Option<String>) -> String {
    let times = usize::from(times.unwrap_or(1));
    let greeting = vec![format!("Hi {name}"); times].join(" ");
    format!("{greeting}{}", punctuation.unwrap_or_default())
}

#[derive(McpServer)]
#[mcp(name = "greet", version = "1.0.0", tools(greet))]
struct Greet;

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
    let server = Server::new(Greet).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    assert_eq!(list["tools"][0]["inputSchema"]["required"], json!(["name"]));
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "greet", "arguments": { "name": "Ada" } }),
    );
    assert_eq!(result["content"][0]["text"], "Hi Ada");
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "greet", "arguments": { "name": "Ada", "times": 2, "punctuation": "!" } }),
    );
    assert_eq!(result["content"][0]["text"], "Hi Ada Hi Ada!");
}
