use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(private == "yes" => "repo:private"))]
fn create_repo(name: String, private: bool) -> String {
    format!("{name} {private}")
}

fn main() {
    let _ = create_repo(String::new(), false);
}
