use scopegate::prelude::*;

/// Counts, with a verbose flag only in some builds.
#[mcp_tool(public)]
fn count(#[cfg(any())] verbose: bool, items: Vec<String>) -> String {
    items.len().to_string()
}

fn main() {
    let _ = count(Vec::new());
}
