use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    String::new()
}

/// Forgot `#[mcp_tool]`.
fn bye() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello, bye))]
struct Greetings;

fn main() {
    let _ = bye();
}
