//! What the fuzz targets share: a current-thread tokio runtime, the test keys of
//! `tests/fixtures/keys` as a fixed JWK set and as signing keys, and JSON checks.

use std::future::Future;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use scopegate::auth::{JwtConfig, JwtVerifier};
use serde_json::{Value, json};

/// The issuer every verifier of the targets expects.
pub const ISSUER: &str = "https://as.example.com";
/// The audience (this resource server's canonical URI).
pub const AUDIENCE: &str = "https://rs.example.com/mcp";

/// `n` of `tests/fixtures/keys/rsa2048_a.pub.pem`, base64url (`e` is 65537, `AQAB`).
const RSA_A_N: &str = "jmSjpzaOQ7HjFlx-tuNmCtMMcVULlmenw2o6H62C0a-t7JzEJhy0-oo3FSAaTPWC14SBeS8s6gBSylrUp3lORLBez9YzalYfaL0WEtCCV5hCpunQKzM8QgIwG4X1QeZ_R-bPQq4h0BH8WUkmuxy6F6T06PSReqqenHAlMUGOuNO3A78q_UyS6kXhL87cz7tf3ijFycnyHwCRbujUBMW4ZK-KbSOvM2dzBrI8sLZeDorB44z_XjYVRu0tT6SRLrC7F_iKQ_vFRWui2YxRB_TMlUB35-Fg9DZkIQ4ewbLvesTIawy_U6H2PpT4zwRb0uwEZrQAiCvlexZ4Std41CllqQ";

const RSA_A_PEM: &str = include_str!("../../tests/fixtures/keys/rsa2048_a.pem");
const EC_P256_PEM: &str = include_str!("../../tests/fixtures/keys/ec_p256.pem");
const ED25519_PEM: &str = include_str!("../../tests/fixtures/keys/ed25519.pem");

/// Runs `future` to completion on the targets' current-thread runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime")
        })
        .block_on(future)
}

/// A key of the fixed JWK set, which can also sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    /// RSA 2048 (`rsa2048_a`), kid `rsa-a`, no `alg` in its JWK (any RSA algorithm).
    RsaA,
    /// EC P-256, kid `ec-p256`, `alg` ES256.
    EcP256,
    /// Ed25519, kid `ed25519`, `alg` EdDSA.
    Ed25519,
}

impl TestKey {
    /// Every key, in the order of the JWK set.
    pub const ALL: [TestKey; 3] = [TestKey::RsaA, TestKey::EcP256, TestKey::Ed25519];

    /// The key's `kid`.
    pub fn kid(self) -> &'static str {
        match self {
            TestKey::RsaA => "rsa-a",
            TestKey::EcP256 => "ec-p256",
            TestKey::Ed25519 => "ed25519",
        }
    }

    /// The algorithm the key signs with when the header names none of its family.
    pub fn default_alg(self) -> Algorithm {
        match self {
            TestKey::RsaA => Algorithm::RS256,
            TestKey::EcP256 => Algorithm::ES256,
            TestKey::Ed25519 => Algorithm::EdDSA,
        }
    }

    fn encoding_key(self) -> &'static EncodingKey {
        static KEYS: OnceLock<[EncodingKey; 3]> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            [
                EncodingKey::from_rsa_der(&pem_to_der(RSA_A_PEM)),
                EncodingKey::from_ec_der(&pem_to_der(EC_P256_PEM)),
                EncodingKey::from_ed_der(&pem_to_der(ED25519_PEM)),
            ]
        });
        &keys[self as usize]
    }

    /// Signs `message` with `alg`; `None` when the key cannot sign with it.
    pub fn sign(self, alg: Algorithm, message: &[u8]) -> Option<String> {
        jsonwebtoken::crypto::sign(message, self.encoding_key(), alg).ok()
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("a PEM test key")
}

/// The public JWK set of [`TestKey::ALL`].
pub fn jwks() -> &'static Value {
    static JWKS: OnceLock<Value> = OnceLock::new();
    JWKS.get_or_init(|| {
        let public = |key: TestKey| {
            let jwk = Jwk::from_encoding_key(key.encoding_key(), key.default_alg())
                .expect("the public JWK of a test key");
            let mut jwk = serde_json::to_value(jwk).expect("a JWK serializes");
            jwk["kid"] = json!(key.kid());
            jwk["use"] = json!("sig");
            jwk
        };
        json!({ "keys": [
            { "kty": "RSA", "kid": TestKey::RsaA.kid(), "use": "sig", "n": RSA_A_N, "e": "AQAB" },
            public(TestKey::EcP256),
            public(TestKey::Ed25519),
        ]})
    })
}

/// The configuration of every verifier of the targets.
pub fn config() -> JwtConfig {
    JwtConfig::new(ISSUER, AUDIENCE)
}

/// A verifier with the fixed JWK set: it never fetches anything.
pub fn verifier() -> &'static JwtVerifier {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        JwtVerifier::with_jwks(config(), jwks()).expect("the test JWK set is usable")
    })
}

/// Base64url without padding, as JWS segments are written.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Panics unless `text` is one JSON object.
pub fn assert_json_object(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => value,
        Ok(other) => panic!("not a JSON object: {other}"),
        Err(error) => panic!("invalid JSON ({error}): {text:?}"),
    }
}

/// Panics unless `text` is a JSON-RPC 2.0 response: `jsonrpc`, `id`, and exactly one of
/// `result` and `error` (whose `code` is an integer and `message` a string).
pub fn assert_jsonrpc_response(text: &str) -> Value {
    let value = assert_json_object(text);
    assert_eq!(value["jsonrpc"], "2.0", "{text}");
    let id = value.get("id").unwrap_or_else(|| panic!("no id: {text}"));
    assert!(
        id.is_null() || id.is_string() || id.is_i64() || id.is_u64(),
        "bad id: {text}"
    );
    match (value.get("result"), value.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "bad error code: {text}");
            assert!(error["message"].is_string(), "bad error message: {text}");
        }
        _ => panic!("not exactly one of result and error: {text}"),
    }
    value
}

/// `header.payload.signature`, the header and payload serialized as given and signed by `key`
/// with `alg`; `None` when the key cannot sign with `alg`.
pub fn sign_token(key: TestKey, alg: Algorithm, header: &Value, claims: &Value) -> Option<String> {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = key.sign(alg, input.as_bytes())?;
    Some(format!("{input}.{signature}"))
}

/// Claims every verifier of the targets accepts (until 2100).
pub fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": 4_102_444_800_u64,
        "sub": "fuzzer",
        "client_id": "fuzz-client",
        "scope": "notes:read notes:write",
    })
}

/// A valid token from each test key (with its `kid`, and one RS256 token without).
pub fn good_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut tokens: Vec<String> = TestKey::ALL
            .iter()
            .map(|&key| {
                let header =
                    json!({"alg": alg_name(key.default_alg()), "typ": "at+jwt", "kid": key.kid()});
                sign_token(key, key.default_alg(), &header, &good_claims())
                    .expect("a test key signs")
            })
            .collect();
        let header = json!({"alg": "RS256", "typ": "at+jwt"});
        tokens.push(
            sign_token(TestKey::RsaA, Algorithm::RS256, &header, &good_claims())
                .expect("RSA signs"),
        );
        tokens
    })
}

/// The JOSE name of an algorithm (`RS256`, `EdDSA`, …).
pub fn alg_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Panics unless a verified principal's claims hold the configured issuer and audience and an
/// `exp`: a token that lacks them must never verify.
pub fn assert_verified_claims(claims: &serde_json::Map<String, Value>) {
    assert_eq!(
        claims.get("iss"),
        Some(&json!(ISSUER)),
        "verified iss: {claims:?}"
    );
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "verified aud: {claims:?}");
    assert!(
        claims.get("exp").is_some_and(Value::is_number),
        "verified exp: {claims:?}"
    );
}

/// With `SCOPEGATE_FUZZ_TRACE` set, prints `outcome: …` for each input: run a target's binary
/// over its corpus (`-runs=0`) and count the lines to see how deep the corpus reaches.
pub fn trace(outcome: impl std::fmt::Display) {
    if tracing() {
        eprintln!("outcome: {outcome}");
    }
}

/// Whether [`trace`] prints (to skip building costly outcomes).
pub fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SCOPEGATE_FUZZ_TRACE").is_some())
}

/// The outcome of a verification, for [`trace`].
pub fn verdict<T>(result: &Result<T, scopegate::auth::AuthError>) -> &'static str {
    match result {
        Ok(_) => "verified",
        Err(error) => error.reason(),
    }
}
