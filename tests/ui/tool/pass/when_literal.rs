//! `when(argument == literal => "scope")`: an enum compared by its serialized (renamed) name, an
//! integer literal against a `u32`, a string against an `Option<String>`, `true` against a
//! `bool`, and a raw identifier argument.
#![deny(warnings)]

use schemars::JsonSchema;
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde::Deserialize;
use serde_json::{Value, json};

/// Who may see a repository.
#[derive(Debug, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Visibility {
    Public,
    TeamOnly,
    #[serde(rename = "secret")]
    Confidential,
}

/// Creates a repository.
#[mcp_tool(
    scope = "repo:create",
    when(visibility == "secret" => "repo:secret"),
    when(visibility == "team_only" => "team:write"),
    when(seats == 500 => "billing:enterprise"),
    when(owner == "root" => "admin:root"),
    when(archived == true => "repo:archive"),
    when(r#type == "fork" => "repo:fork"),
)]
fn create_repo(
    visibility: Visibility,
    seats: u32,
    owner: Option<String>,
    archived: bool,
    r#type: String,
) -> String {
    format!("{visibility:?} {seats} {owner:?} {archived} {type}", type = r#type)
}

#[derive(McpServer)]
#[mcp(name = "repos", version = "1.0.0", tools(create_repo))]
struct Repos;

/// Calls `create_repo` with `arguments` as a caller holding only `repo:create`; the scopes a
/// denial says are missing, sorted (none when the call was answered).
fn missing(server: &Server<Repos>, arguments: Value) -> Vec<&'static str> {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("repo:create"))
        .build();
    let params = json!({ "name": "create_repo", "arguments": arguments });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => {
            let response: Value = serde_json::from_str(&response.to_json()).unwrap();
            assert!(response.get("error").is_none(), "{response}");
            Vec::new()
        }
        Reply::Denied(denial) => {
            let mut missing = denial.missing;
            missing.sort_unstable();
            missing
        }
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn main() {
    assert_eq!(
        <Repos as McpServer>::SCOPES,
        [
            "admin:root",
            "billing:enterprise",
            "repo:archive",
            "repo:create",
            "repo:fork",
            "repo:secret",
            "team:write"
        ]
    );
    let when: Vec<String> = <Repos as McpServer>::TOOLS[0]
        .meta
        .rules
        .when
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        when,
        [
            r#"when(visibility == "secret" => "repo:secret")"#,
            r#"when(visibility == "team_only" => "team:write")"#,
            r#"when(seats == 500 => "billing:enterprise")"#,
            r#"when(owner == "root" => "admin:root")"#,
            r#"when(archived == true => "repo:archive")"#,
            r#"when(type == "fork" => "repo:fork")"#,
        ]
    );

    // Building the server reads every literal as its argument's type.
    let server = Server::new(Repos).unwrap();
    let plain = json!({ "visibility": "public", "seats": 5, "archived": false, "type": "new" });
    let none: [&str; 0] = [];
    assert_eq!(missing(&server, plain.clone()), none);
    let with = |key: &str, value: Value| {
        let mut arguments = plain.clone();
        arguments[key] = value;
        missing(&server, arguments)
    };
    assert_eq!(with("visibility", json!("secret")), ["repo:secret"]);
    assert_eq!(with("visibility", json!("team_only")), ["team:write"]);
    assert_eq!(with("seats", json!(500)), ["billing:enterprise"]);
    assert_eq!(with("seats", json!(499)), none);
    assert_eq!(with("owner", json!("root")), ["admin:root"]);
    assert_eq!(with("owner", json!("alice")), none);
    assert_eq!(with("archived", json!(true)), ["repo:archive"]);
    assert_eq!(with("type", json!("fork")), ["repo:fork"]);
}
