//! `#[mcp(state)]` on a server field lets tools take that field as `State<FieldType>`.
#![deny(warnings)]

use std::sync::Arc;

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

#[derive(Clone)]
struct Greeting(String);

struct Db {
    notes: Vec<String>,
}

/// Greets.
#[mcp_tool(public)]
fn greet(greeting: State<Greeting>, name: String) -> String {
    format!("{} {name}", greeting.0.0)
}

/// Counts the notes.
#[mcp_tool(scope = "notes:read")]
async fn count(db: State<Arc<Db>>) -> String {
    db.notes.len().to_string()
}

#[derive(McpServer)]
#[mcp(name = "notes", version = "1.0.0", tools(greet, count))]
struct Notes {
    #[mcp(state)]
    greeting: Greeting,
    #[mcp(state)]
    db: Arc<Db>,
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
    let notes = Notes {
        greeting: Greeting("Hello".to_owned()),
        db: Arc::new(Db {
            notes: vec!["a".to_owned(), "b".to_owned()],
        }),
    };
    let server = Server::new(notes).unwrap();
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "greet", "arguments": { "name": "Ada" } }),
    );
    assert_eq!(result["content"][0]["text"], "Hello Ada");
    let result = rpc(
        &server,
        "notes:read",
        "tools/call",
        json!({ "name": "count" }),
    );
    assert_eq!(result["content"][0]["text"], "2");
}
