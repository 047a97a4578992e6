//! A `when` literal that is no value of the argument's type (here the variant's Rust name, not
//! its serde name) compiles, and building the server refuses it: the clause could never match.
#![deny(warnings)]

use schemars::JsonSchema;
use scopegate::BuildError;
use scopegate::prelude::*;
use serde::Deserialize;

/// Who may see a repository.
#[derive(Debug, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Visibility {
    Public,
    Secret,
}

/// Creates a repository.
#[mcp_tool(scope = "repo:create", when(visibility == "Secret" => "repo:secret"))]
fn create_repo(visibility: Visibility) -> String {
    format!("{visibility:?}")
}

#[derive(McpServer)]
#[mcp(name = "repos", version = "1.0.0", tools(create_repo))]
struct Repos;

fn main() {
    match Server::new(Repos) {
        Err(BuildError::WhenLiteral { item, clause }) => {
            assert_eq!(item, "create_repo");
            assert_eq!(clause, r#"when(visibility == "Secret" => "repo:secret")"#);
        }
        Err(other) => panic!("expected a WhenLiteral error, got {other}"),
        Ok(_) => panic!("the server was built with a literal that never matches"),
    }
}
