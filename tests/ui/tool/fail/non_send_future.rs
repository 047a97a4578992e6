use std::rc::Rc;

use scopegate::prelude::*;

/// Holds an `Rc` across an `.await`, so its future is not `Send`.
#[mcp_tool(public)]
async fn count() -> String {
    let counter = Rc::new(1);
    std::future::ready(()).await;
    counter.to_string()
}

fn main() {
    let _ = count();
}
