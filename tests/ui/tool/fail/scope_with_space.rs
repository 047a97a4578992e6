use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "notes:read notes:write")]
fn hello() -> String {
    "hello".to_owned()
}

fn main() {
    let _ = hello();
}
