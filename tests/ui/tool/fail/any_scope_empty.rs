use scopegate::prelude::*;

/// A tool.
#[mcp_tool(any_scope = [])]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
