//! The metadata checks: the server's Protected Resource Metadata (RFC 9728), then its
//! authorization server's (RFC 8414 path-aware, then OpenID Connect Discovery) and what MCP
//! clients need of it.

use serde_json::Value;

use super::report::Report;
use crate::fetch::{self, FetchError, Fetcher};
use crate::metadata::{PRM_WELL_KNOWN, metadata_url};
use crate::uri::origin_and_path;

/// What the server's metadata says.
pub(crate) struct Resource {
    /// `resource`, as the document gives it.
    pub(crate) resource: String,
    /// The first of `authorization_servers`.
    pub(crate) issuer: Option<String>,
    /// `scopes_supported`.
    pub(crate) scopes_supported: Vec<String>,
    /// The whole document.
    pub(crate) document: Value,
}

/// Reads the Protected Resource Metadata at both RFC 9728 locations (path-inserted, then the
/// root) and checks `resource` and `authorization_servers`.
pub(crate) async fn resource_metadata(
    report: &mut Report,
    fetcher: &Fetcher,
    canonical: &str,
) -> Option<Resource> {
    let inserted = metadata_url(canonical);
    let (origin, _) = origin_and_path(canonical);
    let root = format!("{origin}{PRM_WELL_KNOWN}");
    let mut document = None;
    let at_inserted = fetcher.get_json(&inserted).await;
    match &at_inserted {
        Ok(found) => {
            report.pass("resource metadata", format!("found at {inserted}"));
            document = Some(found.body.clone());
        }
        Err(error) if inserted == root => report.fail(
            "resource metadata",
            format!("not readable at {inserted}: {error}"),
            "serve the Protected Resource Metadata (RFC 9728) there; MCP clients find the authorization server through it",
        ),
        Err(_) => {}
    }
    if inserted != root {
        match fetcher.get_json(&root).await {
            Ok(found) => {
                let same = document.as_ref().is_none_or(|d| d == &found.body);
                if document.is_none() {
                    report.warn(
                        "resource metadata",
                        format!("found at the root {root} only"),
                        format!("serve it at {inserted} too: clients try the path-inserted location (RFC 9728 §3.1) first"),
                    );
                    document = Some(found.body);
                } else if same {
                    report.pass("resource metadata (root)", format!("found at {root} too"));
                } else {
                    report.warn(
                        "resource metadata (root)",
                        format!("{root} serves another document than {inserted}"),
                        "serve this endpoint's document at both locations, or none at the root",
                    );
                }
            }
            Err(error) => match &at_inserted {
                Ok(_) => report.pass(
                    "resource metadata (root)",
                    format!("not at {root} ({error}); the path-inserted location is enough"),
                ),
                Err(first) => report.fail(
                    "resource metadata",
                    format!("not readable at {inserted} ({first}) nor at {root} ({error})"),
                    "serve the Protected Resource Metadata (RFC 9728) at the path-inserted location; MCP clients find the authorization server through it",
                ),
            },
        }
    }
    let document = document?;

    let resource = document
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if resource == canonical {
        report.pass(
            "resource",
            format!("`{resource}` is the endpoint's canonical URI"),
        );
    } else if resource.trim_end_matches('/') == canonical {
        report.fail(
            "resource",
            format!("`{resource}` ends in `/`; the endpoint's canonical URI is `{canonical}`"),
            format!("set `resource` to `{canonical}` exactly (no trailing slash): clients compare it with the URL they connect to (RFC 9728 §3.3) and ask for tokens with it (RFC 8707)"),
        );
    } else {
        report.fail(
            "resource",
            format!("`{resource}`, not the endpoint's canonical URI `{canonical}`"),
            format!("set `resource` to `{canonical}` (RFC 9728 §3.3: clients refuse metadata for another resource)"),
        );
    }

    let servers: Vec<String> = document
        .get("authorization_servers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match servers.as_slice() {
        [] => report.fail(
            "authorization servers",
            "the metadata lists no `authorization_servers`",
            "list the issuer of your authorization server in `authorization_servers`",
        ),
        [one] => report.pass("authorization servers", format!("`{one}`")),
        [first, ..] => report.pass(
            "authorization servers",
            format!("{} listed; checking the first, `{first}`", servers.len()),
        ),
    }
    let scopes_supported = document
        .get("scopes_supported")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(Resource {
        resource,
        issuer: servers.into_iter().next(),
        scopes_supported,
        document,
    })
}

/// Finds the issuer's metadata (RFC 8414 path-aware, then OpenID Connect Discovery, as the
/// runtime's own discovery does) and checks that its `issuer` is the issuer, exactly.
pub(super) async fn issuer_metadata(
    report: &mut Report,
    fetcher: &Fetcher,
    issuer: &str,
) -> Option<Value> {
    match fetch::discover(fetcher, issuer).await {
        Ok(metadata) => {
            report.pass(
                "issuer metadata",
                format!("found for `{issuer}` (RFC 8414 / OpenID Connect Discovery)"),
            );
            report.pass("issuer match", format!("`issuer` is `{issuer}`, exactly"));
            Some(metadata)
        }
        Err(FetchError::IssuerMismatch {
            url,
            expected,
            found,
        }) => {
            report.pass("issuer metadata", format!("found at {url}"));
            if found.trim_end_matches('/') == expected.trim_end_matches('/') {
                let (with, without) = if found.ends_with('/') {
                    (
                        "the authorization server's metadata",
                        "the resource metadata",
                    )
                } else {
                    (
                        "the resource metadata",
                        "the authorization server's metadata",
                    )
                };
                report.fail(
                    "issuer match",
                    format!("the metadata says `{found}`, the resource metadata `{expected}`: they differ by a trailing `/`"),
                    format!("the issuer is compared exactly (RFC 8414 §3.3, RFC 9068 §4): {with} has a trailing `/` that {without} lacks; write it the same way in both (and in the verifier's issuer)"),
                );
            } else {
                report.fail(
                    "issuer match",
                    format!("the metadata at {url} says `{found}`, not `{expected}`"),
                    "list in `authorization_servers` the `issuer` the authorization server's metadata gives, exactly",
                );
            }
            // The rest can still be checked on the document found.
            fetcher.get_json(&url).await.ok().map(|d| d.body)
        }
        Err(error) => {
            let tried = fetch::discovery_urls(issuer).join(", ");
            report.fail(
                "issuer metadata",
                format!("none for `{issuer}`: {error}"),
                format!("serve RFC 8414 or OpenID Connect metadata at one of {tried}, or correct `authorization_servers`"),
            );
            report.skip("issuer match", "no issuer metadata");
            None
        }
    }
}

/// What MCP clients need of the authorization server's metadata: PKCE's `S256`, a way to
/// register, and a token endpoint a public client can use.
pub(super) fn issuer_features(report: &mut Report, issuer: &str, metadata: &Value) {
    match fetch::pkce_warning(issuer, metadata) {
        None => report.pass("S256", "`code_challenge_methods_supported` lists S256"),
        Some(_) => report.fail(
            "S256",
            format!(
                "`code_challenge_methods_supported` is {}",
                metadata
                    .get("code_challenge_methods_supported")
                    .map_or_else(|| "missing".to_owned(), Value::to_string)
            ),
            "enable PKCE with S256 and list it in `code_challenge_methods_supported`: MCP clients must refuse an authorization server that does not (Entra ID supports it without listing it)",
        ),
    }

    let dcr = metadata
        .get("registration_endpoint")
        .and_then(Value::as_str);
    let cimd = metadata
        .get("client_id_metadata_document_supported")
        .and_then(Value::as_bool)
        == Some(true);
    match (dcr, cimd) {
        (Some(endpoint), true) => report.pass(
            "registration",
            format!("dynamic registration at {endpoint} and client ID metadata documents"),
        ),
        (Some(endpoint), false) => {
            report.pass("registration", format!("dynamic registration at {endpoint}"))
        }
        (None, true) => report.pass("registration", "client ID metadata documents"),
        (None, false) => report.warn(
            "registration",
            "neither `registration_endpoint` (RFC 7591) nor `client_id_metadata_document_supported`",
            "enable dynamic client registration or client ID metadata documents, or pre-register every MCP client and give it its client ID",
        ),
    }

    let methods: Option<Vec<&str>> = metadata
        .get("token_endpoint_auth_methods_supported")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect());
    match methods {
        Some(methods) if methods.contains(&"none") => report.pass(
            "token endpoint auth methods",
            format!("{} (public clients: `none`)", methods.join(", ")),
        ),
        Some(methods) => report.warn(
            "token endpoint auth methods",
            format!("{} (no `none`)", methods.join(", ")),
            "allow `none` for public clients (MCP clients on a desktop hold no secret), or give each client a secret",
        ),
        None => report.warn(
            "token endpoint auth methods",
            "`token_endpoint_auth_methods_supported` is missing: the default is `client_secret_basic` only (RFC 8414 §2)",
            "list `none` among `token_endpoint_auth_methods_supported` so public clients can use the token endpoint",
        ),
    }
}
