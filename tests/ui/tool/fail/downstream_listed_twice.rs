use scopegate::prelude::*;

/// One API twice.
#[mcp_tool(scope = "mail:send", downstream = ["https://api.mail.example", "https://api.mail.example"])]
fn send() -> String {
    String::new()
}

fn main() {
    let _ = send();
}
