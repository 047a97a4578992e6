use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, task = "sometimes")]
async fn hello() -> String {
    "hello".to_owned()
}

fn main() {}
