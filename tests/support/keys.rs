//! Signing keys loaded from `tests/fixtures/keys` (see the README there).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use serde_json::{Value, json};

use super::b64url;
use super::rsa::RsaPrivate;

const RSA_A: &str = include_str!("../fixtures/keys/rsa2048_a.pem");
const RSA_B: &str = include_str!("../fixtures/keys/rsa2048_b.pem");
const RSA_1024: &str = include_str!("../fixtures/keys/rsa1024.pem");
const EC_P256: &str = include_str!("../fixtures/keys/ec_p256.pem");
const ED25519: &str = include_str!("../fixtures/keys/ed25519.pem");

/// A private signing key with the `kid`, `alg` and `use` its public JWK will carry.
#[derive(Clone)]
pub struct TestKey {
    kid: String,
    alg: Algorithm,
    key_use: Option<String>,
    encoding_key: EncodingKey,
    /// Parsed integers for RSA keys (JWK, public PEM, and signing when aws-lc refuses).
    rsa: Option<RsaPrivate>,
    /// The public JWK members that describe the key material (`kty`, `n`/`e`, `crv`/`x`/`y`).
    public_params: serde_json::Map<String, Value>,
}

impl TestKey {
    /// RSA 2048, kid `rsa-a`, RS256: the default key of a [`super::KeyServer`].
    pub fn rsa_a() -> Self {
        Self::rsa("rsa-a", RSA_A)
    }

    /// A second RSA 2048 key, kid `rsa-b`, RS256, for rotation and wrong-key attacks.
    pub fn rsa_b() -> Self {
        Self::rsa("rsa-b", RSA_B)
    }

    /// RSA 1024, kid `rsa-1024`, RS256: too short; must be refused by the verifier.
    ///
    /// jsonwebtoken/aws-lc-rs cannot sign with it, so tokens are signed by [`super::rsa`].
    pub fn rsa_1024() -> Self {
        Self::rsa("rsa-1024", RSA_1024)
    }

    /// EC P-256, kid `ec-p256`, ES256.
    pub fn ec_p256() -> Self {
        Self::pkcs8("ec-p256", EC_P256, Algorithm::ES256)
    }

    /// Ed25519, kid `ed25519`, EdDSA.
    pub fn ed25519() -> Self {
        Self::pkcs8("ed25519", ED25519, Algorithm::EdDSA)
    }

    fn rsa(kid: &str, pem: &str) -> Self {
        let der = pem_to_der(pem, "RSA PRIVATE KEY");
        let rsa = RsaPrivate::from_pkcs1_der(&der);
        let public_params = json!({ "kty": "RSA", "n": b64url(&rsa.n), "e": b64url(&rsa.e) });
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            key_use: Some("sig".to_owned()),
            // jsonwebtoken's aws-lc backend takes RSA private keys as PKCS#1 DER.
            encoding_key: EncodingKey::from_rsa_der(&der),
            rsa: Some(rsa),
            public_params: into_object(public_params),
        }
    }

    fn pkcs8(kid: &str, pem: &str, alg: Algorithm) -> Self {
        let der = pem_to_der(pem, "PRIVATE KEY");
        let encoding_key = match alg.family() {
            AlgorithmFamily::Ec => EncodingKey::from_ec_der(&der),
            AlgorithmFamily::Ed => EncodingKey::from_ed_der(&der),
            other => unreachable!("PKCS#8 fixtures are EC or Ed, not {other:?}"),
        };
        let jwk = Jwk::from_encoding_key(&encoding_key, alg).expect("public JWK of a test key");
        let mut public_params = into_object(serde_json::to_value(jwk).expect("JWK to JSON"));
        public_params.remove("alg");
        Self {
            kid: kid.to_owned(),
            alg,
            key_use: Some("sig".to_owned()),
            encoding_key,
            rsa: None,
            public_params,
        }
    }

    /// Same key, another `kid` (in the JWK and in tokens it signs).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// Same key, JWK `use` set to `key_use` (e.g. `"enc"`, which a verifier must not accept).
    pub fn with_use(mut self, key_use: impl Into<String>) -> Self {
        self.key_use = Some(key_use.into());
        self
    }

    /// Same key, no `use` member in the JWK.
    pub fn without_use(mut self) -> Self {
        self.key_use = None;
        self
    }

    /// Same key, another signing algorithm of its family (e.g. PS256 for an RSA key).
    pub fn with_alg(mut self, alg: Algorithm) -> Self {
        assert_eq!(
            alg.family(),
            self.alg.family(),
            "algorithm of another family"
        );
        self.alg = alg;
        self
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The algorithm's JOSE name (`"RS256"`, `"ES256"`, `"EdDSA"`).
    pub fn alg_name(&self) -> String {
        alg_name(self.alg)
    }

    /// The JWK `use`, `Some("sig")` unless changed.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// Modulus size for RSA keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        self.rsa.as_ref().map(RsaPrivate::bits)
    }

    /// The public JWK, with `kid`, `alg` and `use` (when set).
    pub fn jwk(&self) -> Value {
        let mut jwk = self.public_params.clone();
        jwk.insert("kid".to_owned(), json!(self.kid));
        jwk.insert("alg".to_owned(), json!(self.alg_name()));
        if let Some(key_use) = &self.key_use {
            jwk.insert("use".to_owned(), json!(key_use));
        }
        Value::Object(jwk)
    }

    /// The private key as jsonwebtoken wants it. Signing through it fails for
    /// [`TestKey::rsa_1024`] (aws-lc-rs refuses RSA under 2048 bits); use [`TestKey::sign`].
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding_key
    }

    /// A jsonwebtoken decoding key built from [`TestKey::jwk`].
    pub fn decoding_key(&self) -> DecodingKey {
        let jwk: Jwk = serde_json::from_value(self.jwk()).expect("JWK parses");
        DecodingKey::from_jwk(&jwk).expect("decoding key from JWK")
    }

    /// The SPKI `PUBLIC KEY` PEM of an RSA key, as `openssl rsa -pubout` writes it (the secret
    /// an RS256→HS256 confusion attacker uses).
    pub fn rsa_public_key_pem(&self) -> Option<String> {
        self.rsa.as_ref().map(RsaPrivate::public_key_pem)
    }

    /// Signs `message` with this key's algorithm; returns the base64url signature.
    pub fn sign(&self, message: &[u8]) -> String {
        self.sign_with(self.alg, message)
    }

    /// Signs `message` with `alg` (of this key's family); returns the base64url signature.
    pub fn sign_with(&self, alg: Algorithm, message: &[u8]) -> String {
        match &self.rsa {
            Some(rsa) if rsa.bits() < 2048 => b64url(&rsa.sign_pkcs1_v15(alg, message)),
            _ => jsonwebtoken::crypto::sign(message, &self.encoding_key, alg)
                .unwrap_or_else(|e| panic!("signing with {} ({alg:?}): {e}", self.kid)),
        }
    }

    /// Signs with the hand-rolled RSASSA-PKCS1-v1_5 (any RSA size); for cross-checks.
    pub fn sign_pkcs1_v15_by_hand(&self, alg: Algorithm, message: &[u8]) -> Option<Vec<u8>> {
        self.rsa
            .as_ref()
            .map(|rsa| rsa.sign_pkcs1_v15(alg, message))
    }

    /// Verifies a PKCS#1 v1.5 signature with the hand-rolled RSA (any RSA size).
    pub fn verify_pkcs1_v15_by_hand(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        self.rsa
            .as_ref()
            .is_some_and(|rsa| super::rsa::verify_pkcs1_v15(&rsa.n, &rsa.e, alg, message, sig))
    }
}

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .finish_non_exhaustive()
    }
}

/// `{"keys": [jwk, ...]}` for `keys`.
pub fn jwk_set(keys: &[TestKey]) -> Value {
    json!({ "keys": keys.iter().map(TestKey::jwk).collect::<Vec<_>>() })
}

/// The JOSE name of an algorithm.
pub fn alg_name(alg: Algorithm) -> String {
    match serde_json::to_value(alg).expect("algorithm to JSON") {
        Value::String(name) => name,
        other => unreachable!("algorithm serialised as {other}"),
    }
}

/// The DER inside a PEM block labelled `label`.
fn pem_to_der(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("no {label} PEM block"));
    let b64: String = body.split_whitespace().collect();
    STANDARD.decode(b64).expect("PEM base64")
}

fn into_object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}
