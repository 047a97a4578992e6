use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "a")]
fn read_note() -> String {
    String::new()
}

/// Writes a note.
#[mcp_tool(scopes = ["a", "b"])]
fn write_note() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    scopes("a"),
    tools(read_note, write_note)
)]
struct Notes;

fn main() {}
