//! `Principal` and `RequestContext` are extractors: they are not JSON arguments, so a tool
//! taking only them has an input schema with no properties.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Who is calling, and through which tool.
#[mcp_tool(scope = "me:read")]
fn whoami(who: Principal, context: RequestContext) -> String {
    format!(
        "{} via {}",
        who.subject().unwrap_or("nobody"),
        context.tool_name()
    )
}

#[derive(McpServer)]
#[mcp(name = "me", version = "1.0.0", tools(whoami))]
struct Me;

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
    let server = Server::new(Me).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    assert_eq!(
        list["tools"][0]["inputSchema"],
        json!({ "type": "object", "additionalProperties": false })
    );
    let result = rpc(
        &server,
        "me:read",
        "tools/call",
        json!({ "name": "whoami" }),
    );
    assert_eq!(result["content"][0]["text"], "alice via whoami");
}
