use scopegate::prelude::*;

/// Not a function.
#[mcp_tool(public)]
struct Hello;

fn main() {
    let _ = Hello;
}
