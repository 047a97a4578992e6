use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    String::new()
}

struct Bye;

#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello, Bye))]
struct Greetings;

fn main() {
    let _ = Bye;
}
