//! RFC 7591 dynamic client registration, bounded: JSON only, a body of at most 64 KiB, a few
//! redirect URIs of reasonable length, a rate limit and a client quota per owner (the peer's
//! address and the request's `Origin`: see `clients.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::{Value, json};

use super::clients::{Client, Full, owner_of};
use super::clock::unix_now;
use super::guard::is_loopback_url;
use super::random::random_token;
use super::responses::{json_ok, oauth_error};
use super::state::DevState;

/// Largest registration request body.
const MAX_BODY: usize = 64 * 1024;
/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI, in bytes.
const MAX_REDIRECT_URI_LEN: usize = 2048;
/// Longest `client_name`, in bytes (it is shown on the consent page).
const MAX_CLIENT_NAME_LEN: usize = 200;

/// RFC 7591 dynamic client registration.
pub(super) async fn register(State(s): State<Arc<DevState>>, request: Request) -> Response {
    let invalid =
        |what: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", what);
    let refused = |reason: &str| {
        tracing::debug!(
            target: "scopegate::dev_auth",
            event = "registration_refused",
            reason,
            "client registration refused"
        );
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(HeaderValue::as_bytes);
    let owner = owner_of(peer, origin);
    // Counted before anything else, so a flood of malformed requests is limited too.
    let admitted = s.lock().clients.admit(
        owner.clone(),
        s.config.registrations_per_minute,
        Instant::now(),
    );
    if let Err(wait) = admitted {
        refused("rate_limited");
        let mut response = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many registrations from this address and origin: try again later",
        );
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    // RFC 7591 §3.1: the metadata is a JSON document.
    if !is_json(request.headers()) {
        refused("content_type");
        return oauth_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_client_metadata",
            "the registration request must be application/json",
        );
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            refused("too_large");
            return oauth_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_client_metadata",
                "the registration request is larger than 64 KiB",
            );
        }
    };
    let Ok(Value::Object(metadata)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("the body must be a JSON object");
    };
    let redirect_uris: Vec<String> = match metadata.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => {
            let uris: Option<Vec<String>> =
                uris.iter().map(|u| u.as_str().map(str::to_owned)).collect();
            match uris {
                Some(uris) => uris,
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_redirect_uri",
                        "redirect_uris must be strings",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "redirect_uris is required",
            );
        }
    };
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        refused("redirect_uris");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("at most {MAX_REDIRECT_URIS} redirect_uris"),
        );
    }
    if redirect_uris.iter().any(|u| u.len() > MAX_REDIRECT_URI_LEN) {
        refused("redirect_uris");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("a redirect URI may be at most {MAX_REDIRECT_URI_LEN} bytes long"),
        );
    }
    let name = match metadata.get("client_name") {
        None => None,
        Some(Value::String(name)) if name.len() <= MAX_CLIENT_NAME_LEN => Some(name.clone()),
        Some(_) => {
            return invalid(&format!(
                "client_name must be a string of at most {MAX_CLIENT_NAME_LEN} bytes"
            ));
        }
    };
    for uri in &redirect_uris {
        // Loopback http (native and CLI clients) or https; never a fragment (OAuth 2.1 §2.3).
        let ok = url::Url::parse(uri).is_ok_and(|u| {
            u.fragment().is_none()
                && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback_url(uri)))
        });
        if !ok {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                &format!("`{uri}` must be https or http on a loopback host, without a fragment"),
            );
        }
    }
    let method = metadata
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("client_secret_basic")
        .to_owned();
    if !matches!(
        method.as_str(),
        "none" | "client_secret_basic" | "client_secret_post"
    ) {
        return invalid(
            "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
        );
    }
    for (key, allowed) in [
        ("grant_types", &["authorization_code", "refresh_token"][..]),
        ("response_types", &["code"][..]),
    ] {
        if let Some(values) = metadata.get(key) {
            let ok = values.as_array().is_some_and(|v| {
                v.iter()
                    .all(|g| g.as_str().is_some_and(|g| allowed.contains(&g)))
            });
            if !ok {
                return invalid(&format!("{key} may only contain {}", allowed.join(", ")));
            }
        }
    }
    // RFC 7591 §2: `grant_types` defaults to the authorization code grant alone.
    let grant_types: Vec<String> = metadata
        .get("grant_types")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    // RFC 9449 §5.2: a boolean, false when absent.
    let dpop_bound = match metadata.get("dpop_bound_access_tokens") {
        None => false,
        Some(Value::Bool(bound)) => *bound,
        Some(_) => return invalid("dpop_bound_access_tokens must be a boolean"),
    };
    let client_id = random_token(16);
    let secret = (method != "none").then(|| random_token(32));
    let now = Instant::now();
    let client = Client {
        secret: secret.clone(),
        redirect_uris,
        refresh: grant_types.iter().any(|g| g == "refresh_token"),
        name,
        owner,
        last_used: now,
        authorized: false,
        dpop_bound,
    };
    let stored = s.lock().clients.insert(
        client_id.clone(),
        client,
        s.config.max_clients_per_address,
        now,
    );
    if let Err(full) = stored {
        refused("quota");
        let why = match full {
            Full::Owner => "this address and origin have registered too many clients",
            Full::Store => "too many registered clients",
        };
        return oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            why,
        );
    }
    let mut out = metadata.clone();
    out.insert("client_id".into(), client_id.into());
    out.insert("client_id_issued_at".into(), unix_now().into());
    out.insert("token_endpoint_auth_method".into(), method.into());
    out.insert("grant_types".into(), json!(grant_types));
    out.insert("response_types".into(), json!(["code"]));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), secret.into());
        out.insert("client_secret_expires_at".into(), 0.into());
    }
    json_ok(StatusCode::CREATED, &Value::Object(out))
}

/// One `Content-Type`, `application/json` in any case, with or without parameters
/// (`; charset=utf-8`). Two of them say nothing certain.
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_is_registration_metadata() {
        let with = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::CONTENT_TYPE, HeaderValue::from_static(v));
            }
            headers
        };
        for ok in ["application/json", "Application/JSON; charset=utf-8"] {
            assert!(is_json(&with(&[ok])), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(&with(&[bad])), "{bad}");
        }
        assert!(!is_json(&with(&[])));
        assert!(!is_json(&with(&["application/json", "text/plain"])));
    }
}
