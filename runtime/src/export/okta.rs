//! Okta: a custom authorization server whose audience is the resource URI
//! (`POST /api/v1/authorizationServers`: `name`, `description`, `audiences`), and its scopes
//! (`POST /api/v1/authorizationServers/{authServerId}/scopes`, one call each: `name`,
//! `displayName`, `description`, `consent`, `metadataPublish`, `default`, `optional`).

use serde_json::{Value, json};

use super::table::Table;

pub(super) fn document(table: &Table) -> (Value, Vec<String>) {
    let scopes: Vec<Value> = table
        .scopes
        .iter()
        .map(|entry| {
            json!({
                "name": entry.scope,
                "displayName": entry.title(table.server),
                "description": entry.description(),
                // MCP clients are third-party applications: the user sees what they grant.
                "consent": "REQUIRED",
                // In the authorization server's metadata (`scopes_supported`), where clients
                // look for them.
                "metadataPublish": "ALL_CLIENTS",
                "default": false,
                "optional": false,
            })
        })
        .collect();
    let document = json!({
        "authorizationServer": {
            "name": table.server,
            "description": format!("Issues tokens for the MCP server {}", table.server),
            "audiences": [table.resource],
        },
        "scopes": scopes,
    });
    let mut notes = vec![
        "Create the authorization server from `authorizationServer` (or set an existing one's \
         audience to the resource URI), then POST each entry of `scopes` to its scopes \
         endpoint, and grant them in an access policy rule."
            .to_owned(),
        "Okta writes the scopes in an `scp` array, which scopegate reads. If the access tokens' \
         header `typ` is not `at+jwt`, configure `JwtConfig::token_type(None)`."
            .to_owned(),
    ];
    if let Some(apis) = table.downstream_list() {
        notes.push(format!(
            "Token exchange for {apis}: Okta's On-Behalf-Of Token Exchange (custom authorization \
             servers of one org). Give the MCP server a service app with the Token Exchange grant, \
             give each API a custom authorization server whose audience is the API's URI, and \
             allow the Token Exchange grant for that app in an access policy rule there; the \
             exchange names the API in `audience`."
        ));
    }
    notes.extend(table.hierarchy("Okta"));
    (document, notes)
}
