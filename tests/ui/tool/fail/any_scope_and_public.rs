use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, any_scope = ["repo:read", "repo:admin"])]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
