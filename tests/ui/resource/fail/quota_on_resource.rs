use scopegate::prelude::*;

/// A quota is a tool's: a resource has none.
#[mcp_resource(uri = "docs://readme", scope = "docs:read", quota = "10/min")]
fn readme() -> String {
    String::new()
}

fn main() {
    let _ = readme();
}
