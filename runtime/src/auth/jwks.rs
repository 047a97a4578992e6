//! A JWK set (RFC 7517 §5), parsed into the keys [`super::JwtVerifier`] verifies with, and what
//! tells two key sets apart.
//!
//! A key's identity is its `kid`, the algorithm it is restricted to and its key material (RFC
//! 7517 §4, RFC 7518 §6), not the JSON it came in: an issuer that reorders members, adds an
//! `x5c` or rewrites its JSON serves the same keys, and the tokens they verified stay verified.
//!
//! Keys should have distinct `kid`s, but may share one when they are "equivalent alternatives"
//! of different key types (RFC 7517 §4.5): all of them are kept, and the token's `alg` picks
//! one. Two keys under one `kid` that could both verify some algorithm (same type, `alg`
//! restrictions that overlap) make the `kid` ambiguous: the later one is used and the earlier
//! one ignored, as if withdrawn, so that a key set is exactly the keys a token can reach and a
//! key shadowed this way no longer vouches for the tokens it verified.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use serde_json::Value;

use super::jws::PublicKey;
use crate::fetch::FetchError;

/// What identifies a key: the SHA-256 of its `kid`, `alg` and key material.
pub(super) type KeyId = [u8; 32];

/// One fetched JWKS, ready to verify with.
pub(super) struct KeySet {
    /// The keys under each `kid`: one per key type (or per disjoint `alg` restriction).
    pub(super) by_kid: HashMap<String, Vec<Arc<VerifyKey>>>,
    /// Every key a token can reach, by its `kid` or without one.
    pub(super) all: Vec<Arc<VerifyKey>>,
    pub(super) expires: Option<Instant>,
    pub(super) generation: u64,
}

/// A key fit for verifying signatures.
pub(super) struct VerifyKey {
    /// The JWK's `alg`, when it names one: the key may then be used with that algorithm only.
    pub(super) alg: Option<Algorithm>,
    pub(super) family: Family,
    pub(super) key: PublicKey,
    /// Its identity, to tell whether a new key set still holds it.
    pub(super) id: KeyId,
}

/// The key types a JWKS may hold for signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Rsa,
    Ec,
    Ed,
}

/// The family of keys that can verify `alg` (`None`: not an asymmetric signature algorithm).
pub(super) fn family_of(alg: Algorithm) -> Option<Family> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(Family::Rsa),
        ES256 | ES384 => Some(Family::Ec),
        EdDSA => Some(Family::Ed),
        _ => None,
    }
}

impl KeySet {
    pub(super) fn empty() -> Self {
        Self {
            by_kid: HashMap::new(),
            all: Vec::new(),
            expires: None,
            generation: 0,
        }
    }

    pub(super) fn loaded(&self) -> bool {
        self.generation > 0
    }

    /// Keeps the keys of `body` fit for verifying `algorithms` (RSA ones of `min_rsa_bits` or
    /// more); drops (and logs) the rest. A set with no usable key is an error.
    pub(super) fn parse(
        body: &Value,
        algorithms: &[Algorithm],
        min_rsa_bits: usize,
    ) -> Result<Self, FetchError> {
        let keys = body
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| FetchError::Invalid("not a JWK set (no \"keys\" array)".into()))?;
        let mut set = Self::empty();
        for raw in keys {
            match usable_key(raw, algorithms, min_rsa_bits) {
                Ok((kid, key)) => {
                    let key = Arc::new(key);
                    if let Some(kid) = kid {
                        let group = set.by_kid.entry(kid).or_default();
                        if let Some(at) = group.iter().position(|k| k.overlaps(&key)) {
                            // An ambiguous `kid`: the later key is used, the earlier dropped
                            // from `all` too, so a refresh sees it withdrawn.
                            let shadowed = group.remove(at);
                            set.all.retain(|k| !Arc::ptr_eq(k, &shadowed));
                            let kid = raw.get("kid").and_then(Value::as_str);
                            tracing::warn!(target: "scopegate::auth", event = "jwks_duplicate_kid", kid, "the JWK set holds two keys of one type under this kid; using the later one");
                        }
                        group.push(Arc::clone(&key));
                    }
                    set.all.push(key);
                }
                Err(why) => {
                    let kid = raw.get("kid").and_then(Value::as_str);
                    tracing::debug!(target: "scopegate::auth", kid, why, "ignoring a JWK");
                }
            }
        }
        if set.all.is_empty() {
            return Err(FetchError::Invalid(
                "the JWK set has no usable signing key".into(),
            ));
        }
        Ok(set)
    }

    /// The keys of this set that `next` no longer holds (withdrawn, or changed under the same
    /// `kid`): what they verified must be checked again. Empty when `next` holds every key of
    /// this one, whatever it added.
    pub(super) fn withdrawn_in(&self, next: &KeySet) -> HashSet<KeyId> {
        let kept: HashSet<KeyId> = next.all.iter().map(|k| k.id).collect();
        self.all
            .iter()
            .map(|k| k.id)
            .filter(|id| !kept.contains(id))
            .collect()
    }
}

/// A key's `kid` and whether a verifier uses it (or why not).
pub(crate) type KeyVerdict = (Option<String>, Result<(), &'static str>);

/// What a verifier with these settings makes of each key of `body`, in order: its `kid` and
/// `Ok`, or why it is ignored (the same test [`KeySet::parse`] applies). `None`: not a JWK set.
pub(crate) fn key_verdicts(
    body: &Value,
    algorithms: &[Algorithm],
    min_rsa_bits: usize,
) -> Option<Vec<KeyVerdict>> {
    let keys = body.get("keys").and_then(Value::as_array)?;
    Some(
        keys.iter()
            .map(|raw| {
                let kid = raw.get("kid").and_then(Value::as_str).map(str::to_owned);
                (kid, usable_key(raw, algorithms, min_rsa_bits).map(drop))
            })
            .collect(),
    )
}

fn usable_key(
    raw: &Value,
    algorithms: &[Algorithm],
    min_rsa_bits: usize,
) -> Result<(Option<String>, VerifyKey), &'static str> {
    let jwk: Jwk = serde_json::from_value(raw.clone()).map_err(|_| "unparsable")?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("not a signing key (use)");
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops
            .iter()
            .any(|op| matches!(op, jsonwebtoken::jwk::KeyOperations::Verify))
    {
        return Err("not a verification key (key_ops)");
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD.decode(&rsa.n).map_err(|_| "bad modulus")?;
            if rsa_bits(&modulus) < min_rsa_bits {
                return Err("RSA key too short");
            }
            Family::Rsa
        }
        AlgorithmParameters::EllipticCurve(_) => Family::Ec,
        AlgorithmParameters::OctetKeyPair(_) => Family::Ed,
        _ => return Err("not an asymmetric signing key"),
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => {
            let alg = signing_algorithm(alg).ok_or("not a signing algorithm")?;
            if family_of(alg) != Some(family) {
                return Err("alg does not match the key type");
            }
            Some(alg)
        }
    };
    // Parsed once, now, for each algorithm it may verify (its own `alg`, or every accepted
    // algorithm of its family).
    let algorithms: Vec<Algorithm> = match alg {
        Some(alg) => vec![alg],
        None => algorithms
            .iter()
            .copied()
            .filter(|a| family_of(*a) == Some(family))
            .collect(),
    };
    let key = PublicKey::from_jwk(&jwk, &algorithms)?;
    let kid = jwk.common.key_id.clone();
    let id = key_id(kid.as_deref(), alg, &jwk.algorithm)?;
    Ok((
        kid,
        VerifyKey {
            alg,
            family,
            key,
            id,
        },
    ))
}

/// The identity of a key: its `kid`, its `alg` restriction and its key material, decoded (RFC
/// 7518 §6.2.1, §6.3.1; RFC 8037 §2), each length-prefixed so that no two keys run together.
/// Leading zero octets of RSA integers are dropped: they do not change the key.
fn key_id(
    kid: Option<&str>,
    alg: Option<Algorithm>,
    params: &AlgorithmParameters,
) -> Result<KeyId, &'static str> {
    let decode = |b64: &str| URL_SAFE_NO_PAD.decode(b64).map_err(|_| "bad key material");
    let unsigned = |mut bytes: Vec<u8>| {
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        bytes.drain(..zeros);
        bytes
    };
    let mut parts: Vec<Vec<u8>> = vec![
        kid.map_or_else(Vec::new, |k| [b"kid:", k.as_bytes()].concat()),
        alg.map_or_else(Vec::new, |a| format!("{a:?}").into_bytes()),
    ];
    match params {
        AlgorithmParameters::RSA(rsa) => {
            parts.push(b"RSA".to_vec());
            parts.push(unsigned(decode(&rsa.n)?));
            parts.push(unsigned(decode(&rsa.e)?));
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            parts.push(format!("EC {:?}", ec.curve).into_bytes());
            parts.push(decode(&ec.x)?);
            parts.push(decode(&ec.y)?);
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            parts.push(format!("OKP {:?}", okp.curve).into_bytes());
            parts.push(decode(&okp.x)?);
        }
        _ => return Err("not an asymmetric signing key"),
    }
    let mut hash = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in &parts {
        hash.update(&(part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let mut id = [0; 32];
    id.copy_from_slice(hash.finish().as_ref());
    Ok(id)
}

impl VerifyKey {
    /// Whether this key and `other` could both verify some algorithm: the same key type, and
    /// `alg` restrictions that do not exclude each other.
    fn overlaps(&self, other: &VerifyKey) -> bool {
        self.family == other.family
            && match (self.alg, other.alg) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Whether a token signed with `alg` may be verified with this key (its type and `alg`).
    fn fits(&self, alg: Algorithm) -> bool {
        Some(self.family) == family_of(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The key a token with this `kid` (or none) and `alg` names in `set`. Under a `kid`, the key
/// fit for `alg`, or else the first one (which the caller then refuses for the algorithm).
pub(super) fn lookup(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
    match kid {
        Some(kid) => {
            let group = set.by_kid.get(kid)?;
            group
                .iter()
                .find(|k| k.fits(alg))
                .or_else(|| group.first())
                .cloned()
        }
        // No `kid`: acceptable only when exactly one key could have signed it.
        None => {
            let mut candidates = set.all.iter().filter(|k| k.fits(alg));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(Arc::clone(only)),
                _ => None,
            }
        }
    }
}

fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Bit length of a big-endian unsigned integer.
fn rsa_bits(modulus: &[u8]) -> usize {
    let Some(first) = modulus.iter().position(|&b| b != 0) else {
        return 0;
    };
    (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize
}

/// A P-256 public JWK named `kid` (the generator point: a valid point, whose private key is 1).
#[cfg(test)]
pub(super) fn test_jwk(kid: &str) -> Value {
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
        "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
        "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec(kid: &str) -> Value {
        test_jwk(kid)
    }

    fn parse(keys: &[Value]) -> KeySet {
        KeySet::parse(&json!({ "keys": keys }), &[Algorithm::ES256], 2048).unwrap()
    }

    #[test]
    fn the_same_keys_in_other_json_are_the_same_set() {
        let before = parse(&[ec("a")]);
        // Members reordered, `use` dropped, an unknown member and a second key added.
        let mut same = ec("a");
        let object = same.as_object_mut().unwrap();
        object.remove("use");
        object.insert("x5t".into(), json!("ignored"));
        let after = parse(&[ec("b"), same]);
        assert!(before.withdrawn_in(&after).is_empty());
        assert!(after.all.iter().any(|k| k.id == before.all[0].id));
    }

    #[test]
    fn a_key_withdrawn_or_changed_under_its_kid_is_told_apart() {
        let before = parse(&[ec("a"), ec("b")]);
        let withdrawn = before.withdrawn_in(&parse(&[ec("b")]));
        assert_eq!(withdrawn, HashSet::from([before.by_kid["a"][0].id]));
        // The same material restricted to another algorithm, or under another kid, is another
        // key.
        let mut restricted = ec("a");
        restricted["alg"] = json!("ES256");
        let changed = before.withdrawn_in(&parse(&[restricted, ec("b")]));
        assert_eq!(changed, HashSet::from([before.by_kid["a"][0].id]));
        let renamed = before.withdrawn_in(&parse(&[ec("c"), ec("b")]));
        assert_eq!(renamed, HashSet::from([before.by_kid["a"][0].id]));
    }

    #[test]
    fn a_key_shadowed_under_its_kid_counts_as_withdrawn() {
        // The same kid twice, both able to verify ES256: the later one is the key, and the
        // earlier one, which verified tokens before, is withdrawn.
        let before = parse(&[ec("a"), ec("b")]);
        let mut later = ec("a");
        later["alg"] = json!("ES256");
        let after = parse(&[ec("a"), later, ec("b")]);
        assert_eq!(after.by_kid["a"].len(), 1);
        assert_eq!(after.by_kid["a"][0].alg, Some(Algorithm::ES256));
        assert_eq!(
            after.all.len(),
            2,
            "the shadowed key is not reachable at all"
        );
        let shadowed = before.by_kid["a"][0].id;
        assert_eq!(before.withdrawn_in(&after), HashSet::from([shadowed]));
        let found = lookup(&after, Some("a"), Algorithm::ES256).unwrap();
        assert_eq!(found.id, after.by_kid["a"][0].id);
    }

    #[test]
    fn keys_of_different_types_may_share_a_kid() {
        // RFC 7517 §4.5: equivalent alternatives of different key types; the `alg` picks.
        let ed = json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "k",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        });
        let set = KeySet::parse(
            &json!({ "keys": [ec("k"), ed] }),
            &[Algorithm::ES256, Algorithm::EdDSA],
            2048,
        )
        .unwrap();
        assert_eq!(set.all.len(), 2);
        let by = |alg| lookup(&set, Some("k"), alg).unwrap().family;
        assert_eq!(by(Algorithm::ES256), Family::Ec);
        assert_eq!(by(Algorithm::EdDSA), Family::Ed);
        assert!(parse(&[ec("k")]).withdrawn_in(&set).is_empty());
    }

    #[test]
    fn rsa_modulus_length_ignores_leading_zeros() {
        assert_eq!(rsa_bits(&[0, 0x80, 0]), 16);
        assert_eq!(rsa_bits(&[0x01, 0xff]), 9);
        assert_eq!(rsa_bits(&[0, 0]), 0);
        assert_eq!(rsa_bits(&[0xff; 256]), 2048);
    }
}
