use scopegate::prelude::*;

/// Greets.
#[mcp_tool(public)]
fn greet(name: impl std::fmt::Display) -> String {
    format!("Hello {name}")
}

fn main() {
    let _ = greet("Ada");
}
