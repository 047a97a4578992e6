//! The verification core of [`super::JwtVerifier`]: JWS signatures checked with public keys
//! parsed once, when the key set is loaded, and the claims of an RFC 9068 access token checked
//! in one pass over one parse.
//!
//! jsonwebtoken (which parses the JWKs here) rebuilds the public key from the JWK's integers on
//! every verify and deserialises the claims twice; an access token is verified on every request
//! it is first seen on, so that work is done here once per key instead. The checks and their
//! order follow RFC 7515 (JWS), RFC 7519 (JWT) and RFC 9068 (access tokens).

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::claims::{binding_fits, key_binding};
use super::steps::TokenCheck;
use super::verifier::AuthError;
use crate::challenge::AuthScheme;
use crate::principal::KeyBinding;

/// A public key, parsed for each algorithm it may verify.
pub(super) struct PublicKey {
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

/// The material of a public key as a JWK's members give it (base64url strings).
pub(super) enum KeyMaterial<'a> {
    /// `kty: RSA`: the modulus and the exponent.
    Rsa { n: &'a str, e: &'a str },
    /// `kty: EC`: the curve and the point.
    Ec {
        curve: EllipticCurve,
        x: &'a str,
        y: &'a str,
    },
    /// `kty: OKP`: the curve and the key.
    Okp { curve: EllipticCurve, x: &'a str },
}

impl PublicKey {
    /// Parses `jwk` for each of `algorithms` its key type can serve (all of them must belong to
    /// the key's family). Errors name what is wrong with the key material.
    pub(super) fn from_jwk(jwk: &Jwk, algorithms: &[Algorithm]) -> Result<Self, &'static str> {
        let material = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => KeyMaterial::Rsa {
                n: &rsa.n,
                e: &rsa.e,
            },
            AlgorithmParameters::EllipticCurve(ec) => KeyMaterial::Ec {
                curve: ec.curve.clone(),
                x: &ec.x,
                y: &ec.y,
            },
            AlgorithmParameters::OctetKeyPair(okp) => KeyMaterial::Okp {
                curve: okp.curve.clone(),
                x: &okp.x,
            },
            _ => return Err("no accepted algorithm fits the key"),
        };
        Self::from_material(&material, algorithms)
    }

    /// Parses `material` for each of `algorithms` its key type can serve.
    pub(super) fn from_material(
        material: &KeyMaterial<'_>,
        algorithms: &[Algorithm],
    ) -> Result<Self, &'static str> {
        let mut parsed = Vec::new();
        for &alg in algorithms {
            let Some(verification) = verification_algorithm(alg) else {
                continue;
            };
            let bytes = match (material, alg) {
                (
                    KeyMaterial::Rsa { n, e },
                    Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512,
                ) => {
                    let n = URL_SAFE_NO_PAD.decode(n).map_err(|_| "bad modulus")?;
                    let e = URL_SAFE_NO_PAD.decode(e).map_err(|_| "bad exponent")?;
                    rsa_public_key_der(&n, &e)
                }
                (KeyMaterial::Ec { curve, x, y }, Algorithm::ES256 | Algorithm::ES384) => {
                    let size = match (curve, alg) {
                        (EllipticCurve::P256, Algorithm::ES256) => 32,
                        (EllipticCurve::P384, Algorithm::ES384) => 48,
                        // A curve that does not go with the algorithm: not for this one.
                        _ => continue,
                    };
                    let x = URL_SAFE_NO_PAD.decode(x).map_err(|_| "bad x")?;
                    let y = URL_SAFE_NO_PAD.decode(y).map_err(|_| "bad y")?;
                    if x.len() != size || y.len() != size {
                        return Err("EC coordinates of the wrong length");
                    }
                    // SEC 1 uncompressed point.
                    [&[0x04][..], &x, &y].concat()
                }
                (KeyMaterial::Okp { curve, x }, Algorithm::EdDSA)
                    if *curve == EllipticCurve::Ed25519 =>
                {
                    let x = URL_SAFE_NO_PAD.decode(x).map_err(|_| "bad x")?;
                    if x.len() != 32 {
                        return Err("Ed25519 key of the wrong length");
                    }
                    x
                }
                _ => continue,
            };
            let key =
                ParsedPublicKey::new(verification, bytes).map_err(|_| "unusable key material")?;
            parsed.push((alg, key));
        }
        if parsed.is_empty() {
            return Err("no accepted algorithm fits the key");
        }
        Ok(Self { parsed })
    }

    /// Whether the key can verify `alg` signatures.
    pub(super) fn supports(&self, alg: Algorithm) -> bool {
        self.parsed.iter().any(|(a, _)| *a == alg)
    }

    /// Checks the JWS signature of `token` (compact serialization, exactly two dots) under
    /// `alg`, and returns the base64url payload it covers.
    pub(super) fn verify<'t>(&self, token: &'t str, alg: Algorithm) -> Result<&'t str, AuthError> {
        let key = self
            .parsed
            .iter()
            .find_map(|(a, key)| (*a == alg).then_some(key))
            .ok_or(AuthError::Algorithm)?;
        let (message, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
        let (_, payload) = message.split_once('.').ok_or(AuthError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AuthError::Malformed)?;
        key.verify_sig(message.as_bytes(), &signature)
            .map_err(|_| AuthError::Signature)?;
        Ok(payload)
    }
}

fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

/// DER `RSAPublicKey` (RFC 8017 A.1.1): `SEQUENCE { INTEGER n, INTEGER e }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = der_integer(n);
    body.extend(der_integer(e));
    let mut out = vec![0x30];
    out.extend(der_length(body.len()));
    out.extend(body);
    out
}

fn der_integer(unsigned: &[u8]) -> Vec<u8> {
    let first = unsigned
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(unsigned.len());
    let digits = &unsigned[first..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    // Positive: a leading zero when the high bit is set; zero itself is one zero byte.
    if digits.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    let mut out = vec![0x02];
    out.extend(der_length(content.len()));
    out.extend(content);
    out
}

fn der_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => {
            let bytes = (len as u32).to_be_bytes();
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(3);
            let mut out = vec![0x80 | (4 - first) as u8];
            out.extend_from_slice(&bytes[first..]);
            out
        }
    }
}

/// Decodes a payload segment to its claims: a JSON object whose members are named once each
/// (a duplicated claim is ambiguous, and a parser that keeps the other copy would read another
/// token).
pub(super) fn claims(payload: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AuthError::Malformed)?;
    // UTF-8 throughout, not only in the strings the parser keeps (RFC 7519 §7.2).
    let text = std::str::from_utf8(&bytes).map_err(|_| AuthError::Malformed)?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let claims = deserializer
        .deserialize_map(UniqueMembers)
        .map_err(|_| AuthError::Malformed)?;
    deserializer.end().map_err(|_| AuthError::Malformed)?;
    Ok(claims)
}

struct UniqueMembers;

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&name) {
                return Err(serde::de::Error::custom("duplicate member"));
            }
            map.insert(name, value);
        }
        Ok(map)
    }
}

/// What the claims are checked against.
pub(super) struct Expected<'a> {
    pub(super) issuer: &'a str,
    pub(super) audience: &'a str,
    pub(super) leeway: u64,
    pub(super) now: u64,
    /// How the token was presented.
    pub(super) scheme: AuthScheme,
}

/// One claim check: `Ok` or the error the verifier answers.
pub(super) type ClaimCheck = fn(&Map<String, Value>, &Expected<'_>) -> Result<(), AuthError>;

/// The RFC 7519 / RFC 9068 claim checks of an access token, in the order they run: `exp`,
/// `iss` and `aud` required, `exp` exclusive, `nbf` and `iat` not in the future, `iss` exactly
/// the issuer (a string), `aud` naming this resource, `sub` a string. Each failure names the
/// claim at fault. Each check stands on its own (an explanation runs them all), but the
/// verifier stops at the first that fails.
pub(super) const CLAIM_CHECKS: [(TokenCheck, ClaimCheck); 9] = [
    (TokenCheck::RequiredClaims, required_claims),
    (TokenCheck::Dates, dates),
    (TokenCheck::Expiry, expiry),
    (TokenCheck::NotBefore, not_before),
    (TokenCheck::Issuer, issuer),
    (TokenCheck::Audience, audience),
    (TokenCheck::Subject, subject),
    (TokenCheck::Binding, binding),
    (TokenCheck::IssuedAt, issued_at),
];

fn present<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    claims.get(name).filter(|v| !v.is_null())
}

/// RFC 9068 §2.2: `exp`, `iss` and `aud` are required.
fn required_claims(claims: &Map<String, Value>, _: &Expected<'_>) -> Result<(), AuthError> {
    present(claims, "exp").ok_or(AuthError::Expired)?;
    present(claims, "iss").ok_or(AuthError::Issuer)?;
    present(claims, "aud").ok_or(AuthError::Audience)?;
    Ok(())
}

/// `exp` (rounded down) and `nbf` (rounded up: a fraction rounds towards refusal).
fn exp_and_nbf(claims: &Map<String, Value>) -> Result<(u64, Option<u64>), AuthError> {
    let exp = present(claims, "exp").ok_or(AuthError::Expired)?;
    let exp = numeric_date(exp, f64::floor).ok_or(AuthError::Claims)?;
    let nbf = match present(claims, "nbf") {
        Some(nbf) => Some(numeric_date(nbf, f64::ceil).ok_or(AuthError::Claims)?),
        None => None,
    };
    Ok((exp, nbf))
}

fn dates(claims: &Map<String, Value>, _: &Expected<'_>) -> Result<(), AuthError> {
    exp_and_nbf(claims).map(drop)
}

/// RFC 7519 §4.1.4: not accepted on or after `exp`.
fn expiry(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    let (exp, _) = exp_and_nbf(claims)?;
    if expected.now >= exp.saturating_add(expected.leeway) {
        return Err(AuthError::Expired);
    }
    Ok(())
}

fn not_before(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    let (_, nbf) = exp_and_nbf(claims)?;
    if nbf.is_some_and(|nbf| nbf > expected.now.saturating_add(expected.leeway)) {
        return Err(AuthError::NotYetValid);
    }
    Ok(())
}

/// RFC 9068 §4: the issuer identifier, exactly (a list of issuers is not one).
fn issuer(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    match present(claims, "iss") {
        Some(Value::String(iss)) if iss == expected.issuer => Ok(()),
        None | Some(Value::String(_) | Value::Array(_)) => Err(AuthError::Issuer),
        Some(_) => Err(AuthError::Claims),
    }
}

/// RFC 7519 §4.1.3: this resource must be one of the audiences.
fn audience(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    match present(claims, "aud") {
        Some(Value::String(aud)) if aud == expected.audience => Ok(()),
        None | Some(Value::String(_)) => Err(AuthError::Audience),
        Some(Value::Array(auds)) => {
            if !auds.iter().all(Value::is_string) {
                return Err(AuthError::Claims);
            }
            if !auds.iter().any(|a| a.as_str() == Some(expected.audience)) {
                return Err(AuthError::Audience);
            }
            Ok(())
        }
        Some(_) => Err(AuthError::Claims),
    }
}

/// RFC 9068 §2.2: `sub` is required; sessions are bound to it.
fn subject(claims: &Map<String, Value>, _: &Expected<'_>) -> Result<(), AuthError> {
    if !claims.get("sub").is_some_and(Value::is_string) {
        return Err(AuthError::Claims);
    }
    Ok(())
}

/// RFC 7800 `cnf`: a token bound to a key (DPoP, RFC 9449; mutual TLS, RFC 8705) is only good
/// with a proof of that key, which a bearer request does not carry; a DPoP request's token must
/// be bound to a DPoP key (`cnf.jkt`, RFC 9449 §6.1), whose thumbprint the proof's key must have.
fn binding(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    // A malformed `cnf` still binds the token to something no request can prove.
    let binding = key_binding(claims).unwrap_or(KeyBinding::Other);
    binding_fits(&binding, expected.scheme)
}

/// `iat` in the future (beyond the leeway) means a forged or badly clocked token.
fn issued_at(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), AuthError> {
    if let Some(iat) = claims.get("iat") {
        let iat = iat.as_f64().ok_or(AuthError::Claims)?;
        if iat > (expected.now.saturating_add(expected.leeway)) as f64 {
            return Err(AuthError::NotYetValid);
        }
    }
    Ok(())
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, a non-negative number; a fraction is
/// rounded by `round` (`f64::floor` or `f64::ceil`).
fn numeric_date(value: &Value, round: fn(f64) -> f64) -> Option<u64> {
    if let Some(seconds) = value.as_u64() {
        return Some(seconds);
    }
    let seconds = value.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0 && seconds < u64::MAX as f64)
        .then(|| round(seconds) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        assert_eq!(
            der_integer(&[0x01, 0x00, 0x01]),
            [0x02, 0x03, 0x01, 0x00, 0x01]
        );
        assert_eq!(der_integer(&[0x00, 0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_integer(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(der_length(0x7f), [0x7f]);
        assert_eq!(der_length(0x80), [0x81, 0x80]);
        assert_eq!(der_length(0x101), [0x82, 0x01, 0x01]);
    }

    #[test]
    fn duplicated_claims_are_malformed() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1,"exp":2}"#);
        assert_eq!(claims(&payload), Err(AuthError::Malformed));
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1} trailing"#);
        assert_eq!(claims(&payload), Err(AuthError::Malformed));
        let payload = URL_SAFE_NO_PAD.encode(br#"[1]"#);
        assert_eq!(claims(&payload), Err(AuthError::Malformed));
        let payload = URL_SAFE_NO_PAD.encode(b"{\"exp\":1,\"x\":\"\xff\"}");
        assert_eq!(claims(&payload), Err(AuthError::Malformed));
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1,"sub":"a"}"#);
        assert_eq!(claims(&payload).map(|c| c.len()), Ok(2));
    }

    #[test]
    fn numeric_dates_are_non_negative_numbers() {
        let date = |v| numeric_date(&v, f64::floor);
        assert_eq!(date(serde_json::json!(5)), Some(5));
        assert_eq!(date(serde_json::json!(5.6)), Some(5));
        assert_eq!(numeric_date(&serde_json::json!(5.2), f64::ceil), Some(6));
        assert_eq!(date(serde_json::json!(-1)), None);
        assert_eq!(date(serde_json::json!("5")), None);
        assert_eq!(date(serde_json::json!(1e300)), None);
    }
}
