use scopegate::prelude::*;

/// A tool.
#[mcp_tool(public)]
fn echo<T: std::fmt::Display>(value: T) -> String {
    value.to_string()
}

fn main() {
    let _ = echo(1);
}
