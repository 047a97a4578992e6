//! Microsoft Entra ID: the application manifest's `identifierUris` and `api`
//! (`requestedAccessTokenVersion`, `oauth2PermissionScopes`), as Microsoft Graph's
//! `application` resource names them.
//!
//! Two things Entra needs that no other provider does:
//! - each permission scope has a GUID `id`, unique within the application and never reused for
//!   another scope. It is derived from the scope's name (a name-based UUID, version 5, in a
//!   namespace of scopegate's own), so the same scope gets the same id in every export and a
//!   re-import updates the scope instead of adding another;
//! - scope values are written without `:` (`notes:read` is `notes.read` in Entra; see
//!   [`entra_scope_value`]). Entra puts the value in the token's `scp` claim, so the server
//!   accepts the Entra spelling through `JwtConfig::scope_alias`.

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use serde_json::{Value, json};

use super::table::Table;

/// scopegate's UUID namespace for Entra permission ids: the version 5 UUID of the URL
/// `https://docs.rs/scopegate/export/entra` in the URL namespace (RFC 9562 §6.6),
/// 34328046-963f-5ce7-b4d3-454b0e63ff73.
const NAMESPACE: [u8; 16] = [
    0x34, 0x32, 0x80, 0x46, 0x96, 0x3f, 0x5c, 0xe7, 0xb4, 0xd3, 0x45, 0x4b, 0x0e, 0x63, 0xff, 0x73,
];

/// A scope's value in Entra: the scope with every `:` written `.` (`notes:read` →
/// `notes.read`). Declare the server's scopes with `:` as usual; when Entra issues the tokens,
/// map the values back on the server's side with `JwtConfig::scope_alias(entra, scope)` for each
/// scope (the `entra` export's notes list them).
#[must_use]
pub fn entra_scope_value(scope: &str) -> String {
    scope.replace(':', ".")
}

/// The GUID of `scope`'s entry in `api.oauth2PermissionScopes`: the version 5 UUID of the
/// scope's name (as the server declares it, `notes:read`) in scopegate's namespace, so it is the
/// same in every export.
#[must_use]
pub fn entra_scope_id(scope: &str) -> String {
    uuid_v5(&NAMESPACE, scope)
}

/// RFC 9562 §5.5: SHA-1 of the namespace and the name, its first 16 bytes with the version (5)
/// and the variant (`10`) written in.
fn uuid_v5(namespace: &[u8; 16], name: &str) -> String {
    let mut input = namespace.to_vec();
    input.extend_from_slice(name.as_bytes());
    let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(super) fn document(table: &Table) -> (Value, Vec<String>) {
    let scopes: Vec<Value> = table
        .scopes
        .iter()
        .map(|entry| {
            let title = entry.title(table.server);
            let description = entry.description();
            json!({
                "id": entra_scope_id(entry.scope),
                "value": entra_scope_value(entry.scope),
                // A scope broader than others is for administrators to grant.
                "type": if entry.implies.is_empty() { "User" } else { "Admin" },
                "adminConsentDisplayName": title,
                "adminConsentDescription": description,
                "userConsentDisplayName": title,
                "userConsentDescription": description,
                "isEnabled": true,
            })
        })
        .collect();
    let document = json!({
        "identifierUris": [table.resource],
        "api": {
            // v2 tokens: the issuer `https://login.microsoftonline.com/<tenant>/v2.0`.
            "requestedAccessTokenVersion": 2,
            "oauth2PermissionScopes": scopes,
        },
    });
    let mut notes = vec![
        "Merge `identifierUris` and `api` into the app registration's manifest. An https \
         identifier URI must be on a domain verified in the tenant; otherwise use \
         `api://<application-id>`."
            .to_owned(),
        "`aud`: Entra's v2 access tokens name the application (client) id, not the identifier \
         URI. Configure the audience explicitly: \
         `JwtConfig::new(\"https://login.microsoftonline.com/<tenant-id>/v2.0\", \"<application-id>\")`, \
         and `.token_type(None)` (Entra writes `typ: JWT`)."
            .to_owned(),
        format!(
            "`scp`: Entra writes the granted values space-separated, without the identifier URI \
             prefix (`{}`). Scope values have no `:` in Entra, so each is the scope with `:` \
             written `.`; map them back on the server: `JwtConfig::new(..){}`. Clients request \
             them as `<identifier-uri>/<value>`.",
            table
                .scopes
                .iter()
                .map(|s| entra_scope_value(s.scope))
                .collect::<Vec<_>>()
                .join(" "),
            table
                .scopes
                .iter()
                .filter(|s| s.scope.contains(':'))
                .map(|s| format!(
                    ".scope_alias(\"{}\", \"{}\")",
                    entra_scope_value(s.scope),
                    s.scope
                ))
                .collect::<String>()
        ),
    ];
    if let Some(apis) = table.downstream_list() {
        notes.push(format!(
            "Token exchange for {apis}: Entra ID has no RFC 8693 exchange; its On-Behalf-Of \
             flow (`grant_type` jwt-bearer, `requested_token_use=on_behalf_of`) plays that part \
             and is not what scopegate's `TokenExchange` sends: get those APIs' tokens some other \
             way, or through a token service that speaks RFC 8693."
        ));
    }
    notes.extend(clashes(table));
    notes.extend(table.hierarchy("Entra"));
    (document, notes)
}

/// Two scopes whose Entra values are the same (`a:b` and `a.b`) cannot both be exposed.
fn clashes(table: &Table) -> Vec<String> {
    let mut notes = Vec::new();
    for (i, a) in table.scopes.iter().enumerate() {
        for b in &table.scopes[i + 1..] {
            if entra_scope_value(a.scope) == entra_scope_value(b.scope) {
                notes.push(format!(
                    "`{}` and `{}` are both `{}` in Entra: rename one of them in the server.",
                    a.scope,
                    b.scope,
                    entra_scope_value(a.scope)
                ));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DNS namespace of RFC 9562 (6ba7b810-9dad-11d1-80b4-00c04fd430c8).
    const DNS: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    /// The URL namespace (6ba7b811-…).
    const URL: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];

    #[test]
    fn uuid_v5_matches_known_values() {
        // Python's documented example: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org').
        assert_eq!(
            uuid_v5(&DNS, "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
        // The namespace is what its comment says it is.
        assert_eq!(
            uuid_v5(&URL, "https://docs.rs/scopegate/export/entra"),
            "34328046-963f-5ce7-b4d3-454b0e63ff73"
        );
    }

    #[test]
    fn scope_ids_are_stable_and_distinct() {
        assert_eq!(entra_scope_id("notes:read"), entra_scope_id("notes:read"));
        assert_ne!(entra_scope_id("notes:read"), entra_scope_id("notes:write"));
        let id = entra_scope_id("notes:read");
        assert_eq!(&id[14..15], "5", "{id}: version 5");
        assert!(
            matches!(&id[19..20], "8" | "9" | "a" | "b"),
            "{id}: variant"
        );
    }

    #[test]
    fn entra_values_have_no_colon() {
        assert_eq!(entra_scope_value("notes:read"), "notes.read");
        assert_eq!(entra_scope_value("repo:status:read"), "repo.status.read");
        assert_eq!(entra_scope_value("openid"), "openid");
    }
}
