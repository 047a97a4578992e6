use scopegate::prelude::*;

/// Two variables side by side cannot be told apart.
#[mcp_resource(uri = "docs://{a}{b}", scope = "docs:read")]
fn pair(a: String, b: String) -> String {
    format!("{a}{b}")
}

fn main() {
    let _ = pair(String::new(), String::new());
}
