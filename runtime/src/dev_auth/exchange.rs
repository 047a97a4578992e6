//! The token-exchange grant (RFC 8693 §2): the MCP server trades a token this server issued
//! for it for a token for one of its declared downstream APIs.
//!
//! The policy, every rule refusing with the RFC 8693 §2.2.2 / RFC 6749 §5.2 error that says why:
//! - the server declares downstream APIs (`unsupported_grant_type` otherwise: the grant is not
//!   in the metadata either);
//! - the client is the MCP server's own ([`super::ExchangeClient`]), authenticated with its
//!   secret (`unauthorized_client` otherwise);
//! - the subject token is an access token (`subject_token_type`), signed by this server, for
//!   this server's resource, unexpired (`invalid_grant` otherwise); no actor token;
//! - the API (`resource` and/or `audience`, the same when both are given) is one of the
//!   declared downstream APIs (`invalid_target` otherwise);
//! - the scopes asked for are the subject token's, or fewer (`invalid_scope`), unless
//!   [`super::DevAuthConfig::exchange_any_scope`].
//!
//! The token issued is an RFC 9068 `at+jwt` for the API: same subject, `aud` the API,
//! `client_id` the MCP server's client, expiring with the subject token at the latest.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::clock::unix_now;
use super::random::random_token;
use super::responses::oauth_error;
use super::state::DevState;
use crate::auth::TOKEN_EXCHANGE_GRANT;
use crate::metadata;
use crate::scope::is_scope_token;

/// RFC 8693 §3: an OAuth 2.0 access token.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// RFC 8693 §3: a JWT.
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The grant type the token endpoint dispatches here.
pub(super) const GRANT_TYPE: &str = TOKEN_EXCHANGE_GRANT;

/// The token endpoint's form fields only this grant reads (RFC 8693 §2.1).
#[derive(Deserialize, Default)]
pub(super) struct ExchangeFields {
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    audience: Option<String>,
    actor_token: Option<String>,
}

fn refuse(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// The grant, for `client_id` (authenticated by the token endpoint), with the form's
/// exchange fields, `scope` and `resource`.
pub(super) fn exchange_grant(
    s: &DevState,
    client_id: &str,
    fields: &ExchangeFields,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Response {
    // Not advertised without downstream APIs (`grant_types_supported`), nor answered.
    if s.downstream.is_empty() {
        return refuse(
            "unsupported_grant_type",
            "this server's tools declare no downstream API to exchange tokens for",
        );
    }
    if client_id != s.config.exchange_client.id {
        return refuse(
            "unauthorized_client",
            "only the MCP server's own client may exchange tokens here",
        );
    }
    let Some(subject) = &fields.subject_token else {
        return refuse("invalid_request", "subject_token is required");
    };
    if fields.subject_token_type.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return refuse(
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
        );
    }
    if fields.actor_token.is_some() {
        return refuse("invalid_request", "actor tokens are not supported");
    }
    if let Some(kind) = &fields.requested_token_type
        && kind != ACCESS_TOKEN_TYPE
        && kind != JWT_TOKEN_TYPE
    {
        return refuse(
            "invalid_request",
            "requested_token_type must be an access token or a JWT",
        );
    }
    let Some(claims) = s.subject_claims(subject) else {
        return refuse(
            "invalid_grant",
            &format!(
                "the subject token is not an unexpired access token of this server for {}",
                s.resource
            ),
        );
    };
    let api = match s.target(resource, fields.audience.as_deref()) {
        Ok(api) => api,
        Err(why) => return refuse("invalid_target", &why),
    };
    let held: Vec<&str> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let scopes: Vec<&str> = match scope {
        None => held.clone(),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(bad) = asked.iter().find(|s| !is_scope_token(s)) {
                return refuse("invalid_scope", &format!("`{bad}` is not a scope"));
            }
            if !s.config.exchange_any_scope
                && let Some(extra) = asked.iter().find(|s| !held.contains(s))
            {
                return refuse(
                    "invalid_scope",
                    &format!("the subject token does not hold `{extra}`"),
                );
            }
            asked
        }
    };
    let subject_exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    match s.exchanged_token(&claims, api, &scopes, subject_exp) {
        Ok((token, expires_in)) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            json!({
                "access_token": token,
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": scopes.join(" "),
            })
            .to_string(),
        )
            .into_response(),
        Err(e) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

impl DevState {
    /// The claims of `token` when it is an access token this server signed for its resource and
    /// it has not expired (no leeway: a token about to expire is not worth exchanging).
    fn subject_claims(&self, token: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some("at+jwt") {
            return None;
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.verifying_key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The declared API that `resource` and `audience` name (both, when both are given).
    fn target(&self, resource: Option<&str>, audience: Option<&str>) -> Result<&str, String> {
        let named = match (resource, audience) {
            (Some(r), Some(a)) if !same_api(r, a) => {
                return Err("resource and audience name different APIs".into());
            }
            (Some(api), _) | (None, Some(api)) => api,
            (None, None) => {
                return Err("name the downstream API in resource or audience".into());
            }
        };
        self.downstream
            .iter()
            .find(|declared| same_api(declared, named))
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "tokens are exchanged for the declared downstream APIs only: {}",
                    self.downstream.join(", ")
                )
            })
    }

    /// A token for `api` with the subject's `sub`, expiring with the subject token at the
    /// latest; and its lifetime in seconds.
    fn exchanged_token(
        &self,
        subject: &Map<String, Value>,
        api: &str,
        scopes: &[&str],
        subject_exp: u64,
    ) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let now = unix_now();
        let exp = (now + self.config.access_token_ttl.as_secs()).min(subject_exp);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": self.issuer,
            "sub": subject.get("sub"),
            "aud": api,
            "client_id": self.config.exchange_client.id,
            "scope": scopes.join(" "),
            "iat": now,
            "exp": exp,
            "jti": random_token(16),
        });
        let token = jsonwebtoken::encode(&header, &claims, &self.key)?;
        Ok((token, exp.saturating_sub(now)))
    }
}

/// Whether two URIs name one API: equal, or equal in their canonical form (RFC 8707: case of
/// scheme and host, a trailing slash).
fn same_api(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (metadata::canonical_resource(a), metadata::canonical_resource(b)),
            (Ok(x), Ok(y)) if x == y
        )
}
