//! `downstream = ".."` (one API) and `downstream = [..]` (several): the APIs a tool may get a
//! token for by token exchange, through its `Downstream` parameter; they join the server's
//! `DOWNSTREAM` table, sorted and once each, beside tools that declare none.
#![deny(warnings)]

use scopegate::prelude::*;

/// Sends mail.
#[mcp_tool(scope = "mail:send", downstream = "https://api.mail.example")]
async fn send(apis: Downstream) -> Result<String, ToolError> {
    let token = apis.token("https://api.mail.example").await?;
    Ok(token.audience().to_owned())
}

/// Files a ticket and tells the chat; loopback `http` is allowed, for development.
#[mcp_tool(
    scope = "tickets:write",
    downstream = ["https://tracker.example/api/", "http://127.0.0.1:9000", "https://api.mail.example"]
)]
async fn file(apis: Downstream) -> Result<String, ToolError> {
    Ok(apis.apis().join(" "))
}

/// No downstream API.
#[mcp_tool(public)]
fn hello() -> String {
    "hello".into()
}

#[derive(McpServer)]
#[mcp(name = "office", version = "1.0.0", tools(send, file, hello))]
struct Office;

fn main() {
    assert_eq!(
        <Office as McpServer>::DOWNSTREAM,
        [
            "http://127.0.0.1:9000",
            "https://api.mail.example",
            "https://tracker.example/api/"
        ]
    );
    let tools = <Office as McpServer>::TOOLS;
    assert_eq!(tools[0].meta.rules.downstream, ["https://api.mail.example"]);
    assert_eq!(tools[1].meta.rules.downstream.len(), 3);
    assert!(tools[2].meta.rules.downstream.is_empty());
}
