//! Access-token minting, honest and otherwise.
//!
//! Tokens are assembled by hand (`base64url(header).base64url(claims).signature`) and the
//! signature comes from [`TestKey::sign`], so any header or claim can be set, removed or given
//! the wrong type — `jsonwebtoken::encode` could not express `alg: none`, a removed `typ`, or an
//! `alg` header that differs from the signing algorithm.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{TestKey, b64url, now};

/// Lifetime of a default token, in seconds.
pub const DEFAULT_TTL: u64 = 300;

/// Far enough in the past or future to be outside any sane clock-skew leeway (jsonwebtoken's
/// default leeway is 60 s).
pub const SKEW_BEYOND_LEEWAY: u64 = 3600;

/// A JWT segment, for [`TokenBuilder::bad_base64`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
    Signature,
}

/// Builds an RFC 9068 access token and every broken variant of it.
///
/// Defaults: header `{"alg": <key alg>, "typ": "at+jwt", "kid": <key kid>}`; claims `iss`,
/// `aud` (a string), `sub: "alice"`, `client_id: "test-client"`, `scope`, `iat: now`,
/// `exp: now + 300`, `jti` (unique).
#[derive(Clone, Debug)]
pub struct TokenBuilder {
    key: TestKey,
    /// Signs instead of `key`, leaving the header (and its `kid`) alone.
    signer: Option<TestKey>,
    alg: Algorithm,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl TokenBuilder {
    pub fn new(
        key: &TestKey,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        static JTI: AtomicU64 = AtomicU64::new(0);
        let now = now();
        let jti = format!("jti-{now}-{}", JTI.fetch_add(1, Ordering::Relaxed));
        let header = json!({ "alg": key.alg_name(), "typ": "at+jwt", "kid": key.kid() });
        let claims = json!({
            "iss": issuer.into(),
            "aud": audience.into(),
            "sub": "alice",
            "client_id": "test-client",
            "scope": scope.into(),
            "iat": now,
            "exp": now + DEFAULT_TTL,
            "jti": jti,
        });
        Self {
            key: key.clone(),
            signer: None,
            alg: key.alg(),
            header: object(header),
            claims: object(claims),
        }
    }

    // ---- generic edits ---------------------------------------------------------------------

    /// Sets claim `name` to any JSON-serialisable value (wrong types included).
    pub fn claim(mut self, name: &str, value: impl Serialize) -> Self {
        self.claims.insert(name.to_owned(), to_json(value));
        self
    }

    /// Removes claim `name` (`without_claim("exp")`, `"aud"`, `"iss"`, ...).
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets header field `name` to any value (`"alg"` here changes the header only).
    pub fn header(mut self, name: &str, value: impl Serialize) -> Self {
        self.header.insert(name.to_owned(), to_json(value));
        self
    }

    /// Removes header field `name` (`"typ"`, `"kid"`, `"alg"`).
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    // ---- claims ----------------------------------------------------------------------------

    pub fn iss(self, iss: impl Into<String>) -> Self {
        self.claim("iss", iss.into())
    }

    /// `aud` as a single string.
    pub fn aud(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// `aud` as an array.
    pub fn aud_array(self, auds: &[&str]) -> Self {
        self.claim("aud", auds)
    }

    /// Toggles a trailing slash on the current string `aud` (`https://x/mcp` ↔ `https://x/mcp/`).
    pub fn aud_trailing_slash(self) -> Self {
        let aud = self
            .claims
            .get("aud")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let aud = match aud.strip_suffix('/') {
            Some(stripped) => stripped.to_owned(),
            None => format!("{aud}/"),
        };
        self.aud(aud)
    }

    pub fn sub(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// Replaces `scope` by a space-separated `scp` string (not RFC 9068).
    pub fn scp_string(self, scp: impl Into<String>) -> Self {
        self.without_claim("scope").claim("scp", scp.into())
    }

    /// Replaces `scope` by an `scp` array (not RFC 9068).
    pub fn scp_array(self, scp: &[&str]) -> Self {
        self.without_claim("scope").claim("scp", scp)
    }

    pub fn exp(self, exp: u64) -> Self {
        self.claim("exp", exp)
    }

    /// `exp` an hour ago (beyond any leeway), `iat` two hours ago.
    pub fn expired(self) -> Self {
        let now = now();
        self.iat(now - 2 * SKEW_BEYOND_LEEWAY)
            .exp(now - SKEW_BEYOND_LEEWAY)
    }

    pub fn nbf(self, nbf: u64) -> Self {
        self.claim("nbf", nbf)
    }

    /// `nbf` an hour from now (beyond any leeway).
    pub fn nbf_in_future(self) -> Self {
        self.nbf(now() + SKEW_BEYOND_LEEWAY)
    }

    pub fn iat(self, iat: u64) -> Self {
        self.claim("iat", iat)
    }

    /// `iat` an hour from now (beyond any leeway); `exp` stays valid after it.
    pub fn iat_in_future(self) -> Self {
        let now = now();
        self.iat(now + SKEW_BEYOND_LEEWAY)
            .exp(now + SKEW_BEYOND_LEEWAY + DEFAULT_TTL)
    }

    // ---- header ----------------------------------------------------------------------------

    /// Header `typ` (`"JWT"` makes it look like an ID token; see also `without_header("typ")`).
    pub fn typ(self, typ: impl Into<String>) -> Self {
        self.header("typ", typ.into())
    }

    pub fn kid(self, kid: impl Into<String>) -> Self {
        self.header("kid", kid.into())
    }

    /// Header `jku` (RFC 7515 4.1.2); a verifier must ignore it.
    pub fn jku(self, url: impl Into<String>) -> Self {
        self.header("jku", url.into())
    }

    /// Header `x5u` (RFC 7515 4.1.5); a verifier must ignore it.
    pub fn x5u(self, url: impl Into<String>) -> Self {
        self.header("x5u", url.into())
    }

    /// Header `x5c` (RFC 7515 4.1.6), standard-base64 DER certificates; must be ignored.
    pub fn x5c(self, chain: Vec<String>) -> Self {
        self.header("x5c", chain)
    }

    /// Header `jwk` (RFC 7515 4.1.3): an embedded key a verifier must never trust.
    pub fn embedded_jwk(self, jwk: Value) -> Self {
        self.header("jwk", jwk)
    }

    /// Header `crit` with the given names (RFC 7515 4.1.11).
    pub fn crit(self, names: &[&str]) -> Self {
        self.header("crit", names)
    }

    /// `crit: ["urn:scopegate:test:unknown"]` plus that header: an extension nobody
    /// understands, so the token must be rejected.
    pub fn unknown_crit(self) -> Self {
        const NAME: &str = "urn:scopegate:test:unknown";
        self.crit(&[NAME]).header(NAME, true)
    }

    /// Signs with `alg` (of the key's family) and says so in the header.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        assert_eq!(
            alg.family(),
            self.key.alg().family(),
            "algorithm of another family"
        );
        self.alg = alg;
        self.header("alg", super::alg_name(alg))
    }

    /// Signs with `other` but keeps the header (the original `kid`): "right kid, wrong key".
    pub fn signed_by(mut self, other: &TestKey) -> Self {
        self.alg = other.alg();
        self.signer = Some(other.clone());
        self
    }

    // ---- inspection ------------------------------------------------------------------------

    pub fn header_json(&self) -> Value {
        Value::Object(self.header.clone())
    }

    pub fn claims_json(&self) -> Value {
        Value::Object(self.claims.clone())
    }

    /// The key whose `kid` the header names by default.
    pub fn key(&self) -> &TestKey {
        &self.key
    }

    // ---- outputs ---------------------------------------------------------------------------

    /// The signed compact JWT.
    pub fn build(&self) -> String {
        let signer = self.signer.as_ref().unwrap_or(&self.key);
        let message = self.message(&self.header);
        let signature = signer.sign_with(self.alg, message.as_bytes());
        format!("{message}.{signature}")
    }

    /// Unsigned, `alg: "none"`: `base64url(header).base64url(claims).` (RFC 7519 6.1).
    pub fn alg_none(&self) -> String {
        self.unsigned_with_alg("none")
    }

    /// Unsigned with another spelling of none (`"None"`, `"NONE"`, `"nOnE"`).
    pub fn unsigned_with_alg(&self, alg: &str) -> String {
        let mut header = self.header.clone();
        header.insert("alg".to_owned(), json!(alg));
        format!("{}.", self.message(&header))
    }

    /// RS256→HS256 algorithm confusion: `alg: HS256`, HMAC keyed with the RSA key's public
    /// `PUBLIC KEY` PEM (exact bytes OpenSSL writes, trailing newline included).
    pub fn hs256_confusion(&self) -> String {
        let pem = self
            .key
            .rsa_public_key_pem()
            .expect("algorithm confusion needs an RSA key");
        self.hs256_with_secret(pem.as_bytes())
    }

    /// `alg: HS256`, HMAC keyed with `secret` (e.g. the PEM without its newline, or the DER).
    pub fn hs256_with_secret(&self, secret: &[u8]) -> String {
        let mut header = self.header.clone();
        header.insert("alg".to_owned(), json!("HS256"));
        let message = self.message(&header);
        let key = EncodingKey::from_secret(secret).expect("non-empty HMAC secret");
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
            .expect("HMAC signing");
        format!("{message}.{signature}")
    }

    /// A correctly shaped token whose first signature byte has one bit flipped.
    pub fn flipped_signature(&self) -> String {
        let token = self.build();
        let (message, signature) = token.rsplit_once('.').expect("three segments");
        let mut sig = URL_SAFE_NO_PAD
            .decode(signature)
            .expect("signature base64url");
        sig[0] ^= 0x01;
        format!("{message}.{}", b64url(&sig))
    }

    /// `header.payload` (signature segment dropped, no trailing dot).
    pub fn two_segments(&self) -> String {
        let token = self.build();
        let (message, _) = token.rsplit_once('.').expect("three segments");
        message.to_owned()
    }

    /// Five segments, JWE-shaped: the signed token followed by two more segments.
    pub fn five_segments(&self) -> String {
        let token = self.build();
        let (_, signature) = token.rsplit_once('.').expect("three segments");
        format!("{token}.{signature}.{signature}")
    }

    /// A token with a character outside the base64url alphabet (`*`) in the middle of
    /// `segment`. For the header and payload the signature is computed over the corrupted text,
    /// so the base64 is the only defect (a verifier checking the signature first still passes
    /// that step and must then fail on decoding).
    pub fn bad_base64(&self, segment: Segment) -> String {
        let corrupt = |text: &str| {
            let mut text = text.to_owned();
            text.insert(text.len() / 2, '*');
            text
        };
        let message = self.message(&self.header);
        let (header, payload) = message.split_once('.').expect("two segments");
        let signer = self.signer.as_ref().unwrap_or(&self.key);
        match segment {
            Segment::Header | Segment::Payload => {
                let message = if segment == Segment::Header {
                    format!("{}.{payload}", corrupt(header))
                } else {
                    format!("{header}.{}", corrupt(payload))
                };
                let signature = signer.sign_with(self.alg, message.as_bytes());
                format!("{message}.{signature}")
            }
            Segment::Signature => {
                let signature = signer.sign_with(self.alg, message.as_bytes());
                format!("{message}.{}", corrupt(&signature))
            }
        }
    }

    /// A validly signed token whose encoded header is at least `min_header_len` bytes
    /// (padded with a `"pad"` header field), e.g. 64 KiB.
    pub fn oversized_header(&self, min_header_len: usize) -> String {
        // base64url grows 3 bytes to 4; pad the JSON so the encoding reaches the target.
        let json_len = min_header_len.div_ceil(4) * 3;
        let current = serde_json::to_vec(&self.header).expect("header JSON").len();
        let overhead = r#","pad":"""#.len();
        let pad = json_len.saturating_sub(current + overhead).max(1);
        self.clone().header("pad", "a".repeat(pad)).build()
    }

    fn message(&self, header: &Map<String, Value>) -> String {
        let header = serde_json::to_vec(header).expect("header JSON");
        let claims = serde_json::to_vec(&self.claims).expect("claims JSON");
        format!("{}.{}", b64url(&header), b64url(&claims))
    }
}

/// Decodes the header and claims of a compact JWT without verifying anything.
/// Panics unless the token has at least two base64url JSON segments.
pub fn peek(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let part = parts.next().expect("a segment");
        let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url segment");
        serde_json::from_slice(&bytes).expect("JSON segment")
    };
    let header = next();
    let claims = next();
    (header, claims)
}

fn to_json(value: impl Serialize) -> Value {
    serde_json::to_value(value).expect("value serialises to JSON")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}
