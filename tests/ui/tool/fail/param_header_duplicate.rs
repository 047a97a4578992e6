use scopegate::prelude::*;

/// Copies between two regions.
#[mcp_tool(public)]
fn copy(
    #[arg(header = "Region")] from: String,
    #[arg(header = "region")] to: String,
) -> String {
    format!("{from} {to}")
}

fn main() {
    let _ = copy(String::new(), String::new());
}
