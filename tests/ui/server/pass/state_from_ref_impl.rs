//! A hand-written `FromRef<Server>` impl makes a type available as `State<T>`, and a `Clone`
//! server is `State` of itself.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

struct Limit(u32);

impl FromRef<Config> for Limit {
    fn from_ref(config: &Config) -> Self {
        Limit(config.limit)
    }
}

/// The configured limit.
#[mcp_tool(public)]
fn limit(limit: State<Limit>) -> String {
    limit.0.0.to_string()
}

/// The whole configuration.
#[mcp_tool(public)]
fn config(config: State<Config>) -> String {
    format!("{}:{}", config.name, config.limit)
}

#[derive(McpServer, Clone)]
#[mcp(name = "config", version = "1.0.0", tools(limit, config))]
struct Config {
    name: &'static str,
    limit: u32,
}

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
    let server = Server::new(Config {
        name: "c",
        limit: 7,
    })
    .unwrap();
    let result = rpc(&server, "", "tools/call", json!({ "name": "limit" }));
    assert_eq!(result["content"][0]["text"], "7");
    let result = rpc(&server, "", "tools/call", json!({ "name": "config" }));
    assert_eq!(result["content"][0]["text"], "c:7");
}
