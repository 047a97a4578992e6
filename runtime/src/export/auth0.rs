//! Auth0: the body of the Management API's `POST /api/v2/resource-servers` (an *API*).
//!
//! Fields as the Management API documents them: `identifier` (the `audience`, which cannot be
//! changed once set), `name` (no `<` or `>`), `scopes` (`value` of 1 to 280 characters,
//! `description` of at most 500), `signing_alg`, `token_dialect`.

use serde_json::{Value, json};

use super::table::{Table, shortened};

/// The longest scope description the Management API accepts.
const DESCRIPTION_CHARS: usize = 500;

pub(super) fn document(table: &Table) -> (Value, Vec<String>) {
    let scopes: Vec<Value> = table
        .scopes
        .iter()
        .map(|entry| {
            json!({
                "value": entry.scope,
                "description": shortened(entry.description(), DESCRIPTION_CHARS),
            })
        })
        .collect();
    let name: String = table
        .server
        .chars()
        .filter(|c| !matches!(c, '<' | '>'))
        .collect();
    let document = json!({
        "name": name,
        "identifier": table.resource,
        "scopes": scopes,
        // scopegate accepts asymmetric signatures only.
        "signing_alg": "RS256",
        // The JWT Access Token Profile (RFC 9068): `typ: at+jwt` and the `scope` claim, as
        // scopegate checks by default.
        "token_dialect": "rfc9068_profile",
    });
    let mut notes = vec![
        "POST this to the Management API's /api/v2/resource-servers (or create the API by \
         hand with the same identifier and permissions)."
            .to_owned(),
        "The issuer is `https://<tenant>/` with its trailing slash, as in `iss`.".to_owned(),
        "MCP clients send RFC 8707 `resource`, not Auth0's `audience`: turn on the tenant's \
         resource-parameter compatibility profile so `resource` selects this API."
            .to_owned(),
    ];
    if let Some(apis) = table.downstream_list() {
        notes.push(format!(
            "Token exchange for {apis}: Auth0's On-Behalf-Of Token Exchange takes a token for \
             this API and issues one for another API of the tenant, to a Custom API client of this \
             API (`app_type: resource_server`, `resource_server_identifier` this identifier) with \
             on-behalf-of token exchange enabled; create each downstream API with its URI as \
             identifier (Auth0 reads the exchange's `audience`)."
        ));
    }
    notes.extend(table.hierarchy("Auth0"));
    (document, notes)
}
