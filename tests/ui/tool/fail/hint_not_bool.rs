use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, read_only = "yes")]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
