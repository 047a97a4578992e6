use scopegate::prelude::*;

/// A tool.
#[mcp_tool]
fn hello() -> String {
    "hello".to_owned()
}

/// Another tool, with other keys but still no scope.
#[mcp_tool(read_only, title = "Bye")]
fn bye() -> String {
    "bye".to_owned()
}

fn main() {
    let _ = (hello(), bye());
}
