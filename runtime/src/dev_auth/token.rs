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

use super::cimd::{DocumentError, is_url};
use super::dpop;
use super::grant::Grant;
use super::limits::CODE_TTL;
use super::refresh::{Refused, RotateError, code_digest};
use super::responses::oauth_error;
use super::state::{ClientError, DevState};

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
    /// RFC 8693's fields, for the token-exchange grant.
    #[serde(flatten)]
    exchange: super::exchange::ExchangeFields,
}

/// A client the token endpoint authenticated.
struct Authenticated {
    id: String,
    /// Whether it may get refresh tokens.
    refresh: bool,
    /// Whether it has no secret (a public client): its refresh tokens are bound to its DPoP
    /// key when it has one (RFC 9449 §5).
    public: bool,
    /// Whether every token request must carry a DPoP proof.
    dpop_bound: bool,
}

/// Authenticates the client at the token endpoint: HTTP Basic, form secret, or (public
/// clients, registered or identified by a metadata document) the client id alone.
async fn client_of(
    s: &DevState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Authenticated, Response> {
    let failed = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
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
        (None, None) => return Err(failed()),
    };
    let client = match s.client(&client_id, None).await {
        Ok(client) => client,
        Err(ClientError::Unknown) => return Err(failed()),
        Err(ClientError::Document(e)) => {
            let status = match e {
                DocumentError::Busy => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            return Err(oauth_error(status, e.code(), &e.to_string()));
        }
    };
    let authenticated = match (&client.secret, secret) {
        // A client identified by its metadata document has no secret (draft §4.1): one that
        // sends one is not who it claims to be.
        (None, Some(_)) if is_url(&client_id) => false,
        (None, _) => true,
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        (Some(_), None) => false,
    };
    if !authenticated {
        return Err(failed());
    }
    Ok(Authenticated {
        id: client_id,
        refresh: client.refresh,
        public: client.secret.is_none(),
        dpop_bound: client.dpop_bound,
    })
}

pub(super) async fn token(
    State(s): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match client_of(&s, &headers, &form).await {
        Ok(client) => client,
        Err(refusal) => return refusal,
    };
    let jkt = match dpop::token_request_key(&s, &headers).await {
        Ok(jkt) => jkt,
        Err(refusal) => return refusal,
    };
    if client.dpop_bound && jkt.is_none() {
        return dpop::proof_required();
    }
    match form.grant_type.as_deref() {
        Some("authorization_code") => code_grant(&s, &client, &form, jkt),
        Some("refresh_token") => refresh_grant(&s, &client.id, &form, jkt.as_deref()),
        Some(super::exchange::GRANT_TYPE) => super::exchange::exchange_grant(
            &s,
            &client.id,
            &form.exchange,
            form.scope.as_deref(),
            form.resource.as_deref(),
        ),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn bad_grant(why: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why)
}

/// The authorization code grant. The code is spent, checked and (for a client that may
/// refresh) turned into a refresh family in one critical section, so a concurrent second
/// redemption finds the family to revoke.
///
/// With a DPoP proof (`jkt`, its key), the access token is bound to the key, and so is a public
/// client's refresh family.
fn code_grant(
    s: &DevState,
    client: &Authenticated,
    form: &TokenForm,
    jkt: Option<String>,
) -> Response {
    let client_id = client.id.as_str();
    let Some(code) = &form.code else {
        return bad_grant("code is required");
    };
    let now = Instant::now();
    let (grant, refresh) = {
        let mut store = s.lock();
        let Some((mut grant, issued)) = store.codes.remove(code) else {
            // OAuth 2.1 §4.1.3: a code presented twice was stolen; what it bought is revoked.
            if store.families.revoke_code(&code_digest(code)) {
                tracing::warn!(
                    target: "scopegate::dev_auth",
                    event = "code_replayed",
                    client_id,
                    "an authorization code was redeemed twice: the refresh tokens issued from it are revoked"
                );
                return bad_grant(
                    "this authorization code was already used: the refresh tokens issued from it are revoked",
                );
            }
            return bad_grant("unknown, used or expired authorization code");
        };
        if now.duration_since(issued) >= CODE_TTL {
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
        grant.jkt = jkt.clone().filter(|_| client.public);
        let refresh = client.refresh.then(|| {
            store.families.start(
                grant.clone(),
                code_digest(code),
                s.config.refresh_token_ttl,
                now,
            )
        });
        (grant, refresh)
    };
    s.issue(&grant, &grant.scopes, refresh, jkt.as_deref())
}

/// The refresh grant: the presented token is retired and its successor issued in one critical
/// section (see `refresh.rs`); a refused scope or resource spends nothing.
///
/// A family bound to a DPoP key is refreshed only by a request proving that key.
fn refresh_grant(s: &DevState, client_id: &str, form: &TokenForm, jkt: Option<&str>) -> Response {
    let Some(presented) = &form.refresh_token else {
        return bad_grant("refresh_token is required");
    };
    let rotated = s
        .lock()
        .families
        .rotate(presented, client_id, Instant::now(), |grant| {
            if let Some(bound) = &grant.jkt
                && jkt != Some(bound.as_str())
            {
                return Err(dpop::wrong_key());
            }
            // A refresh may narrow the access token's scopes, never widen them; the family
            // keeps the original ones (RFC 6749 §6).
            let scopes = match &form.scope {
                None => grant.scopes.clone(),
                Some(scope) => match s.scopes_for(Some(scope)) {
                    Ok(scopes) if scopes.iter().all(|x| grant.scopes.contains(x)) => scopes,
                    _ => {
                        return Err(oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "a refresh cannot add scopes",
                        ));
                    }
                },
            };
            if let Some(resource) = &form.resource
                && s.resource_for(Some(resource)).ok().as_deref() != Some(grant.resource.as_str())
            {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "resource differs from the original grant",
                ));
            }
            Ok(scopes)
        });
    match rotated {
        Ok((grant, scopes, next)) => s.issue(&grant, &scopes, Some(next), jkt),
        Err(RotateError::Check(response)) => response,
        Err(RotateError::Refused(why)) => bad_grant(match why {
            Refused::Unknown => "unknown, revoked or expired refresh token",
            Refused::Expired => "the refresh token has expired",
            Refused::Reused => "this refresh token was already used; its successors are revoked",
            Refused::OtherClient => "the refresh token was issued to another client",
        }),
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
    /// The token response: an access token for `scopes` (the grant's, or fewer), and the
    /// family's next refresh token when there is one.
    /// Bound to the DPoP key `jkt` when the request proved one (`token_type: DPoP`, RFC 9449
    /// §5).
    fn issue(
        &self,
        grant: &Grant,
        scopes: &[String],
        refresh: Option<String>,
        jkt: Option<&str>,
    ) -> Response {
        let access = match self.access_token(grant, scopes, jkt) {
            Ok(token) => token,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                );
            }
        };
        let mut body = json!({
            "access_token": access,
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": self.config.access_token_ttl.as_secs(),
            "scope": scopes.join(" "),
        });
        if let Some(refresh) = refresh {
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
