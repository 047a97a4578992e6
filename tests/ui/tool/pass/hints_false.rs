//! Every hint key accepts `= false`, which is sent (unlike an absent hint).
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Looks things up on the web, carefully.
#[mcp_tool(
    public,
    read_only = false,
    destructive = false,
    idempotent = false,
    open_world = false
)]
fn careful() -> String {
    String::new()
}

/// Every hint, set with `= true` and bare.
#[mcp_tool(public, read_only = true, destructive, idempotent = true, open_world)]
fn bold() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "hints", version = "1.0.0", tools(careful, bold))]
struct Hints;

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
    let careful = <Hints as McpServer>::TOOLS[0].meta.annotations;
    assert_eq!(careful.read_only, Some(false));
    assert_eq!(careful.destructive, Some(false));
    assert_eq!(careful.idempotent, Some(false));
    assert_eq!(careful.open_world, Some(false));
    let server = Server::new(Hints).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    assert_eq!(
        list["tools"][0]["annotations"],
        json!({ "readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false })
    );
    assert_eq!(
        list["tools"][1]["annotations"],
        json!({ "readOnlyHint": true, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true })
    );
}
