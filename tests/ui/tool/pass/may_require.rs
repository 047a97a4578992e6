//! `may_require = [..]`: the scopes a handler may demand while it runs, with
//! `RequestContext::require_scopes`; they are in the server's scope list.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::json;

/// Reads a repository; a private one needs `repo:private` too.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private", "repo:audit"])]
async fn get_repo(name: String, ctx: RequestContext) -> Result<String, ToolError> {
    if name.starts_with("private/") {
        ctx.require_scopes(["repo:private"])?;
    }
    Ok(name)
}

#[derive(McpServer)]
#[mcp(name = "repos", version = "1.0.0", tools(get_repo))]
struct Repos;

/// Calls `get_repo` for `name` as a caller holding `repo:read`.
fn call(server: &Server<Repos>, name: &str) -> Reply {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("repo:read"))
        .build();
    let params = json!({ "name": "get_repo", "arguments": { "name": name } });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal))
}

fn main() {
    assert_eq!(
        <Repos as McpServer>::SCOPES,
        ["repo:audit", "repo:private", "repo:read"]
    );
    let meta = &<Repos as McpServer>::TOOLS[0].meta;
    assert_eq!(meta.scopes, ["repo:read"]);
    assert_eq!(meta.rules.may_require, ["repo:private", "repo:audit"]);

    let server = Server::new(Repos).unwrap();
    match call(&server, "public/site") {
        Reply::Response(response) => assert!(response.to_json().contains("public/site")),
        other => panic!("expected an answer, got {other:?}"),
    }
    match call(&server, "private/keys") {
        Reply::Denied(denial) => assert_eq!(denial.missing, ["repo:private"]),
        other => panic!("expected a denial, got {other:?}"),
    }
}
