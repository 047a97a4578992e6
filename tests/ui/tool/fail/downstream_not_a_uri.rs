use scopegate::prelude::*;

/// An API named by something that is not an absolute `https` URI, and one with a fragment,
/// each reported at its literal.
#[mcp_tool(scope = "mail:send", downstream = ["api.mail.example", "https://api.mail.example/#send"])]
fn send() -> String {
    String::new()
}

fn main() {
    let _ = send();
}
