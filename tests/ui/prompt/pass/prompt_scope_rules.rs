//! A prompt's scope rules: `any_scope`, a bare `when` on an `Option<bool>` argument, `when`
//! comparing an enum by its serialized name, and `may_require`.
#![deny(warnings)]

use schemars::JsonSchema;
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde::Deserialize;
use serde_json::{Value, json};

/// How the summary reads.
#[derive(Debug, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Tone {
    Casual,
    Formal,
}

/// Summarizes notes.
#[mcp_prompt(
    any_scope = ["notes:read", "notes:admin"],
    when(include_private => "notes:private"),
    when(tone == "formal" => "notes:formal"),
    may_require = ["notes:admin"],
)]
fn summarize(
    topic: String,
    include_private: Option<bool>,
    tone: Option<Tone>,
    ctx: RequestContext,
) -> Result<Vec<PromptMessage>, PromptError> {
    if topic == "salaries" {
        ctx.require_scopes(["notes:admin"])?;
    }
    Ok(vec![PromptMessage::user(format!(
        "{topic} {include_private:?} {tone:?}"
    ))])
}

#[derive(McpServer)]
#[mcp(name = "notes", version = "1.0.0", prompts(summarize))]
struct Notes;

/// Gets the prompt with `arguments` as a caller holding `notes:read`; the scopes a denial says
/// are missing (none when it was answered).
fn missing(server: &Server<Notes>, arguments: Value) -> Vec<&'static str> {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("notes:read"))
        .build();
    let params = json!({ "name": "summarize", "arguments": arguments });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal)) {
        Reply::Response(response) => {
            let response = response.to_json();
            assert!(response.contains(r#""messages""#), "{response}");
            Vec::new()
        }
        Reply::Denied(denial) => denial.missing,
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn main() {
    assert_eq!(
        <Notes as McpServer>::SCOPES,
        ["notes:admin", "notes:formal", "notes:private", "notes:read"]
    );
    let rules = &<Notes as McpServer>::PROMPTS[0].meta.rules;
    assert_eq!(rules.any_scopes, ["notes:read", "notes:admin"]);
    assert_eq!(rules.when.len(), 2);
    assert_eq!(rules.may_require, ["notes:admin"]);

    let server = Server::new(Notes).unwrap();
    let none: [&str; 0] = [];
    assert_eq!(missing(&server, json!({ "topic": "t" })), none);
    assert_eq!(
        missing(&server, json!({ "topic": "t", "tone": "casual" })),
        none
    );
    // Prompt arguments are strings on the wire.
    assert_eq!(
        missing(&server, json!({ "topic": "t", "include_private": "true" })),
        ["notes:private"]
    );
    assert_eq!(
        missing(&server, json!({ "topic": "t", "tone": "formal" })),
        ["notes:formal"]
    );
    assert_eq!(
        missing(&server, json!({ "topic": "salaries" })),
        ["notes:admin"]
    );
}
