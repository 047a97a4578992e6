use scopegate::prelude::*;

/// The URI is compared with the issued token's `aud` as written: no case to fold.
#[mcp_tool(scope = "mail:send", downstream = "https://API.Mail.example")]
fn send() -> String {
    String::new()
}

fn main() {
    let _ = send();
}
