//! The token endpoint: client authentication, the authorization code grant with PKCE, and the
//! refresh grant with rotation.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;

use crate::auth::constant_time_eq;

use super::{CODE_TTL, DevState, Grant, MAX_ENTRIES, oauth_error, random_token};

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

/// Authenticates the client at the token endpoint: HTTP Basic, form secret, or (public
/// clients) the client id alone.
fn client_of(s: &DevState, headers: &HeaderMap, form: &TokenForm) -> Option<String> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (client_id, secret) = match (basic, &form.client_id) {
        (Some((id, secret)), _) => (id, Some(secret)),
        (None, Some(id)) => (id.clone(), form.client_secret.clone()),
        (None, None) => return None,
    };
    let store = s.lock();
    let client = store.clients.get(&client_id)?;
    match (&client.secret, secret) {
        (None, _) => Some(client_id),
        (Some(expected), Some(given))
            if constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Some(client_id)
        }
        _ => None,
    }
}

pub(super) async fn token(
    State(s): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(client_id) = client_of(&s, &headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let bad_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some((grant, issued)) = form.code.as_ref().and_then(|c| s.lock().codes.remove(c))
            else {
                return bad_grant("unknown, used or expired authorization code");
            };
            if issued.elapsed() >= CODE_TTL {
                return bad_grant("the authorization code has expired");
            }
            if grant.client_id != client_id {
                return bad_grant("the code was issued to another client");
            }
            if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                return bad_grant("redirect_uri does not match the authorization request");
            }
            let Some(verifier) = &form.code_verifier else {
                return bad_grant("code_verifier is required (PKCE)");
            };
            if !pkce_ok(verifier, &grant.challenge) {
                return bad_grant("code_verifier does not match the code_challenge");
            }
            if let Some(resource) = &form.resource
                && s.resource_for(Some(resource)).ok().as_deref() != Some(grant.resource.as_str())
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the authorization request",
                );
            }
            let scopes = grant.scopes.clone();
            s.tokens(grant, scopes, random_token(16))
        }
        Some("refresh_token") => {
            let Some(presented) = &form.refresh_token else {
                return bad_grant("refresh_token is required");
            };
            let entry = {
                let mut store = s.lock();
                if let Some(family) = store.used_refresh.get(presented).cloned() {
                    // Replay of a rotated token: someone else has a copy. Revoke the family.
                    store.refresh.retain(|_, (_, _, f)| *f != family);
                    return bad_grant(
                        "this refresh token was already used; its successors are revoked",
                    );
                }
                store.refresh.get(presented).cloned()
            };
            let Some((grant, expires, family)) = entry else {
                return bad_grant("unknown or expired refresh token");
            };
            if expires <= Instant::now() {
                return bad_grant("the refresh token has expired");
            }
            if grant.client_id != client_id {
                return bad_grant("the refresh token was issued to another client");
            }
            // A refresh may narrow the access token's scopes, never widen them; the new refresh
            // token keeps the original ones (RFC 6749 §6).
            let scopes = match &form.scope {
                None => grant.scopes.clone(),
                Some(scope) => match s.scopes_for(Some(scope)) {
                    Ok(scopes) if scopes.iter().all(|x| grant.scopes.contains(x)) => scopes,
                    _ => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "a refresh cannot add scopes",
                        );
                    }
                },
            };
            if let Some(resource) = &form.resource
                && s.resource_for(Some(resource)).ok().as_deref() != Some(grant.resource.as_str())
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the original grant",
                );
            }
            // Rotation: the presented token is spent (only one concurrent use wins), and a new
            // one of the same family replaces it.
            {
                let mut store = s.lock();
                if store.refresh.remove(presented).is_none() {
                    return bad_grant("unknown or expired refresh token");
                }
                if store.used_refresh.len() >= MAX_ENTRIES {
                    store.used_refresh.clear();
                }
                store.used_refresh.insert(presented.clone(), family.clone());
            }
            s.tokens(grant, scopes, family)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// RFC 7636 §4.6 with S256: BASE64URL(SHA256(verifier)) == challenge; the verifier is 43–128
/// unreserved characters.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    constant_time_eq(
        URL_SAFE_NO_PAD.encode(digest.as_ref()).as_bytes(),
        challenge.as_bytes(),
    )
}

impl DevState {
    /// Issues an access token for `scopes` (the grant's, or fewer) and a new refresh token of
    /// `family` carrying the grant's full scopes.
    pub(super) fn tokens(&self, grant: Grant, scopes: Vec<String>, family: String) -> Response {
        let with_refresh = self
            .lock()
            .clients
            .get(&grant.client_id)
            .is_some_and(|c| c.refresh);
        let access = match self.access_token(&grant, &scopes) {
            Ok(token) => token,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                );
            }
        };
        let refresh = random_token(32);
        let scope = scopes.join(" ");
        if with_refresh {
            let mut store = self.lock();
            let now = Instant::now();
            store.refresh.retain(|_, (_, expires, _)| *expires > now);
            if store.refresh.len() < MAX_ENTRIES {
                store.refresh.insert(
                    refresh.clone(),
                    (grant, now + self.config.refresh_token_ttl, family),
                );
            }
        }
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.access_token_ttl.as_secs(),
            "scope": scope,
        });
        if with_refresh {
            body["refresh_token"] = refresh.into();
        }
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_checks_the_verifier_against_the_challenge() {
        // Challenge computed independently (Python hashlib + base64.urlsafe_b64encode).
        let verifier = "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Ck";
        let challenge = "kkW_ZCh3g8Pxxy8pvrI-Rq5Lf9STUO5Ayb7Nx0V9azU";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(
            "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Cs",
            challenge
        ));
        assert!(!pkce_ok("too-short", challenge));
        assert!(
            !pkce_ok(&format!("{verifier}!"), challenge),
            "characters outside the unreserved set"
        );
        assert!(!pkce_ok(&"a".repeat(129), challenge));
    }
}
