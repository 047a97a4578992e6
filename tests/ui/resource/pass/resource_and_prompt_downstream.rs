//! `downstream = ..` on a resource and on a prompt: their handlers take `Downstream` too, and
//! their APIs join the server's `DOWNSTREAM` table.
#![deny(warnings)]

use scopegate::prelude::*;

/// A ticket, read from the tracker's API.
#[mcp_resource(uri = "tickets://{id}", scope = "tickets:read", downstream = "https://tracker.example")]
async fn ticket(id: String, apis: Downstream) -> Result<String, ResourceError> {
    let token = apis.token("https://tracker.example").await?;
    Ok(format!("{id} {}", token.audience()))
}

/// Drafts a reply with the chat's history.
#[mcp_prompt(scope = "tickets:read", downstream = ["https://chat.example"])]
async fn draft(topic: String, apis: Downstream) -> Result<String, PromptError> {
    Ok(format!("{topic} {}", apis.apis().join(" ")))
}

#[derive(McpServer)]
#[mcp(name = "tickets", resources(ticket), prompts(draft))]
struct Tickets;

fn main() {
    assert_eq!(
        <Tickets as McpServer>::DOWNSTREAM,
        ["https://chat.example", "https://tracker.example"]
    );
    assert_eq!(
        <Tickets as McpServer>::RESOURCES[0].meta.rules.downstream,
        ["https://tracker.example"]
    );
    assert_eq!(
        <Tickets as McpServer>::PROMPTS[0].meta.rules.downstream,
        ["https://chat.example"]
    );
}
