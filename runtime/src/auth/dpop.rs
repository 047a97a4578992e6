//! DPoP proofs (RFC 9449): the proof of possession a client sends beside a token bound to its
//! key, checked as §4.3 and §7.1 require, and the key thumbprint (RFC 7638) that ties a token
//! to a proof.
//!
//! What is checked here needs nothing but the proof, the request and a clock: the proof's shape,
//! `typ`, `alg`, public `jwk`, signature, `htm`, `htu`, `iat` and `ath`. What needs shared state
//! is the transport's: the `jti` seen once (a replay store), the server's nonce (see
//! [`super::DpopNonces`]), and the token's `cnf.jkt` compared with [`Proof::thumbprint`].

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::borrow::Cow;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::EllipticCurve;
use serde::Deserialize;
use serde_json::Value;

use super::dpop_keys::{ProofKey, ProofKeys};
use super::dpop_nonce::DpopNonces;
use super::jws::{KeyMaterial, PublicKey};
use super::jwt_config::ASYMMETRIC_ALGORITHMS;

/// The largest proof accepted: a proof carries one public key (an RSA one is the largest), a
/// few claims and a signature.
pub const MAX_PROOF_BYTES: usize = 8 << 10;

/// How a resource server accepts DPoP (RFC 9449) proofs. Every default is the safe one.
#[derive(Debug, Clone)]
pub struct DpopConfig {
    algorithms: Vec<Algorithm>,
    window: Duration,
    required: bool,
    nonces: Option<DpopNonces>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopConfig {
    /// DPoP accepted beside bearer tokens: proofs signed with ES256 (the clients' default),
    /// ES384, EdDSA, PS256 or RS256, issued within 5 minutes of now, no server nonce.
    #[must_use]
    pub fn new() -> Self {
        Self {
            algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::PS256,
                Algorithm::RS256,
            ],
            window: Duration::from_secs(300),
            required: false,
            nonces: None,
        }
    }

    /// The algorithms a proof may be signed with. Only asymmetric ones are kept: `none` and
    /// HMAC cannot prove possession of a private key (RFC 9449 §4.3, check 5); an empty list
    /// leaves the default.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut kept: Vec<Algorithm> = Vec::new();
        for alg in algorithms {
            if ASYMMETRIC_ALGORITHMS.contains(&alg) && !kept.contains(&alg) {
                kept.push(alg);
            }
        }
        if !kept.is_empty() {
            self.algorithms = kept;
        }
        self
    }

    /// How far a proof's `iat` may be from now, either way (default 5 minutes, at least 1
    /// second). A proof's `jti` is remembered for as long, so a replay within it is refused.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_secs(1));
        self
    }

    /// Whether every request must be DPoP: bearer tokens are then refused, and the Protected
    /// Resource Metadata says `dpop_bound_access_tokens_required` (RFC 9449 §5.2). Default:
    /// bearer and DPoP both accepted.
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Requires server-provided nonces (RFC 9449 §9): a proof must carry a recent nonce from
    /// `nonces`, else the request is answered `use_dpop_nonce` with a fresh one.
    #[must_use]
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The accepted algorithms.
    #[must_use]
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The accepted algorithms as the `algs` challenge parameter and the metadata list name
    /// them.
    #[must_use]
    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.algorithms.iter().map(|&alg| alg_name(alg)).collect()
    }

    /// The `iat` window.
    #[must_use]
    pub fn iat_window(&self) -> Duration {
        self.window
    }

    /// Whether bearer tokens are refused.
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The server's nonces, when it requires them.
    #[must_use]
    pub fn nonce_source(&self) -> Option<&DpopNonces> {
        self.nonces.as_ref()
    }
}

/// The JOSE name of an asymmetric algorithm.
pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        _ => "unknown",
    }
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The HTTP method, as sent (`POST`).
    pub method: &'a str,
    /// The request's URI as the client addressed it: its public URI behind a proxy. Compared
    /// with `htu` in normal form, without query or fragment.
    pub uri: &'a str,
    /// The access token sent with the proof, whose hash `ath` must be; `None` at a token
    /// endpoint, where there is no token yet.
    pub access_token: Option<&'a str>,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// A proof that passed every check [`verify_proof`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what a bound token's
    /// `cnf.jkt` must be.
    pub thumbprint: String,
    /// The proof's unique id, to be seen once within the window.
    pub jti: String,
    /// When the client made the proof (seconds since the epoch).
    pub issued_at: u64,
    /// The server nonce the proof carries.
    pub nonce: Option<String>,
}

/// Why a proof was refused. [`ProofError::reason`] is stable, for logs and metrics; the
/// `Display` text is safe to send as `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// No `DPoP` header.
    #[error("the request has no DPoP proof")]
    Missing,
    /// More than one `DPoP` header.
    #[error("the request has more than one DPoP proof")]
    Multiple,
    /// Not a compact JWS whose header and payload are JSON objects, or too large.
    #[error("the DPoP proof is malformed")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ is not dpop+jwt")]
    Type,
    /// `alg` is not an accepted asymmetric algorithm.
    #[error("the DPoP proof's signing algorithm is not accepted")]
    Algorithm,
    /// The header's `jwk` is missing, holds private key parts, or does not fit `alg`.
    #[error("the DPoP proof's jwk is not a usable public key")]
    Key,
    /// The header lists a critical extension this server does not understand.
    #[error("the DPoP proof uses an unsupported critical header")]
    Critical,
    /// The signature does not verify with the header's key.
    #[error("the DPoP proof's signature is invalid")]
    Signature,
    /// A required claim is missing or of the wrong type.
    #[error("the DPoP proof's claims are invalid")]
    Claims,
    /// `htm` is not the request's method.
    #[error("the DPoP proof is for another HTTP method (htm)")]
    Method,
    /// `htu` is not the request's URI.
    #[error("the DPoP proof is for another URI (htu)")]
    Uri,
    /// `iat` is outside the window around now.
    #[error("the DPoP proof was not issued recently (iat)")]
    IssuedAt,
    /// `ath` is not the hash of the access token sent.
    #[error("the DPoP proof is for another access token (ath)")]
    TokenHash,
    /// The proof's key is not the key the token is bound to.
    #[error("the DPoP proof's key is not the key the access token is bound to")]
    KeyMismatch,
    /// The proof's `jti` was seen before within the window.
    #[error("the DPoP proof was used before (jti)")]
    Replayed,
    /// The server requires a nonce and the proof has none, or an old one (RFC 9449 §9: answered
    /// `use_dpop_nonce` with a fresh `DPoP-Nonce`).
    #[error("the DPoP proof must carry the server's current nonce")]
    Nonce,
}

impl ProofError {
    /// A stable name for logs and metrics.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "dpop_missing",
            Self::Multiple => "dpop_multiple",
            Self::Malformed => "dpop_malformed",
            Self::Type => "dpop_type",
            Self::Algorithm => "dpop_algorithm",
            Self::Key => "dpop_key",
            Self::Critical => "dpop_critical_header",
            Self::Signature => "dpop_signature",
            Self::Claims => "dpop_claims",
            Self::Method => "dpop_htm",
            Self::Uri => "dpop_htu",
            Self::IssuedAt => "dpop_iat",
            Self::TokenHash => "dpop_ath",
            Self::KeyMismatch => "dpop_key_mismatch",
            Self::Replayed => "dpop_replayed",
            Self::Nonce => "dpop_nonce",
        }
    }

    /// The RFC 9449 error code: `use_dpop_nonce` for a missing or stale nonce,
    /// `invalid_dpop_proof` for everything else.
    #[must_use]
    pub fn error_code(self) -> &'static str {
        match self {
            Self::Nonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// A proof's JOSE header, as far as the checks read it. Each member is named once (serde
/// refuses a duplicate); an unknown one is ignored.
#[derive(Deserialize)]
struct ProofHeader<'a> {
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    jwk: Option<ProofJwk<'a>>,
    /// Whether `crit` is there at all (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// The header's `jwk`: the public members a key type needs, and whether any private (or
/// symmetric) member is there.
#[derive(Deserialize)]
struct ProofJwk<'a> {
    #[serde(borrow)]
    kty: Cow<'a, str>,
    #[serde(borrow)]
    crv: Option<Cow<'a, str>>,
    #[serde(borrow)]
    x: Option<Cow<'a, str>>,
    #[serde(borrow)]
    y: Option<Cow<'a, str>>,
    #[serde(borrow)]
    n: Option<Cow<'a, str>>,
    #[serde(borrow)]
    e: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    oth: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

/// A proof's claims, as far as the checks read them.
#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htu: Option<Cow<'a, str>>,
    iat: Option<Value>,
    #[serde(borrow)]
    ath: Option<Cow<'a, str>>,
    nonce: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

/// A [`ProofJwk`]'s key: its material for `alg` and its RFC 7638 thumbprint. `None` for a key
/// with a private or symmetric member, of an unknown type, or without the members its type
/// needs (RFC 9449 §4.3 check 7).
fn proof_key(jwk: &ProofJwk<'_>, alg: Algorithm) -> Option<(PublicKey, String)> {
    let members = required_members(jwk)?;
    let curve = |crv: &str| match crv {
        "P-256" => Some(EllipticCurve::P256),
        "P-384" => Some(EllipticCurve::P384),
        "P-521" => Some(EllipticCurve::P521),
        "Ed25519" => Some(EllipticCurve::Ed25519),
        _ => None,
    };
    let material = match members {
        [("crv", crv), ("kty", "EC"), ("x", x), ("y", y)] => KeyMaterial::Ec {
            curve: curve(crv)?,
            x,
            y,
        },
        [("e", e), ("kty", "RSA"), ("n", n), _] => KeyMaterial::Rsa { n, e },
        [("crv", crv), ("kty", "OKP"), ("x", x), _] => KeyMaterial::Okp {
            curve: curve(crv)?,
            x,
        },
        _ => return None,
    };
    let key = PublicKey::from_material(&material, &[alg]).ok()?;
    Some((key, thumbprint_of(&members)))
}

/// The members of a public JWK its RFC 7638 thumbprint is made of, in lexicographic order
/// (RFC 7638 §3.2; `("", "")` pads a key type with three). `None` for a key with a private or
/// symmetric member, of an unknown type, or without the members its type needs.
fn required_members<'j>(jwk: &'j ProofJwk<'_>) -> Option<[(&'static str, &'j str); 4]> {
    if jwk.d || jwk.p || jwk.q || jwk.dp || jwk.dq || jwk.qi || jwk.oth || jwk.k {
        return None;
    }
    fn member<'m>(m: &'m Option<Cow<'_, str>>) -> Option<&'m str> {
        m.as_deref()
    }
    Some(match &*jwk.kty {
        "EC" => [
            ("crv", member(&jwk.crv)?),
            ("kty", "EC"),
            ("x", member(&jwk.x)?),
            ("y", member(&jwk.y)?),
        ],
        "RSA" => [
            ("e", member(&jwk.e)?),
            ("kty", "RSA"),
            ("n", member(&jwk.n)?),
            ("", ""),
        ],
        "OKP" => [
            ("crv", member(&jwk.crv)?),
            ("kty", "OKP"),
            ("x", member(&jwk.x)?),
            ("", ""),
        ],
        _ => return None,
    })
}

/// The RFC 7638 SHA-256 thumbprint of a key's required members (`(name, value)` in
/// lexicographic order; an empty name ends the list), base64url.
fn thumbprint_of(members: &[(&str, &str)]) -> String {
    let mut canonical = String::with_capacity(512);
    canonical.push('{');
    for (i, (name, value)) in members.iter().filter(|(n, _)| !n.is_empty()).enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        json_string(&mut canonical, name);
        canonical.push(':');
        json_string(&mut canonical, value);
    }
    canonical.push('}');
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// `value` as a JSON string, as RFC 7638 §3 writes it (no whitespace, the shortest escapes).
fn json_string(out: &mut String, value: &str) {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        out.push_str(&Value::from(value).to_string());
    }
}

/// The one proof among the values of a request's `DPoP` headers (RFC 9449 §4.3 check 1):
/// `None` without any, [`ProofError::Multiple`] for more than one, [`ProofError::Malformed`]
/// for one that is not visible ASCII.
pub fn one_proof<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Result<Option<&'a str>, ProofError> {
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(ProofError::Multiple),
        (Some(one), None) => one
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
            .then(|| std::str::from_utf8(one).ok())
            .flatten()
            .map(Some)
            .ok_or(ProofError::Malformed),
    }
}

/// Checks `proof` (one `DPoP` header's value) for `target` under `config`: RFC 9449 §4.3
/// checks 2 to 11 and, with a token, 12 (`ath`). Returns the proof's key thumbprint and `jti`
/// for the checks that need state: the `jti` seen once, and the token's `cnf.jkt`.
pub fn verify_proof(
    proof: &str,
    config: &DpopConfig,
    target: &ProofTarget<'_>,
) -> Result<Proof, ProofError> {
    verify_with(proof, config, target, None)
}

/// [`verify_proof`], with what a proof's header decides kept in `keys` for the next proof with
/// the same header (a client's proofs all have the same): the same checks, each proof's
/// signature verified, the header's parse and the key's made once.
pub fn verify_proof_cached(
    proof: &str,
    config: &DpopConfig,
    target: &ProofTarget<'_>,
    keys: &ProofKeys,
) -> Result<Proof, ProofError> {
    verify_with(proof, config, target, Some(keys))
}

fn verify_with(
    proof: &str,
    config: &DpopConfig,
    target: &ProofTarget<'_>,
    keys: Option<&ProofKeys>,
) -> Result<Proof, ProofError> {
    // Check 2: one well-formed compact JWS.
    if proof.len() > MAX_PROOF_BYTES || proof.bytes().filter(|&b| b == b'.').count() != 2 {
        return Err(ProofError::Malformed);
    }
    let header_segment = proof.split('.').next().unwrap_or_default();
    // A header seen before was judged under an algorithm list that may not be this one's.
    let (key, known) = match keys.and_then(|keys| keys.get(header_segment)) {
        Some(key) if config.algorithms.contains(&key.alg) => (key, true),
        _ => (Arc::new(header_key(header_segment, config)?), false),
    };
    // Check 6: the signature, before any claim is believed.
    let payload = key
        .key
        .verify(proof, key.alg)
        .map_err(|_| ProofError::Signature)?;
    if let Some(keys) = keys
        && !known
    {
        keys.remember(header_segment, Arc::clone(&key));
    }
    let payload_bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ProofError::Malformed)?;
    let claims: ProofClaims<'_> =
        serde_json::from_slice(&payload_bytes).map_err(|_| ProofError::Malformed)?;
    check_claims(&claims, config, target).map(|(jti, issued_at, nonce)| Proof {
        thumbprint: key.thumbprint.clone(),
        jti,
        issued_at,
        nonce,
    })
}

/// What a proof's header decides (RFC 9449 §4.3 checks 2, 4, 5 and 7): a JSON object, `typ`
/// `dpop+jwt`, an accepted asymmetric `alg`, no `crit`, a public `jwk` fit for `alg`.
fn header_key(header_segment: &str, config: &DpopConfig) -> Result<ProofKey, ProofError> {
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_segment)
        .map_err(|_| ProofError::Malformed)?;
    let header: ProofHeader<'_> =
        serde_json::from_slice(&header_bytes).map_err(|_| ProofError::Malformed)?;
    // Check 4: the type, compared as a media type (any case, `application/` optional).
    let typ = header.typ.as_deref();
    if !typ.is_some_and(|t| {
        let t = t.strip_prefix("application/").unwrap_or(t);
        t.eq_ignore_ascii_case("dpop+jwt")
    }) {
        return Err(ProofError::Type);
    }
    // Check 5: an accepted asymmetric algorithm (never `none`, never HMAC).
    let alg = header
        .alg
        .as_deref()
        .and_then(|name| name.parse::<Algorithm>().ok())
        .filter(|alg| config.algorithms.contains(alg))
        .ok_or(ProofError::Algorithm)?;
    if header.crit {
        return Err(ProofError::Critical);
    }
    // Check 7: a public key, and nothing private, in the header.
    let jwk = header.jwk.as_ref().ok_or(ProofError::Key)?;
    let (key, thumbprint) = proof_key(jwk, alg).ok_or(ProofError::Key)?;
    Ok(ProofKey {
        alg,
        key,
        thumbprint,
    })
}

/// Checks 3 and 8 to 12 on a proof's verified claims: `jti`, `htm`, `htu`, `iat`, `ath` and the
/// nonce's presence (its value is the transport's to judge, with the server's key).
fn check_claims(
    claims: &ProofClaims<'_>,
    config: &DpopConfig,
    target: &ProofTarget<'_>,
) -> Result<(String, u64, Option<String>), ProofError> {
    let jti = claims
        .jti
        .as_deref()
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or(ProofError::Claims)?;
    let htm = claims.htm.as_deref().ok_or(ProofError::Claims)?;
    let htu = claims.htu.as_deref().ok_or(ProofError::Claims)?;
    let iat = claims
        .iat
        .as_ref()
        .and_then(|iat| {
            iat.as_u64().or_else(|| {
                iat.as_f64()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(|s| s as u64)
            })
        })
        .ok_or(ProofError::Claims)?;
    let nonce = match &claims.nonce {
        None => None,
        Some(Value::String(nonce)) => Some(nonce.clone()),
        Some(_) => return Err(ProofError::Claims),
    };
    // Check 8: the method, exactly (RFC 9110 §9.1: methods are case-sensitive).
    if htm != target.method {
        return Err(ProofError::Method);
    }
    // Check 9: the URI, both in normal form, without query and fragment (the same string has
    // the same normal form: clients send the resource's URI as it was given to them).
    if htu != target.uri {
        match (htu_form(htu), htu_form(target.uri)) {
            (Some(sent), Some(expected)) if sent == expected => {}
            _ => return Err(ProofError::Uri),
        }
    }
    // Check 11: issued within the window, either way.
    let window = config.window.as_secs();
    if iat.abs_diff(target.now) > window {
        return Err(ProofError::IssuedAt);
    }
    // Check 12: the hash of the token this proof goes with.
    if let Some(token) = target.access_token {
        let ath = claims.ath.as_deref().ok_or(ProofError::TokenHash)?;
        if ath != token_hash(token) {
            return Err(ProofError::TokenHash);
        }
    }
    // Check 10: a nonce the server asked for (its value is judged with the server's key).
    if config.nonces.is_some() && nonce.is_none() {
        return Err(ProofError::Nonce);
    }
    Ok((jti.to_owned(), iat, nonce))
}

/// `uri` as `htu` is compared (RFC 9449 §4.3 check 9, RFC 3986 §6.2.2 and §6.2.3): an absolute
/// `http`/`https` URI, scheme and host in lower case, the default port dropped, escapes in
/// normal form, dot segments removed, without query, fragment or user info, and without a
/// trailing `/` (the resource's canonical form has none). `None` for anything else.
pub(crate) fn htu_form(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    url.set_username("").ok()?;
    url.set_password(None).ok()?;
    let normal = crate::uri::normalize_uri(url.as_str())?.into_owned();
    Some(normal.trim_end_matches('/').to_owned())
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
#[must_use]
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url; `None` when `jwk` is not an
/// object of a known key type with its required members as strings, or holds any private or
/// symmetric key part (RFC 9449 §4.3 check 7).
#[must_use]
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let jwk = ProofJwk::deserialize(jwk).ok()?;
    Some(thumbprint_of(&required_members(&jwk)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        // Members beyond the required ones change nothing; private parts refuse the key.
        let mut private = jwk.clone();
        private["d"] = "secret".into();
        assert_eq!(thumbprint(&private), None);
        let oct = serde_json::json!({"kty": "oct", "k": "c2VjcmV0"});
        assert_eq!(thumbprint(&oct), None);
        assert_eq!(
            thumbprint(&serde_json::json!({"kty": "EC", "x": "a"})),
            None
        );
        assert_eq!(thumbprint(&serde_json::json!("EC")), None);
    }

    #[test]
    fn htu_is_compared_in_normal_form_without_query_or_fragment() {
        let same = [
            "https://MCP.Example.com/mcp",
            "https://mcp.example.com:443/mcp",
            "HTTPS://mcp.example.com/mcp?x=1#f",
            "https://mcp.example.com/a/../mcp",
            "https://mcp.example.com/%6dcp",
            "https://mcp.example.com/mcp/",
        ];
        for uri in same {
            assert_eq!(
                htu_form(uri).as_deref(),
                Some("https://mcp.example.com/mcp"),
                "{uri}"
            );
        }
        assert_ne!(
            htu_form("http://mcp.example.com/mcp"),
            htu_form("https://mcp.example.com/mcp")
        );
        assert_ne!(
            htu_form("https://mcp.example.com:8443/mcp"),
            htu_form("https://mcp.example.com/mcp")
        );
        assert_eq!(htu_form("/mcp"), None);
        assert_eq!(htu_form("urn:x:y"), None);
    }

    #[test]
    fn token_hash_is_the_base64url_sha256() {
        // RFC 9449 §7.1's example token and its `ath`.
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    /// A P-256 key and proofs signed with it, as a client makes them.
    struct Client {
        pair: aws_lc_rs::signature::EcdsaKeyPair,
        jwk: Value,
    }

    impl Client {
        fn new() -> Self {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("a key");
            let point = pair.public_key().as_ref().to_vec();
            let jwk = serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            });
            Self { pair, jwk }
        }

        fn proof(&self, jti: &str, now: u64) -> String {
            let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
            let claims = serde_json::json!({
                "jti": jti, "htm": "POST", "htu": "https://rs.example/mcp", "iat": now,
                "ath": token_hash("token"),
            });
            let message = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let signature = self.pair.sign(&rng, message.as_bytes()).expect("signs");
            format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        }
    }

    fn target(now: u64) -> ProofTarget<'static> {
        ProofTarget {
            method: "POST",
            uri: "https://rs.example/mcp",
            access_token: Some("token"),
            now,
        }
    }

    #[test]
    fn a_cached_header_still_has_each_proofs_signature_checked() {
        let now = 1_767_225_600;
        let (client, config, keys) = (Client::new(), DpopConfig::new(), ProofKeys::new(8));
        let first = verify_proof_cached(&client.proof("a", now), &config, &target(now), &keys)
            .expect("verifies");
        assert_eq!(keys.len(), 1, "the header's key is kept");
        assert_eq!(Some(first.thumbprint.clone()), thumbprint(&client.jwk));
        let second = verify_proof_cached(&client.proof("b", now), &config, &target(now), &keys)
            .expect("verifies");
        assert_eq!(
            (second.thumbprint, second.jti.as_str()),
            (first.thumbprint, "b")
        );
        assert_eq!(keys.len(), 1);
        // The same header with another signature: the key is known, the signature is not.
        let proof = client.proof("c", now);
        let (message, _) = proof.rsplit_once('.').unwrap();
        let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        assert_eq!(
            verify_proof_cached(&forged, &config, &target(now), &keys),
            Err(ProofError::Signature)
        );
        // A known header under a configuration that no longer accepts its algorithm.
        let eddsa_only = DpopConfig::new().algorithms([Algorithm::EdDSA]);
        assert_eq!(
            verify_proof_cached(&client.proof("d", now), &eddsa_only, &target(now), &keys),
            Err(ProofError::Algorithm)
        );
        // A header that failed is not kept; a full cache starts again.
        let tiny = ProofKeys::new(1);
        let other = Client::new();
        verify_proof_cached(&client.proof("e", now), &config, &target(now), &tiny).unwrap();
        verify_proof_cached(&other.proof("f", now), &config, &target(now), &tiny).unwrap();
        assert_eq!(tiny.len(), 1);
        assert_eq!(
            verify_proof(&other.proof("g", now), &config, &target(now + 301)),
            Err(ProofError::IssuedAt)
        );
    }

    #[test]
    fn a_request_has_one_proof_of_visible_ascii_or_none() {
        assert_eq!(one_proof(std::iter::empty()), Ok(None));
        assert_eq!(one_proof([&b"a.b.c"[..]].into_iter()), Ok(Some("a.b.c")));
        assert_eq!(
            one_proof([&b"a.b.c"[..], b"d.e.f"].into_iter()),
            Err(ProofError::Multiple)
        );
        for bad in [&b"a.b\x00.c"[..], b"a.\xc3\xa9.c", b"a\x7f"] {
            assert_eq!(one_proof([bad].into_iter()), Err(ProofError::Malformed));
        }
    }

    #[test]
    fn only_asymmetric_algorithms_are_configured() {
        let config = DpopConfig::new().algorithms([Algorithm::HS256, Algorithm::ES256]);
        assert_eq!(config.accepted_algorithms(), &[Algorithm::ES256]);
        let config = DpopConfig::new().algorithms([Algorithm::HS256]);
        assert_eq!(
            config.accepted_algorithms(),
            DpopConfig::new().accepted_algorithms()
        );
        assert_eq!(
            DpopConfig::new().algorithm_names(),
            ["ES256", "ES384", "EdDSA", "PS256", "RS256"]
        );
    }
}
