use scopegate::prelude::*;

/// Reads a note.
#[mcp_tool(scope = "notes:read", name = "get")]
fn get_note(id: u64) -> String {
    id.to_string()
}

/// Reads a file.
#[mcp_tool(scope = "files:read", name = "get")]
fn get_file(path: String) -> String {
    path
}

#[derive(McpServer)]
#[mcp(name = "things", version = "1.0.0", tools(get_note, get_file))]
struct Things;

fn main() {}
