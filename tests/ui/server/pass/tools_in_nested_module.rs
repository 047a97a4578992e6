//! `tools(...)` takes paths: tools defined in (nested) modules are listed as `module::tool`.
#![deny(warnings)]

use scopegate::prelude::*;

mod files {
    use scopegate::prelude::*;

    /// Reads a file.
    #[mcp_tool(scope = "files:read")]
    pub fn read(path: String) -> String {
        path
    }

    pub mod admin {
        use scopegate::prelude::*;

        /// Deletes everything.
        #[mcp_tool(scope = "files:admin", destructive)]
        pub(crate) async fn purge() -> String {
            "purged".to_owned()
        }
    }
}

/// Says hello.
#[mcp_tool(public)]
fn hello() -> String {
    "hello".to_owned()
}

#[derive(McpServer)]
#[mcp(
    name = "files",
    version = "1.0.0",
    tools(files::read, files::admin::purge, crate::hello)
)]
struct Files;

fn main() {
    let names: Vec<&str> = <Files as McpServer>::TOOLS
        .iter()
        .map(|t| t.meta.name)
        .collect();
    assert_eq!(names, ["read", "purge", "hello"]);
    assert_eq!(<Files as McpServer>::SCOPES, ["files:admin", "files:read"]);
}
