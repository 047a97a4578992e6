use scopegate::prelude::*;

fn one_of_a_or_b() -> scopegate::serde_json::Value {
    scopegate::serde_json::json!({ "anyOf": [{ "required": ["a"] }, { "required": ["b"] }] })
}

/// Runs long; may become a task.
#[mcp_tool(public, task, extend_schema = one_of_a_or_b)]
async fn long(a: Option<String>, b: Option<String>, ctx: RequestContext) -> String {
    ctx.run_as_task().await;
    format!("{a:?} {b:?}")
}

/// Always a task.
#[mcp_tool(public, task = "required")]
async fn always() -> String {
    "done".to_owned()
}

/// Explicitly optional.
#[mcp_tool(public, task = "optional")]
async fn maybe() -> String {
    "maybe".to_owned()
}

#[derive(McpServer)]
#[mcp(name = "t", tools(long, always, maybe))]
struct T;

fn main() {
    let server = Server::new(T).unwrap();
    assert_eq!(
        server.tool("always").unwrap().meta.task,
        scopegate::TaskSupport::Required
    );
}
