//! `#[arg(description = "...", rename = "...")]` on a parameter sets the argument's key and
//! its schema's `description`.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Moves the cursor.
#[mcp_tool(public)]
fn move_to(
    #[arg(description = "Horizontal position, in pixels.", rename = "x")] x_pixels: i32,
    #[arg(rename = "y")]
    #[arg(description = "Vertical position, in pixels.")]
    y_pixels: i32,
) -> String {
    format!("{x_pixels},{y_pixels}")
}

#[derive(McpServer)]
#[mcp(name = "cursor", version = "1.0.0", tools(move_to))]
struct Cursor;

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
    let server = Server::new(Cursor).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    let schema = &list["tools"][0]["inputSchema"];
    assert_eq!(
        schema["properties"]["x"]["description"],
        "Horizontal position, in pixels."
    );
    assert_eq!(
        schema["properties"]["y"]["description"],
        "Vertical position, in pixels."
    );
    assert_eq!(schema["required"], json!(["x", "y"]));
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "move_to", "arguments": { "x": 1, "y": 2 } }),
    );
    assert_eq!(result["content"][0]["text"], "1,2");
}
