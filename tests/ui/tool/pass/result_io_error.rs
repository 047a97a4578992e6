//! Any `Result<T, E: Display>` works; `std::io::Error` becomes an `isError: true` result.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Reads a file.
#[mcp_tool(scope = "files:read")]
fn read_file(path: String) -> Result<String, std::io::Error> {
    std::fs::read_to_string(path)
}

#[derive(McpServer)]
#[mcp(name = "files", version = "1.0.0", tools(read_file))]
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
    let server = Server::new(Files).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    assert!(list["tools"][0].get("outputSchema").is_none());
    let path = "/definitely/not/a/file/scopegate";
    let err = rpc(
        &server,
        "files:read",
        "tools/call",
        json!({ "name": "read_file", "arguments": { "path": path } }),
    );
    assert_eq!(err["isError"], true);
    assert!(!err["content"][0]["text"].as_str().unwrap().is_empty());
}
