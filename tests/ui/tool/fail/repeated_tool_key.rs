use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, name = "hello", name = "hi")]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
