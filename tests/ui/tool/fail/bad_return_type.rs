use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public)]
fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
