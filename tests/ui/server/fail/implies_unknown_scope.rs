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
    scopes("files:read", "files:admin"),
    implies("files:admin" => ["files:read", "files:wrte"]),
)]
struct Files;

fn main() {
    let _ = Server::new(Files);
}
