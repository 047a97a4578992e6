use scopegate::prelude::*;

/// Tokens in clear to a host that is not loopback.
#[mcp_tool(scope = "mail:send", downstream = "http://api.mail.example")]
fn send() -> String {
    String::new()
}

fn main() {
    let _ = send();
}
