use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(private => "repo private"))]
fn create_repo(private: bool) -> String {
    private.to_string()
}

fn main() {
    let _ = create_repo(false);
}
