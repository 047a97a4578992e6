use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(owner == "root"))]
fn create_repo(owner: String) -> String {
    owner
}

fn main() {
    let _ = create_repo(String::new());
}
