use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, name = "has space")]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
