//! Without `name` and `version`, the server announces the user's crate name and version.
#![deny(warnings)]

use scopegate::prelude::*;

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    "hello".to_owned()
}

#[derive(McpServer)]
#[mcp(tools(hello))]
struct Defaults;

fn main() {
    let info = <Defaults as McpServer>::INFO;
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_ne!(
        info.name, "scopegate",
        "the default must be the user's crate, not scopegate's"
    );
    assert_eq!(info.title, None);
    assert_eq!(info.instructions, None);
}
