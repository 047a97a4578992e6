//! The downstream APIs as the code declares them, everywhere they are told: the compile-time
//! table, `tools/list` (and the resource and prompt lists) `_meta`, the scope table as JSON and
//! Markdown, the providers' notes; and the build that refuses them without a token exchange.

use scopegate::auth::{ClientAuth, TokenExchange};
use scopegate::export::Format;
use scopegate::prelude::*;
use scopegate::server::DOWNSTREAM_META_KEY;
use scopegate::{BuildError, Downstream, Reply, ServerOptions};
use serde_json::{Value, json};

/// Files a ticket.
#[mcp_tool(
    scope = "tickets:write",
    downstream = ["https://tracker.example", "https://chat.example/api"]
)]
async fn file_ticket(apis: Downstream) -> Result<String, ToolError> {
    // Called in process, with no caller's token: refused without asking anyone.
    let refused = apis.token("https://tracker.example").await.unwrap_err();
    Ok(format!("{} | {refused}", apis.apis().join(" ")))
}

/// Reads tickets, no downstream API.
#[mcp_tool(scope = "tickets:read")]
fn list_tickets() -> String {
    String::new()
}

/// A ticket, from the tracker.
#[mcp_resource(
    uri = "tickets://{id}",
    scope = "tickets:read",
    downstream = "https://tracker.example"
)]
fn ticket(id: String) -> String {
    id
}

/// Drafts a reply, with the chat's history.
#[mcp_prompt(scope = "tickets:read", downstream = "https://chat.example/api")]
fn draft(topic: String) -> String {
    topic
}

#[derive(McpServer)]
#[mcp(
    name = "tickets",
    tools(file_ticket, list_tickets),
    resources(ticket),
    prompts(draft)
)]
struct Tickets;

fn exchange() -> TokenExchange {
    // Never contacted here: building needs one, listing does not use it.
    TokenExchange::new(
        "https://as.example/token",
        "tickets",
        ClientAuth::secret_basic("unused"),
    )
}

fn server() -> Server<Tickets> {
    Server::with_options(Tickets, ServerOptions::default().token_exchange(exchange())).unwrap()
}

async fn list(server: &Server<Tickets>, method: &str) -> Value {
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}});
    let who = Principal::anonymous();
    let Reply::Response(response) = server
        .handle_bytes(message.to_string().as_bytes(), &who)
        .await
    else {
        panic!("no response to {method}");
    };
    let response: Value = serde_json::from_str(&response.to_json()).unwrap();
    response["result"].clone()
}

#[test]
fn the_table_holds_every_api_once_sorted() {
    assert_eq!(
        Tickets::DOWNSTREAM,
        ["https://chat.example/api", "https://tracker.example"]
    );
    assert_eq!(server().downstream(), Tickets::DOWNSTREAM);
}

#[test]
fn a_server_with_downstream_apis_does_not_build_without_a_token_exchange() {
    assert_eq!(
        Server::new(Tickets).err(),
        Some(BuildError::NoTokenExchange {
            api: "https://chat.example/api"
        })
    );
}

#[tokio::test]
async fn the_lists_tell_each_items_apis_in_meta() {
    let server = server();
    let tools = list(&server, "tools/list").await;
    let meta = |list: &Value, key: &str, name: &str| {
        list[key]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["_meta"].clone())
            .unwrap()
    };
    assert_eq!(
        meta(&tools, "tools", "file_ticket")[DOWNSTREAM_META_KEY],
        json!(["https://tracker.example", "https://chat.example/api"])
    );
    assert_eq!(
        meta(&tools, "tools", "list_tickets").get(DOWNSTREAM_META_KEY),
        None,
        "no key for a tool without downstream APIs"
    );
    let templates = list(&server, "resources/templates/list").await;
    assert_eq!(
        meta(&templates, "resourceTemplates", "ticket")[DOWNSTREAM_META_KEY],
        json!(["https://tracker.example"])
    );
    let prompts = list(&server, "prompts/list").await;
    assert_eq!(
        meta(&prompts, "prompts", "draft")[DOWNSTREAM_META_KEY],
        json!(["https://chat.example/api"])
    );
}

#[test]
fn the_scope_table_lists_the_apis_and_who_uses_them() {
    let server = server();
    let table = server.scope_table_json();
    assert_eq!(
        table["downstream"],
        json!([
            {"api": "https://chat.example/api", "used_by": [{"tool": "file_ticket"}, {"prompt": "draft"}]},
            {"api": "https://tracker.example", "used_by": [{"tool": "file_ticket"}, {"resource": "tickets://{id}"}]},
        ])
    );
    let file_ticket = table["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "file_ticket")
        .unwrap();
    assert_eq!(
        file_ticket["downstream"],
        json!(["https://tracker.example", "https://chat.example/api"])
    );
    let markdown = server.scope_table_markdown();
    assert!(markdown.contains("## Downstream APIs"), "{markdown}");
    assert!(
        markdown.contains(
            "| `https://tracker.example` | tool `file_ticket`, resource `tickets://{id}` |"
        ),
        "{markdown}"
    );
    let export = server.export(Format::Json, "https://mcp.example/mcp");
    assert_eq!(export.json().unwrap()["downstream"], table["downstream"]);
}

#[test]
fn every_providers_notes_say_how_to_allow_the_exchange() {
    let server = server();
    for (format, says) in [
        (Format::Keycloak, "Standard token exchange"),
        (Format::Auth0, "On-Behalf-Of Token Exchange"),
        (Format::Okta, "Token Exchange grant"),
        (Format::Entra, "has no RFC 8693 exchange"),
    ] {
        let export = server.export(format, "https://mcp.example/mcp");
        let note = export
            .notes()
            .iter()
            .find(|n| {
                n.starts_with(
                    "Token exchange for `https://chat.example/api`, `https://tracker.example`",
                )
            })
            .unwrap_or_else(|| panic!("{format}: {:?}", export.notes()));
        assert!(note.contains(says), "{format}: {note}");
    }
}

#[tokio::test]
async fn the_extractor_sees_its_items_apis_and_refuses_without_a_callers_token() {
    let server = server();
    let message = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "file_ticket", "arguments": {}},
    });
    let who = Principal::builder()
        .subject("alice")
        .scopes(scopegate::ScopeSet::from_space_separated("tickets:write"))
        .build();
    let Reply::Response(response) = server
        .handle_bytes(message.to_string().as_bytes(), &who)
        .await
    else {
        panic!("no response");
    };
    let response: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(
        response["result"]["content"][0]["text"],
        "https://tracker.example https://chat.example/api | `file_ticket` could not get a token for https://tracker.example: the caller presented no token to exchange"
    );
}
