use scopegate::prelude::*;

/// Who may see a repository.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Visibility {
    Public,
    Secret,
}

/// A tool.
#[mcp_tool(scope = "repo:create", when(visibility == "secret" => "repo:secret"))]
fn create_repo(visibility: Visibility) -> String {
    format!("{visibility:?}")
}

fn main() {
    let _ = create_repo(Visibility::Public);
}
