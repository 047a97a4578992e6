use scopegate::prelude::*;

/// A tool.
#[mcp_tool(scope = "repo:create", when(who == "root" => "admin:root"))]
fn create_repo(name: String, who: Principal) -> String {
    format!("{name} {:?}", who.subject())
}

fn main() {
    let _ = create_repo(String::new(), Principal::builder().build());
}
