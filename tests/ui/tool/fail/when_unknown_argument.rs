use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(privat => "repo:private"))]
fn create_repo(name: String, private: bool) -> String {
    format!("{name} {private}")
}

fn main() {
    let _ = create_repo(String::new(), false);
}
