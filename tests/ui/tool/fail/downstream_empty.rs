use scopegate::prelude::*;

/// No API at all.
#[mcp_tool(scope = "mail:send", downstream = [])]
fn send() -> String {
    String::new()
}

fn main() {
    let _ = send();
}
