#![deny(warnings)]

use scopegate::prelude::*;

/// A static resource.
#[mcp_resource(uri = "docs://readme", mime_type = "text/markdown", public)]
fn readme() -> &'static str {
    "# hi"
}

/// A templated, scoped resource with an extractor beside the variable.
#[mcp_resource(uri = "docs://doc/{id}", scope = "docs:read")]
async fn doc(id: u64, who: Principal) -> Result<String, ResourceError> {
    Ok(format!("{id} for {:?}", who.subject()))
}

fn topics(prefix: &str) -> Vec<String> {
    vec![format!("{prefix}…")]
}

/// A prompt with a completable argument.
#[mcp_prompt(scope = "docs:read")]
fn summarize(#[arg(complete = topics)] topic: String) -> Vec<PromptMessage> {
    vec![PromptMessage::user(topic)]
}

#[derive(McpServer)]
#[mcp(name = "docs", version = "1.0.0", resources(readme, doc), prompts(summarize), scopes("docs:read"))]
struct Docs;

fn main() {
    assert_eq!(Docs::SCOPES, ["docs:read"]);
    let server = Server::new(Docs).unwrap();
    assert_eq!(server.resources().len(), 2);
    assert_eq!(server.prompts().len(), 1);
    assert_eq!(readme(), "# hi");
}
