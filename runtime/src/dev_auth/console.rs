//! The development console, `GET {path}/console`: one page that shows every scope with the
//! tools, resources and prompts it unlocks, mints a token for chosen scopes, decodes it, gives
//! a curl line, and calls a tool with it.
//!
//! The page mints through the server's own OAuth endpoints, as any browser-based client would:
//! its script registers a public client (RFC 7591, `token_endpoint_auth_method: none`, the
//! console's own URL as redirect URI), navigates to `/authorize` with PKCE S256, and the
//! developer approves on the same consent page every client gets; back on the console, the
//! script redeems the code at `/token`. No endpoint is added and none is relaxed: the consent
//! page keeps its Fetch Metadata checks, anti-framing and `no-store`, and a page on another
//! origin can no more mint through the console than through `/authorize` (the console carries
//! no CORS headers, and only a navigation the developer approves yields a code, which goes to
//! the console's loopback URL).
//!
//! The page is server-rendered HTML with one inline script and one inline style, both allowed
//! by a per-response nonce in a strict Content Security Policy (`default-src 'none'`, no
//! external resource, `connect-src` limited to this origin and the resource's), and it may not
//! be framed nor cached. What the script needs (issuer, resource, scopes, tools) is a JSON data
//! block whose `<` are escaped, so no value can close the element.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::authorize::escape;
use super::random::random_token;
use super::state::{Catalog, DevState};
use crate::server::Core;

/// The console's catalog of `server`'s scopes and tools, for tokens from `issuer` (at `path`)
/// for `resource`; `mintable` are the scopes the authorization server grants.
pub(super) fn catalog(
    server: &Core,
    issuer: &str,
    path: &str,
    resource: &str,
    mintable: &[String],
) -> Catalog {
    let unlocks = server.scope_unlocks();
    let list = |items: &[&str], empty: &str| {
        if items.is_empty() {
            format!(r#"<span class="none">{empty}</span>"#)
        } else {
            items
                .iter()
                .map(|i| format!("<code>{}</code>", escape(i)))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let mut table = String::new();
    for row in &unlocks {
        table.push_str(&format!(
                r#"<tr data-scope="{scope}"><th scope="row"><code class="scope">{scope}</code></th><td>{implied}</td><td>{tools}</td><td>{resources}</td><td>{prompts}</td></tr>
"#,
                scope = escape(row.scope),
                implied = list(&row.implied_by, "—"),
                tools = list(&row.tools, "none on its own"),
                resources = list(&row.resources, "—"),
                prompts = list(&row.prompts, "—"),
            ));
    }
    let tools: Vec<Value> = server
        .tool_summaries()
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "scopes": t.scopes,
                "any_scopes": t.any_scopes,
                "public": t.public,
                "read_only": t.read_only,
            })
        })
        .collect();
    let (resource_origin, _) = crate::metadata::origin_and_path(resource);
    let data = json!({
        "issuer": issuer,
        "path": path,
        "resource": resource,
        "resource_origin": resource_origin,
        "scopes": mintable,
        "tools": tools,
    });
    Catalog { table, data }
}

/// `GET {path}/console`.
pub(super) async fn console(State(s): State<Arc<DevState>>) -> Response {
    let nonce = random_token(18);
    let catalog = &s.catalog;
    let instance = json!({ "instance": s.kid });
    let mut data = catalog.data.clone();
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, instance) {
        data.extend(extra);
    }
    // `<` escaped: no value (a tool name, an issuer) can end the data block early.
    let data = data.to_string().replace('<', "\\u003c");
    let scope_boxes: String = catalog.data["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|scope| {
            format!(
                r#"<label class="chip"><input type="checkbox" name="scope" value="{scope}"><span>{scope}</span></label>"#,
                scope = escape(scope)
            )
        })
        .collect();
    let html = format!(
        include_str!("console/page.html"),
        nonce = nonce,
        style = include_str!("console/style.css"),
        script = include_str!("console/script.js"),
        data = data,
        issuer = escape(&s.issuer),
        resource = escape(&s.resource),
        subject = escape(&s.config.subject),
        table = catalog.table,
        scope_boxes = scope_boxes,
    );
    let (resource_origin, _) = crate::metadata::origin_and_path(&s.resource);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self' {resource_origin}; img-src 'self' data:; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = (StatusCode::OK, Html(html)).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page's URL carries the authorization code on the way back from the consent page.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
