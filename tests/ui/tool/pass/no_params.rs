//! A tool without parameters has an input schema with no properties.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Answers `pong`.
#[mcp_tool(public)]
fn ping() -> String {
    "pong".to_owned()
}

/// Answers `pong`, asynchronously.
#[mcp_tool(public)]
async fn ping_later() -> String {
    "pong".to_owned()
}

#[derive(McpServer)]
#[mcp(name = "ping", version = "1.0.0", tools(ping, ping_later))]
struct Ping;

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
    assert!(
        <Ping as McpServer>::TOOLS
            .iter()
            .all(|tool| tool.params.is_empty())
    );
    let server = Server::new(Ping).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    for tool in list["tools"].as_array().unwrap() {
        assert_eq!(
            tool["inputSchema"],
            json!({ "type": "object", "additionalProperties": false })
        );
    }
    for tool in ["ping", "ping_later"] {
        let result = rpc(&server, "", "tools/call", json!({ "name": tool }));
        assert_eq!(result["content"][0]["text"], "pong");
    }
}
