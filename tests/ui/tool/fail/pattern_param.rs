use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public)]
fn add((a, b): (u8, u8)) -> String {
    (a + b).to_string()
}

fn main() {
    let _ = add((1, 2));
}
