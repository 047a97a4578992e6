use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:read", may_require = [])]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
