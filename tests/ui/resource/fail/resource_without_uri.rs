use scopegate::prelude::*;

/// A resource with nowhere to live.
#[mcp_resource(scope = "docs:read")]
fn readme() -> String {
    "hello".into()
}

fn main() {
    let _ = readme();
}
