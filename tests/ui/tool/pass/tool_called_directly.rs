//! The function stays an ordinary function: callable directly, with its own signature.
#![deny(warnings)]

use scopegate::prelude::*;

/// Adds.
#[mcp_tool(public)]
fn add(a: i64, b: i64) -> String {
    (a + b).to_string()
}

/// Adds, later.
#[mcp_tool(public)]
async fn add_later(a: i64, b: i64) -> Result<String, ToolError> {
    Ok(add(a, b))
}

/// Who is asking.
#[mcp_tool(scope = "me:read")]
fn whoami(who: Principal) -> String {
    who.subject().unwrap_or("nobody").to_owned()
}

#[derive(McpServer)]
#[mcp(name = "math", version = "1.0.0", tools(add, add_later, whoami))]
struct Math;

fn main() {
    assert_eq!(add(2, 3), "5");
    let as_fn: fn(i64, i64) -> String = add;
    assert_eq!(as_fn(1, 1), "2");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(add_later(2, 3)), Ok("5".to_owned()));
    assert_eq!(whoami(Principal::anonymous()), "nobody");
    assert_eq!(<Math as McpServer>::TOOLS.len(), 3);
}
