//! The authorization endpoint, its consent page and the decision that answers it.
//!
//! Its pages may not be framed (clickjacking: RFC 9700 §4.16) nor cached, and carry no CORS
//! headers: only a top-level navigation on the developer's own browser can use them. Fetch
//! Metadata (W3C "Fetch Metadata Request Headers") enforces that where the browser sends it:
//! `/authorize` and the decision refuse a browser's request (one with `Sec-Fetch-Site`) whose
//! `Sec-Fetch-Mode` is not `navigate` (an `<img>`, a `no-cors` fetch or an iframe's subresource
//! from another page), and the decision refuses a `Sec-Fetch-Site` other than `same-origin` (a
//! form on another site posting a forged approval). Clients that are not browsers (curl, native
//! apps, Node's `fetch`, which sends `Sec-Fetch-Mode` alone) are unaffected.
//!
//! What a pending consent request keeps is bounded, so no page can fill memory through it:
//! `state` is at most [`MAX_STATE_LEN`] bytes (longer is `invalid_request`), the redirect URI
//! and client name were bounded at registration, the scopes are the server's own, and one
//! client holds at most [`MAX_PENDING_PER_CLIENT`] pending requests. The redirect that carries
//! the code is `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (RFC 9700 §4.2.4:
//! the code must not leak through caches or the `Referer` of the client's next request).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::cimd::{self, DocumentError};
use super::grant::{AuthRequest, Grant};
use super::limits::{CODE_TTL, MAX_ENTRIES};
use super::random::random_token;
use super::state::{ClientError, DevState};

/// Longest `state`, in bytes: clients send a few dozen random bytes; each pending request keeps
/// it.
pub(super) const MAX_STATE_LEN: usize = 1024;
/// Longest `scope` parameter, in bytes (only the server's own scopes are kept, but a request
/// has no business being longer).
const MAX_SCOPE_LEN: usize = 4096;
/// Most consent requests one client may hold pending, so that one client cannot fill the
/// table ([`MAX_ENTRIES`]) for every other.
pub(super) const MAX_PENDING_PER_CLIENT: usize = 20;

#[derive(Deserialize)]
pub(super) struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
}

/// An error page for requests whose redirect URI cannot be trusted (RFC 6749 §4.1.2.1: never
/// redirect to an unverified URI).
fn error_page(message: &str) -> Response {
    error_page_with(StatusCode::BAD_REQUEST, message)
}

fn error_page_with(status: StatusCode, message: &str) -> Response {
    page(
        status,
        format!(
            "<!doctype html><title>Authorization error</title><h1>Authorization error</h1><p>{}</p>",
            escape(message)
        ),
    )
}

/// An HTML page that no other site may frame, and no cache may keep.
fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Logs a refused authorization request (DEBUG: per request, so a flood cannot fill a log).
fn refused(reason: &'static str) {
    tracing::debug!(
        target: "scopegate::dev_auth",
        event = "authorize_refused",
        reason,
        "authorization request refused"
    );
}

/// Fetch Metadata: a browser marks a top-level navigation `Sec-Fetch-Mode: navigate`; any
/// other mode (`no-cors` for `<img>` and `<script>`, `cors`, `same-origin`) is a page fetching
/// the endpoint behind the user's back. On the decision, a browser marks a form posted from
/// the consent page itself `Sec-Fetch-Site: same-origin`. A browser sends `Sec-Fetch-Site`
/// with every request; a request without it is not a browser's (or an old one's) and is not
/// refused: the check is a defence in depth. Node's `fetch` sends `Sec-Fetch-Mode: cors` alone,
/// so the mode counts only beside the site (a headless client following redirects with it is
/// no web page).
fn fetch_metadata_refused(headers: &HeaderMap, decision: bool) -> Option<Response> {
    let value = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_ascii_lowercase())
    };
    let site = value("sec-fetch-site");
    if site.is_some() && value("sec-fetch-mode").is_some_and(|mode| mode != "navigate") {
        refused("sec_fetch_mode");
        return Some(error_page_with(
            StatusCode::FORBIDDEN,
            "the authorization endpoint answers top-level navigations only",
        ));
    }
    if decision && site.is_some_and(|site| site != "same-origin") {
        refused("sec_fetch_site");
        return Some(error_page_with(
            StatusCode::FORBIDDEN,
            "the decision must come from the consent page itself",
        ));
    }
    None
}

/// A 303 to the client's redirect URI. It may carry a code: no cache keeps it, and the client's
/// page, loaded from it, sends no `Referer` with the code in it (RFC 9700 §4.2.4).
fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return error_page("invalid redirect URI"),
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub(super) async fn authorize(
    State(s): State<Arc<DevState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    if let Some(refusal) = fetch_metadata_refused(&headers, false) {
        return refusal;
    }
    let Some(client_id) = params.client_id.clone() else {
        return error_page("client_id is required");
    };
    let client = match s.client(&client_id, params.redirect_uri.as_deref()).await {
        Ok(client) => client,
        Err(ClientError::Unknown) => {
            return error_page("unknown client_id: register the client first");
        }
        // Never redirected: the redirect URI is not known to be the client's (RFC 6749
        // §4.1.2.1); the page names the OAuth error and why.
        Err(ClientError::Document(e)) => {
            refused("client_metadata_document");
            let status = match e {
                DocumentError::Busy => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            return error_page_with(status, &format!("{}: {e}", e.code()));
        }
    };
    let redirect_uri = match &params.redirect_uri {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(_) => return error_page("redirect_uri is not registered for this client"),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page("redirect_uri is required"),
    };
    // Too long a state is not echoed back: it is what the request must not make us keep.
    let oversized = params
        .state
        .as_ref()
        .is_some_and(|st| st.len() > MAX_STATE_LEN);
    let state = params.state.clone().filter(|_| !oversized);
    let fail = |error: &str, description: &str| {
        let mut query = vec![
            ("error", error),
            ("error_description", description),
            ("iss", s.issuer.as_str()),
        ];
        if let Some(state) = &state {
            query.push(("state", state));
        }
        redirect_with(&redirect_uri, &query)
    };
    if oversized {
        refused("state_too_long");
        return fail(
            "invalid_request",
            &format!("state may be at most {MAX_STATE_LEN} bytes"),
        );
    }
    if params
        .scope
        .as_ref()
        .is_some_and(|sc| sc.len() > MAX_SCOPE_LEN)
    {
        refused("scope_too_long");
        return fail(
            "invalid_request",
            &format!("scope may be at most {MAX_SCOPE_LEN} bytes"),
        );
    }
    if params.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    // OAuth 2.1: PKCE is required, and only S256 is accepted.
    let challenge = match (
        &params.code_challenge,
        params.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if c.len() == 43 => c.clone(),
        (Some(_), Some("S256")) => {
            return fail(
                "invalid_request",
                "code_challenge must be a base64url SHA-256",
            );
        }
        (None, _) => {
            return fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
        _ => return fail("invalid_request", "code_challenge_method must be S256"),
    };
    let scopes = match s.scopes_for(params.scope.as_deref()) {
        Ok(scopes) => scopes,
        Err(e) => return fail("invalid_scope", &e),
    };
    let resource = match s.resource_for(params.resource.as_deref()) {
        Ok(resource) => resource,
        Err(e) => return fail("invalid_target", &e),
    };
    let request = AuthRequest {
        client_id,
        client_name: client.name.clone(),
        redirect_uri,
        state,
        challenge,
        scopes,
        resource,
    };
    if s.config.auto_approve {
        return approve(&s, request);
    }
    let id = random_token(24);
    {
        let mut store = s.lock();
        let now = Instant::now();
        let ttl = s.config.consent_ttl;
        store
            .pending
            .retain(|_, (_, t)| now.duration_since(*t) < ttl);
        let of_client = store
            .pending
            .values()
            .filter(|(r, _)| r.client_id == request.client_id)
            .count();
        if of_client >= MAX_PENDING_PER_CLIENT {
            refused("pending_per_client");
            return error_page_with(
                StatusCode::TOO_MANY_REQUESTS,
                "this client has too many authorization requests waiting for a decision: answer or close them, or wait for them to expire",
            );
        }
        if store.pending.len() >= MAX_ENTRIES {
            refused("pending_full");
            return error_page_with(
                StatusCode::TOO_MANY_REQUESTS,
                "too many pending authorization requests",
            );
        }
        store.pending.insert(id.clone(), (request.clone(), now));
    }
    page(StatusCode::OK, consent_page(&s, &request, &id))
}

fn consent_page(s: &DevState, request: &AuthRequest, id: &str) -> String {
    let mut rows = String::new();
    for scope in &request.scopes {
        let tools = s
            .unlocks
            .iter()
            .find(|(name, _)| name == scope)
            .map(|(_, tools)| tools.join(", "))
            .unwrap_or_default();
        let tools = if tools.is_empty() {
            "(no tool on its own)".to_owned()
        } else {
            tools
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            escape(scope),
            escape(&tools)
        ));
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Authorize access</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4rem .8rem;text-align:left}}.warn{{background:#fff3cd;padding:.6rem}}</style></head>
<body><p class="warn"><strong>Development authorization server.</strong> Never use it with real users.</p>
<h1>Authorize access</h1>
<p>The client <strong>{name}</strong> (client id <code>{client_id}</code>) wants to call <code>{resource}</code> as <strong>{subject}</strong> with these scopes:</p>
{document}<table><tr><th>scope</th><th>tools it unlocks</th></tr>{rows}</table>
<p>If you approve, the authorization code goes to <code class="redirect">{redirect}</code>.</p>
<form method="post" action="{action}"><input type="hidden" name="request" value="{id}">
<p><button name="decision" value="approve">Approve</button> <button name="decision" value="deny">Deny</button></p></form>
</body></html>"#,
        document = document_notice(&request.client_id),
        resource = escape(&request.resource),
        name = escape(request.client_name.as_deref().unwrap_or("(unnamed)")),
        client_id = escape(&request.client_id),
        redirect = escape(&request.redirect_uri),
        subject = escape(&s.config.subject),
        // Path-absolute: the form posts to the origin the page was loaded from, so the browser
        // marks it `Sec-Fetch-Site: same-origin` whichever loopback name the user typed.
        action = escape(&format!("{}/authorize/decision", s.path)),
        id = escape(id),
    )
}

/// For a client identified by its metadata document: where the document is, and its host
/// (the draft asks the consent page to show the host, §7.5: the name is the client's own claim).
fn document_notice(client_id: &str) -> String {
    if !cimd::is_url(client_id) {
        return String::new();
    }
    let host = url::Url::parse(client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        r#"<p class="document">The name comes from the client's metadata document at <a href="{url}"><code>{url}</code></a>, on the host <strong>{host}</strong>: approve only if you expect this client there.</p>
"#,
        url = escape(client_id),
        host = escape(&host),
    )
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    request: String,
    decision: String,
}

pub(super) async fn decision(
    State(s): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Some(refusal) = fetch_metadata_refused(&headers, true) {
        return refusal;
    }
    let Some((request, shown)) = s.lock().pending.remove(&form.request) else {
        return error_page("this authorization request has expired or was already answered");
    };
    // The page may have sat open past its time; its request is gone either way.
    if shown.elapsed() >= s.config.consent_ttl {
        return error_page("this authorization request has expired: start again from the client");
    }
    if form.decision == "approve" {
        approve(&s, request)
    } else {
        let mut query = vec![
            ("error", "access_denied"),
            ("error_description", "the user denied the request"),
            ("iss", s.issuer.as_str()),
        ];
        if let Some(state) = &request.state {
            query.push(("state", state));
        }
        redirect_with(&request.redirect_uri, &query)
    }
}

fn approve(s: &DevState, request: AuthRequest) -> Response {
    let code = random_token(32);
    {
        let mut store = s.lock();
        let now = Instant::now();
        store
            .codes
            .retain(|_, (_, t)| now.duration_since(*t) < CODE_TTL);
        if store.codes.len() >= MAX_ENTRIES {
            return error_page("too many outstanding authorization codes");
        }
        // It completed an authorization: kept a day unused, not ten minutes.
        store.clients.authorized(&request.client_id, now);
        store.codes.insert(
            code.clone(),
            (
                Grant {
                    client_id: request.client_id.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    challenge: request.challenge.clone(),
                    scopes: request.scopes.clone(),
                    resource: request.resource.clone(),
                    jkt: None,
                },
                now,
            ),
        );
    }
    // RFC 9207: the `iss` parameter lets the client detect mix-up attacks.
    let mut query = vec![("code", code.as_str()), ("iss", s.issuer.as_str())];
    if let Some(state) = &request.state {
        query.push(("state", state));
    }
    redirect_with(&request.redirect_uri, &query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
