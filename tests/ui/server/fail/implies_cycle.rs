use scopegate::prelude::*;

/// Reads a file.
#[mcp_tool(scope = "files:read")]
fn read_file() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(
    name = "files",
    version = "1.0.0",
    tools(read_file),
    implies("files:admin" => ["files:write"], "files:write" => ["files:read", "files:admin"]),
)]
struct Files;

fn main() {
    let _ = Server::new(Files);
}
