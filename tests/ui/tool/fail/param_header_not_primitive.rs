use scopegate::prelude::*;

/// Scales by a ratio.
#[mcp_tool(public)]
fn scale(#[arg(header = "Ratio")] ratio: f64, #[arg(header = "Tags")] tags: Vec<String>) -> String {
    format!("{ratio} {tags:?}")
}

fn main() {
    let _ = scale(1.0, Vec::new());
}
