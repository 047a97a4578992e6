//! A doc comment or `#[doc = "..."]` on a parameter describes the argument. Rustc rejects doc
//! comments on parameters, so the macro must remove them; this proves it does.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// Current weather for a city.
#[mcp_tool(public, read_only)]
fn forecast(
    /// The city, in English.
    city: String,
    #[doc = "Days ahead, 1 to 7."] days: Option<u8>,
) -> String {
    format!("{city} {}", days.unwrap_or(1))
}

#[derive(McpServer)]
#[mcp(name = "weather", version = "1.0.0", tools(forecast))]
struct Weather;

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
    let server = Server::new(Weather).unwrap();
    let list = rpc(&server, "", "tools/list", json!({}));
    let schema = &list["tools"][0]["inputSchema"];
    assert_eq!(
        schema["properties"]["city"]["description"],
        "The city, in English."
    );
    assert_eq!(
        schema["properties"]["days"]["description"],
        "Days ahead, 1 to 7."
    );
}
