//! `Result<Json<T>, ToolError>`: `outputSchema` from `T`, `structuredContent` on success and
//! `isError: true` on error.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Note {
    id: u64,
    text: String,
}

/// Reads a note.
#[mcp_tool(scope = "notes:read", read_only)]
async fn get_note(id: u64) -> Result<Json<Note>, ToolError> {
    if id == 1 {
        Ok(Json(Note {
            id,
            text: "first".to_owned(),
        }))
    } else {
        Err(ToolError::new(format!("no note {id}")))
    }
}

#[derive(McpServer)]
#[mcp(name = "notes", version = "1.0.0", tools(get_note))]
struct Notes;

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
    let server = Server::new(Notes).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    assert_eq!(list["tools"][0]["outputSchema"]["type"], "object");
    assert_eq!(
        list["tools"][0]["outputSchema"]["required"],
        json!(["id", "text"])
    );
    let ok = rpc(
        &server,
        "notes:read",
        "tools/call",
        json!({ "name": "get_note", "arguments": { "id": 1 } }),
    );
    assert_eq!(ok["structuredContent"], json!({ "id": 1, "text": "first" }));
    let err = rpc(
        &server,
        "notes:read",
        "tools/call",
        json!({ "name": "get_note", "arguments": { "id": 2 } }),
    );
    assert_eq!(
        err,
        json!({ "content": [{ "type": "text", "text": "no note 2" }], "isError": true })
    );
}
