//! `scopes = [..]` requires all of them; the server's scope list is every tool's scopes,
//! sorted and de-duplicated.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Moves a file.
#[mcp_tool(scopes = ["files:write", "files:read", "audit:append"])]
fn move_file(from: String, to: String) -> String {
    format!("{from} -> {to}")
}

/// Reads a file.
#[mcp_tool(scope = "files:read")]
fn read_file(path: String) -> String {
    path
}

/// Trailing commas are fine.
#[mcp_tool(scopes = ["files:read",],)]
fn stat(path: String) -> String {
    path
}

#[derive(McpServer)]
#[mcp(name = "files", version = "1.0.0", tools(move_file, read_file, stat))]
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
        ["audit:append", "files:read", "files:write"]
    );
    assert_eq!(
        <Files as McpServer>::TOOLS[0].meta.scopes,
        ["files:write", "files:read", "audit:append"]
    );
    let server = Server::new(Files).unwrap();
    let call = json!({ "name": "move_file", "arguments": { "from": "a", "to": "b" } });
    let result = rpc(
        &server,
        "files:read files:write audit:append",
        "tools/call",
        call.clone(),
    );
    assert_eq!(result["content"][0]["text"], "a -> b");
    let principal = Principal::builder()
        .scopes(ScopeSet::from_space_separated("files:read files:write"))
        .build();
    let request = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Denied(denial) => assert_eq!(denial.missing, ["audit:append"]),
        other => panic!("expected a denial, got {other:?}"),
    }
}
