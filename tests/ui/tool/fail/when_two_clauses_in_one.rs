use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(private => "repo:private", fork => "repo:fork"))]
fn create_repo(private: bool, fork: bool) -> String {
    format!("{private} {fork}")
}

fn main() {
    let _ = create_repo(false, false);
}
