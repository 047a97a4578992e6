use scopegate::prelude::*;

/// One.
#[mcp_prompt(public, name = "greet")]
fn hello() -> String {
    "hello".into()
}

/// Two.
#[mcp_prompt(public, name = "greet")]
fn bye() -> String {
    "bye".into()
}

#[derive(McpServer)]
#[mcp(name = "prompts", version = "1.0.0", prompts(hello, bye))]
struct Prompts;

fn main() {
    let _ = Server::new(Prompts);
}
