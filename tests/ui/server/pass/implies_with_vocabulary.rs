//! `scopes(...)` declares the vocabulary (scopes no tool requires still appear in `SCOPES`),
//! and `implies(...)` is closed transitively: admin implies write implies read.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Reads a file.
#[mcp_tool(scope = "files:read")]
fn read_file(path: String) -> String {
    path
}

#[derive(McpServer)]
#[mcp(
    name = "files",
    version = "1.0.0",
    tools(read_file),
    scopes("files:read", "files:write", "files:admin", "files:unused"),
    implies("files:admin" => ["files:write"], "files:write" => ["files:read"]),
)]
struct Files;

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
    assert_eq!(
        <Files as McpServer>::SCOPES,
        ["files:admin", "files:read", "files:unused", "files:write"]
    );
    let admin = <Files as McpServer>::IMPLICATIONS
        .iter()
        .find(|i| i.scope == "files:admin")
        .unwrap();
    assert_eq!(admin.implies, ["files:read", "files:write"]);
    let server = Server::new(Files).unwrap();
    let call = json!({ "name": "read_file", "arguments": { "path": "p" } });
    let result = rpc(&server, "files:admin", "tools/call", call);
    assert_eq!(result["content"][0]["text"], "p");
}
