use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "notes:read", public)]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
