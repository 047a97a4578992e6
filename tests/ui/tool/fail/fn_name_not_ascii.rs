use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public)]
fn café() -> String {
    "coffee".to_owned()
}

fn main() {
    let _ = café();
}
