use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "notes:read")]
fn read_note() -> String {
    String::new()
}

/// One note; `notes:admin` is not declared.
#[mcp_resource(uri = "notes://{id}", scope = "notes:read", when(id == 0 => "notes:admin"))]
fn note(id: u64) -> String {
    id.to_string()
}

#[derive(McpServer)]
#[mcp(
    name = "notes",
    version = "1.0.0",
    scopes("notes:read", "notes:write"),
    tools(read_note),
    resources(note)
)]
struct Notes;

fn main() {}
