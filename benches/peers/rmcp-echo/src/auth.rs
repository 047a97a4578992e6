//! Bearer-token check in front of the MCP service, written the way an rmcp user would: an axum
//! middleware over jsonwebtoken, with the JWKS fetched once at startup.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};

/// What the auth flags name.
pub(crate) struct Config {
    pub(crate) jwks_url: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
}

/// Decoding keys by `kid`, and the validation rules; built once.
pub(crate) struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

#[derive(serde::Deserialize)]
struct Claims {
    // Presence is enforced by `required_spec_claims`; the value is not used.
    #[expect(dead_code, reason = "only deserialized, to type the claim")]
    sub: String,
    #[serde(default)]
    scope: String,
}

impl Verifier {
    pub(crate) async fn fetch(config: &Config) -> Result<Self, String> {
        let jwks: JwkSet = reqwest::get(&config.jwks_url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("fetch JWKS {}: {e}", config.jwks_url))?
            .json()
            .await
            .map_err(|e| format!("parse JWKS {}: {e}", config.jwks_url))?;
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let Some(kid) = &jwk.common.key_id else {
                continue;
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWK `{kid}`: {e}"))?;
            keys.insert(kid.clone(), key);
        }
        if keys.is_empty() {
            return Err(format!("JWKS {} has no key with a `kid`", config.jwks_url));
        }

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self { keys, validation })
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keys.get(header.kid.as_deref()?)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// Lets a request through only with a valid token that grants `echo`.
pub(crate) async fn require_echo_scope(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|token| verifier.verify(token)) else {
        return challenge(StatusCode::UNAUTHORIZED, r#"Bearer error="invalid_token""#);
    };
    if !claims.scope.split(' ').any(|scope| scope == "echo") {
        return challenge(
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope", scope="echo""#,
        );
    }
    next.run(request).await
}

// RFC 6750 section 3: the challenge says why the token was refused.
fn challenge(status: StatusCode, www_authenticate: &'static str) -> Response {
    (
        status,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(www_authenticate),
        )],
    )
        .into_response()
}
