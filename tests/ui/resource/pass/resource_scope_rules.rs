//! A resource's scope rules: `any_scope`, `when` on a template variable (a string and an
//! integer), and `may_require` with `RequestContext::require_scopes`.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::json;

/// A file of an owner's.
#[mcp_resource(
    uri = "files://{owner}/{year}/{name}",
    any_scope = ["files:read", "files:admin"],
    when(owner == "root" => "files:root"),
    when(year == 1999 => "files:archive"),
    may_require = ["files:secret"],
)]
fn file(
    owner: String,
    year: u32,
    name: String,
    ctx: RequestContext,
) -> Result<String, ResourceError> {
    if name.ends_with(".key") {
        ctx.require_scopes(["files:secret"])?;
    }
    Ok(format!("{owner}/{year}/{name}"))
}

#[derive(McpServer)]
#[mcp(name = "files", version = "1.0.0", resources(file))]
struct Files;

/// Reads `uri` as a caller holding `files:read`; the scopes a denial says are missing (none
/// when the read was answered).
fn missing(server: &Server<Files>, uri: &str) -> Vec<&'static str> {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("files:read"))
        .build();
    let params = json!({ "uri": uri });
    let request =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => {
            let response = response.to_json();
            assert!(response.contains(r#""contents""#), "{response}");
            Vec::new()
        }
        Reply::Denied(denial) => denial.missing,
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn main() {
    assert_eq!(
        <Files as McpServer>::SCOPES,
        [
            "files:admin",
            "files:archive",
            "files:read",
            "files:root",
            "files:secret"
        ]
    );
    let rules = &<Files as McpServer>::RESOURCES[0].meta.rules;
    assert_eq!(rules.any_scopes, ["files:read", "files:admin"]);
    assert_eq!(rules.when.len(), 2);
    assert_eq!(rules.may_require, ["files:secret"]);

    let server = Server::new(Files).unwrap();
    let none: [&str; 0] = [];
    assert_eq!(missing(&server, "files://alice/2024/notes.txt"), none);
    assert_eq!(
        missing(&server, "files://root/2024/notes.txt"),
        ["files:root"]
    );
    assert_eq!(
        missing(&server, "files://alice/1999/notes.txt"),
        ["files:archive"]
    );
    assert_eq!(
        missing(&server, "files://alice/2024/id.key"),
        ["files:secret"]
    );
}
