use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    String::new()
}

/// Says bye.
#[mcp_tool(public)]
fn bye() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello))]
#[mcp(tools(bye))]
struct Greetings;

fn main() {
    let _ = Server::new(Greetings);
}
