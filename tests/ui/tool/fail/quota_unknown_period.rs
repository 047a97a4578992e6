use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public, quota = "10/fortnight")]
fn ping() -> String {
    String::new()
}

fn main() {
    let _ = ping();
}
