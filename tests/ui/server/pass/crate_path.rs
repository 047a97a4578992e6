//! `crate = path` on both macros, for code that reaches scopegate through another path.
#![deny(warnings)]

mod vendor {
    pub use ::scopegate as mcp;
}

use vendor::mcp::McpServer as _;

/// Says hello.
#[vendor::mcp::mcp_tool(public, crate = ::scopegate)]
fn hello() -> String {
    "hello".to_owned()
}

/// Says bye.
#[vendor::mcp::mcp_tool(public, crate = crate::vendor::mcp)]
fn bye() -> String {
    "bye".to_owned()
}

#[derive(vendor::mcp::McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello, bye), crate = ::scopegate)]
struct Greetings;

#[derive(vendor::mcp::McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello, bye), crate = crate::vendor::mcp)]
struct Vendored;

fn main() {
    assert_eq!(Greetings::TOOLS.len(), 2);
    assert_eq!(Vendored::TOOLS.len(), 2);
}
