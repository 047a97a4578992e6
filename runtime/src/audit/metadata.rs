//! The Protected Resource Metadata as any client meets it: at both RFC 9728 locations (the
//! doctor's own check), its fields, and whether a browser page may read it.

use serde_json::Value;

use super::probe::FOREIGN_ORIGIN;
use crate::doctor::{Report, Resource, resource_metadata};
use crate::fetch::Fetcher;
use crate::metadata::metadata_url;

/// The checks' names.
pub(super) const FIELDS: &str = "resource metadata fields";
pub(super) const CORS: &str = "resource metadata CORS";

/// Reads the metadata (lines `resource metadata`, `resource metadata (root)`, `resource`,
/// `authorization servers`) and checks its other fields.
pub(super) async fn read(
    report: &mut Report,
    fetcher: &Fetcher,
    canonical: &str,
) -> Option<Resource> {
    let resource = resource_metadata(report, fetcher, canonical).await?;
    let document = &resource.document;
    let strings = |name: &str| -> Option<Vec<&str>> {
        document
            .get(name)
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
    };
    let bearer_methods = strings("bearer_methods_supported");
    let scopes = strings("scopes_supported");
    if bearer_methods
        .as_ref()
        .is_some_and(|methods| methods.contains(&"query"))
    {
        report.fail(
            FIELDS,
            "`bearer_methods_supported` lists `query`",
            "accept tokens in the Authorization header only and list `[\"header\"]` (MCP authorization, OAuth 2.1 §5.2)",
        );
    } else if scopes
        .as_ref()
        .is_some_and(|s| s.contains(&"offline_access"))
    {
        report.warn(
            FIELDS,
            "`scopes_supported` lists `offline_access`",
            "leave `offline_access` out of `scopes_supported`: it is not a scope of the resource (MCP 2026-07-28)",
        );
    } else if scopes.is_none() {
        report.warn(
            FIELDS,
            "no `scopes_supported`",
            "list the scopes the server's tools need: clients without a `scope` in the challenge ask for those (RFC 9728 §2, MCP scope selection)",
        );
    } else {
        let methods = bearer_methods.map_or_else(
            || "bearer_methods_supported absent (RFC 9728: header)".to_owned(),
            |m| format!("bearer_methods_supported {}", m.join(" ")),
        );
        report.pass(
            FIELDS,
            format!(
                "scopes_supported `{}`; {methods}",
                scopes.unwrap_or_default().join(" ")
            ),
        );
    }
    Some(resource)
}

/// Whether a page of another origin may read the metadata: browser-based MCP clients discover
/// the authorization server through it (RFC 9728 is silent on CORS, hence a warning).
pub(super) async fn cors(report: &mut Report, client: &reqwest::Client, canonical: &str) {
    let url = metadata_url(canonical);
    let answer = client
        .get(&url)
        .header(reqwest::header::ORIGIN, FOREIGN_ORIGIN)
        .send()
        .await;
    match answer {
        Ok(response) => {
            let allowed = response
                .headers()
                .get(reqwest::header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match allowed.as_deref() {
                Some("*") => report.pass(CORS, "`Access-Control-Allow-Origin: *`"),
                Some(origin) if origin == FOREIGN_ORIGIN => {
                    report.pass(CORS, "the requesting origin is allowed")
                }
                Some(other) => report.warn(
                    CORS,
                    format!("`Access-Control-Allow-Origin: {other}` for a page at {FOREIGN_ORIGIN}"),
                    "answer the metadata with `Access-Control-Allow-Origin: *`: it is public, and browser-based clients read it from their own origin",
                ),
                None => report.warn(
                    CORS,
                    format!("{url} answers HTTP {} without `Access-Control-Allow-Origin`", response.status().as_u16()),
                    "answer the metadata with `Access-Control-Allow-Origin: *`: it is public, and browser-based clients read it from their own origin",
                ),
            }
        }
        Err(error) => report.skip(CORS, format!("{url}: {}", error.without_url())),
    }
}
