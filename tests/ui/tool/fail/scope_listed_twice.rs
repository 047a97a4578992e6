use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scopes = ["notes:read", "notes:write", "notes:read"])]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
