use scopegate::prelude::*;

/// A tool.
#[mcp_tool(any_scope = ["repo:read", "repo:admin", "repo:read"])]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
