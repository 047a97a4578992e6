//! A tool function with a raw identifier (`r#match`) is the tool `match`.
#![deny(warnings)]

use scopegate::prelude::*;

/// Matches.
#[mcp_tool(public)]
fn r#match(pattern: String) -> String {
    pattern
}

#[derive(McpServer)]
#[mcp(name = "match", version = "1.0.0", tools(r#match))]
struct Match;

fn main() {
    assert_eq!(<Match as McpServer>::TOOLS[0].meta.name, "match");
    assert_eq!(r#match("x".to_owned()), "x");
}
