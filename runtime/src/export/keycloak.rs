//! Keycloak: a fragment of a realm representation (the JSON of a realm import or of
//! `POST /admin/realms`): one OpenID Connect client scope per scope, each with an audience
//! mapper, and the realm's default optional client scopes.
//!
//! Field names are those of Keycloak's `RealmRepresentation` (`clientScopes`,
//! `defaultOptionalClientScopes`), `ClientScopeRepresentation` (`name`, `description`,
//! `protocol`, `attributes`, `protocolMappers`) and `ProtocolMapperRepresentation`
//! (`protocolMapper`, `config`; not `consentRequired` or `consentText`, which Keycloak keeps
//! deprecated for backwards compatibility only); the audience mapper is `oidc-audience-mapper`,
//! whose `included.custom.audience` puts a string in `aud`.

use serde_json::{Value, json};

use super::table::Table;

/// The mapper's name in each client scope.
const AUDIENCE_MAPPER: &str = "scopegate audience";

pub(super) fn document(table: &Table) -> (Value, Vec<String>) {
    let scopes: Vec<Value> = table
        .scopes
        .iter()
        .map(|entry| {
            json!({
                "name": entry.scope,
                "description": entry.description(),
                "protocol": "openid-connect",
                "attributes": {
                    // The scope's name goes into the access token's `scope` claim, which
                    // scopegate reads.
                    "include.in.token.scope": "true",
                    "display.on.consent.screen": "true",
                    "consent.screen.text": entry.title(table.server),
                },
                "protocolMappers": [{
                    "name": AUDIENCE_MAPPER,
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {
                        "included.custom.audience": table.resource,
                        "access.token.claim": "true",
                        "id.token.claim": "false",
                    },
                }],
            })
        })
        .collect();
    let names: Vec<&str> = table.scopes.iter().map(|s| s.scope).collect();
    let document = json!({
        "clientScopes": scopes,
        "defaultOptionalClientScopes": names,
    });
    let mut notes = vec![
        "Merge `clientScopes` and `defaultOptionalClientScopes` into the realm's JSON (a realm \
         import, or the realm's representation): `defaultOptionalClientScopes` replaces the \
         realm's list, so keep the scopes it had (offline_access, ...) beside these."
            .to_owned(),
        format!(
            "Each client scope carries an audience mapper, so every token granted one of these \
             scopes names {} in `aud`.",
            table.resource
        ),
        "Keycloak's access tokens carry `typ: JWT`: configure `JwtConfig::token_type(None)`."
            .to_owned(),
    ];
    if let Some(apis) = table.downstream_list() {
        notes.push(format!(
            "Token exchange for {apis}: Keycloak's standard token exchange (26.2 and later) \
             exchanges within the realm. Give the MCP server a confidential client with \
             \"Standard token exchange\" enabled, make sure its client id is in the `aud` of the \
             tokens clients get for {} (the audience mapper above, or one more), and give each \
             API a client whose client id is the API's URI: Keycloak reads the exchange's \
             `audience` as a client id (configure `TokenExchange::target(ExchangeTarget::Audience)`).",
            table.resource
        ));
    }
    notes.extend(table.hierarchy("Keycloak"));
    (document, notes)
}
