//! RFC 7591 dynamic client registration.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::guard::is_loopback_url;
use super::{Client, DevState, MAX_ENTRIES, json_ok, oauth_error, random_token, unix_now};

/// RFC 7591 dynamic client registration.
pub(super) async fn register(State(s): State<Arc<DevState>>, body: axum::body::Bytes) -> Response {
    let invalid =
        |what: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", what);
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
    let client_id = random_token(16);
    let secret = (method != "none").then(|| random_token(32));
    {
        let mut store = s.lock();
        if store.clients.len() >= MAX_ENTRIES {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many registered clients",
            );
        }
        store.clients.insert(
            client_id.clone(),
            Client {
                secret: secret.clone(),
                redirect_uris: redirect_uris.clone(),
                refresh: grant_types.iter().any(|g| g == "refresh_token"),
            },
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
