//! The signing key, generated at start and published as a JWKS, and the RFC 9068 `at+jwt`
//! access tokens it signs.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::clock::unix_now;
use super::config::DevAuthError;
use super::grant::Grant;
use super::random::random_token;
use super::state::DevState;

pub(super) fn generate_key() -> Result<(EncodingKey, Jwk), DevAuthError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|e| DevAuthError::Key(e.to_string()))?;
    let key = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
        .map_err(|e| DevAuthError::Key(e.to_string()))?;
    jwk.common.key_id = Some(random_token(12));
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok((key, jwk))
}

impl DevState {
    /// An access token for `grant` and `scopes`, bound to the DPoP key `jkt` when there is one
    /// (RFC 9449 §6.1).
    pub(super) fn access_token(
        &self,
        grant: &Grant,
        scopes: &[String],
        jkt: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let mut claims = json!({
            "iss": self.issuer,
            "sub": self.config.subject,
            "aud": grant.resource,
            "client_id": grant.client_id,
            "scope": scopes.join(" "),
            "iat": now,
            "exp": now + self.config.access_token_ttl.as_secs(),
            "jti": random_token(16),
        });
        if let Some(jkt) = jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}
