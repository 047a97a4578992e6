use scopegate::prelude::*;

/// Greets.
#[mcp_tool(public)]
fn greet(name: &str) -> String {
    format!("Hello {name}")
}

fn main() {
    let _ = greet("Ada");
}
