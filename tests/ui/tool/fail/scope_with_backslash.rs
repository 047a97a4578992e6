use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scopes = ["notes:read", r"notes\write"])]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
