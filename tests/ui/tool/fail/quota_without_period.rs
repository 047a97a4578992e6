use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, quota = "10")]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
