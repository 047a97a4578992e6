use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "notes:read")]
fn read_note() -> String {
    String::new()
}

/// Reads a note; may ask for `notes:admin`, which `scopes(...)` does not declare.
#[mcp_tool(scope = "notes:read", may_require = ["notes:admin"])]
fn get_note(id: u64) -> String {
    id.to_string()
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    scopes("notes:read", "notes:write"),
    tools(read_note, get_note)
)]
struct Notes;

fn main() {}
