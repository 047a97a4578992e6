//! A declared `scopes(...)` vocabulary that lists every scope the items' rules name
//! (`any_scope`, `when`, `may_require`) compiles, and `implies` may reach them.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::json;

/// Reads a note.
#[mcp_tool(any_scope = ["notes:read", "notes:admin"], may_require = ["notes:secret"])]
fn read_note(id: u64) -> String {
    id.to_string()
}

/// Writes a note.
#[mcp_tool(scope = "notes:write", when(pinned => "notes:pin"))]
fn write_note(text: String, pinned: bool) -> String {
    format!("{text} {pinned}")
}

/// One note.
#[mcp_resource(uri = "notes://{id}", scope = "notes:read", when(id == 0 => "notes:admin"))]
fn note(id: u64) -> String {
    id.to_string()
}

/// Summarizes notes.
#[mcp_prompt(any_scope = ["notes:read", "notes:admin"], may_require = ["notes:secret"])]
fn summarize(topic: String) -> Vec<PromptMessage> {
    vec![PromptMessage::user(topic)]
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    tools(read_note, write_note),
    resources(note),
    prompts(summarize),
    scopes("notes:read", "notes:write", "notes:admin", "notes:pin", "notes:secret"),
    implies("notes:admin" => ["notes:pin", "notes:secret"]),
)]
struct Notes;

fn main() {
    assert_eq!(
        <Notes as McpServer>::SCOPES,
        [
            "notes:admin",
            "notes:pin",
            "notes:read",
            "notes:secret",
            "notes:write"
        ]
    );
    let server = Server::new(Notes).unwrap();
    // `notes:admin` implies `notes:pin`, which the `when` clause asks for.
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("notes:write notes:admin"))
        .build();
    let params = json!({ "name": "write_note", "arguments": { "text": "t", "pinned": true } });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => assert!(response.to_json().contains("t true")),
        other => panic!("expected an answer, got {other:?}"),
    }
}
