use scopegate::prelude::*;

/// `id` is a number: a string literal never equals it.
#[mcp_resource(uri = "docs://doc/{id}", scope = "docs:read", when(id == "7" => "docs:admin"))]
fn doc(id: u64) -> String {
    id.to_string()
}

fn main() {
    let _ = doc(0);
}
