use scopegate::prelude::*;

/// Greets.
#[mcp_tool(public)]
fn greet(greeting: State<String>) -> String {
    greeting.0
}

#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(greet))]
struct Greetings {
    #[mcp(state)]
    hello: String,
    #[mcp(state)]
    bye: String,
}

fn main() {}
