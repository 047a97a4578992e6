//! DPoP proofs (RFC 9449), honest and otherwise. [`dpop_proof`] starts a proof as a client
//! makes it, as a [`TokenBuilder`], so any header or claim can then be changed, removed or
//! forged, and the proof signed with any key or none.

use serde_json::Value;

use super::{TestKey, TokenBuilder};

/// The public JWK a proof by `key` carries: the key material only (`kty` and its parameters).
pub fn dpop_jwk(key: &TestKey) -> Value {
    let mut jwk = key.jwk();
    let members = jwk.as_object_mut().expect("a JWK is an object");
    for name in ["kid", "alg", "use"] {
        members.remove(name);
    }
    jwk
}

/// The RFC 7638 thumbprint of `key`: what a token bound to it carries in `cnf.jkt`.
pub fn jkt(key: &TestKey) -> String {
    scopegate::auth::thumbprint(&dpop_jwk(key)).expect("a public key has a thumbprint")
}

/// A proof by `key` for a `htm` request to `htu`, with `ath` for `token` when there is one:
/// header `{"typ": "dpop+jwt", "alg": <key's>, "jwk": <public key>}`, claims `jti` (unique),
/// `htm`, `htu`, `iat: now`.
pub fn dpop_proof(key: &TestKey, htm: &str, htu: &str, token: Option<&str>) -> TokenBuilder {
    let mut proof = TokenBuilder::new(key, "", "", "");
    for claim in ["iss", "aud", "sub", "client_id", "scope", "exp"] {
        proof = proof.without_claim(claim);
    }
    proof = proof
        .without_header("kid")
        .header("typ", "dpop+jwt")
        .header("jwk", dpop_jwk(key))
        .claim("htm", htm)
        .claim("htu", htu);
    if let Some(token) = token {
        proof = proof.claim("ath", scopegate::auth::token_hash(token));
    }
    proof
}
