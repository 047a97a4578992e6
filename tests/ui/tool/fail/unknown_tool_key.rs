use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, readonly)]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
