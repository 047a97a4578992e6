use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, quota = "0/min")]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
