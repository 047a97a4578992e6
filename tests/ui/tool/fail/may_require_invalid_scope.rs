use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:read", may_require = ["repo:read", "repo\"private"])]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
