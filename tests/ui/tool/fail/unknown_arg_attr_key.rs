use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public)]
fn greet(#[arg(desc = "Who to greet.")] name: String) -> String {
    name
}

fn main() {
    let _ = greet(String::new());
}
