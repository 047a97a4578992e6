use scopegate::prelude::*;

/// The template names `id`, the function takes `key`.
#[mcp_resource(uri = "docs://doc/{id}", scope = "docs:read")]
fn doc(key: String) -> String {
    key
}

fn main() {
    let _ = doc(String::new());
}
