use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scopes = [])]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
