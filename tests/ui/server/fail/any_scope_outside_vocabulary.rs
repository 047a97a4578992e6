use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "notes:read")]
fn read_note() -> String {
    String::new()
}

/// Summarizes; `notes:admin` is not declared.
#[mcp_prompt(any_scope = ["notes:read", "notes:admin"])]
fn summarize(topic: String) -> String {
    topic
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    scopes("notes:read", "notes:write"),
    tools(read_note),
    prompts(summarize)
)]
struct Notes;

fn main() {}
