use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "hello", version = "1.0.0", tool(hello))]
struct Hello;

fn main() {
    let _ = (hello(), Server::new(Hello));
}
