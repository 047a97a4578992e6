use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello))]
struct Greetings<T> {
    value: T,
}

fn main() {
    let _ = Server::new(Greetings { value: 1 });
}
