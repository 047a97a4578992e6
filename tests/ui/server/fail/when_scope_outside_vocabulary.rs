use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "notes:read")]
fn read_note() -> String {
    String::new()
}

/// Writes a note; `notes:pin` is not declared.
#[mcp_tool(scope = "notes:write", when(pinned => "notes:pin"))]
fn write_note(pinned: bool) -> String {
    pinned.to_string()
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    scopes("notes:read", "notes:write"),
    tools(read_note, write_note)
)]
struct Notes;

fn main() {}
