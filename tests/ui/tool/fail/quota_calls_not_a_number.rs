use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, quota = "ten/min")]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
