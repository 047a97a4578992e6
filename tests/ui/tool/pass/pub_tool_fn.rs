//! `pub` and `pub(crate)` tool functions: the hidden tool item takes the function's
//! visibility, and documents itself, so `missing_docs` stays quiet.
#![deny(warnings, missing_docs)]

use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
pub fn hello() -> String {
    "hello".to_owned()
}

/// Says bye.
#[mcp_tool(public)]
pub(crate) async fn bye() -> String {
    "bye".to_owned()
}

/// The server.
#[derive(McpServer)]
#[mcp(name = "greetings", version = "1.0.0", tools(hello, bye))]
pub struct Greetings;

fn main() {
    assert_eq!(<Greetings as McpServer>::TOOLS.len(), 2);
}
