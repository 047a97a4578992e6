use scopegate::prelude::*;

fn rules() -> String {
    "not a schema".to_owned()
}

/// A tool.
#[mcp_tool(public, extend_schema = rules)]
fn hello(a: Option<String>, b: Option<String>) -> String {
    format!("{a:?} {b:?}")
}

fn main() {}
