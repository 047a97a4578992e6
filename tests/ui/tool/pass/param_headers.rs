//! `#[arg(header = "...")]` on string, integer and boolean arguments (and an `Option` of one)
//! marks each property `x-mcp-header` in the input schema (SEP-2243), and the tool still runs.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Runs a query in a region.
#[mcp_tool(public)]
fn execute_sql(
    #[arg(header = "Region", description = "The region to run in.")] region: String,
    #[arg(header = "Shard", rename = "shard_id")] shard: Option<u32>,
    #[arg(header = "Dry-Run")] dry_run: bool,
    query: String,
) -> String {
    format!("{region} {shard:?} {dry_run} {query}")
}

#[derive(McpServer)]
#[mcp(name = "sql", version = "1.0.0", tools(execute_sql))]
struct Sql;

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
    let server = Server::new(Sql).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    let properties = &list["tools"][0]["inputSchema"]["properties"];
    assert_eq!(properties["region"]["x-mcp-header"], "Region");
    assert_eq!(properties["region"]["description"], "The region to run in.");
    assert_eq!(properties["shard_id"]["x-mcp-header"], "Shard");
    assert_eq!(properties["dry_run"]["x-mcp-header"], "Dry-Run");
    assert!(properties["query"].get("x-mcp-header").is_none());
    let result = rpc(
        &server,
        "",
        "tools/call",
        json!({ "name": "execute_sql", "arguments": {
            "region": "eu", "shard_id": 3, "dry_run": true, "query": "SELECT 1"
        } }),
    );
    assert_eq!(result["content"][0]["text"], "eu Some(3) true SELECT 1");
}
