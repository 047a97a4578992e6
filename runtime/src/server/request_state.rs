//! The `requestState` of a 2026-07-28 input request (SEP-2322): the answers gathered so far,
//! sealed with an AEAD (ChaCha20-Poly1305, from aws-lc-rs, the crypto library the JWT checks
//! already use) so that the client carries it without reading or changing it, bound to the
//! caller, the method, its target and its arguments, with an expiry and an id that is accepted
//! once.
//!
//! Wire form: `base64url(version ‖ key id ‖ nonce ‖ ciphertext ‖ tag)`, the version and key id
//! authenticated as associated data. The key id (the first bytes of the key's SHA-256) picks
//! the key among the current and previous ones, so replicas can rotate keys without refusing
//! the states in flight.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::principal::Principal;
use crate::protocol::Method;

/// The longest `requestState` this server issues or reads, encoded (64 KiB): the answers a
/// handler gathers must fit in it.
pub(crate) const MAX_STATE_CHARS: usize = 64 * 1024;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const KEY_LEN: usize = 32;

/// The keys `requestState` is sealed with: one current key that seals, and previous ones still
/// accepted when opening, for rotation. Replicas that serve the same clients must share them.
///
/// Without configured keys a server makes a random key per process ([`StateKeys::random`]):
/// right for one process, wrong for replicas (a state sealed by one is refused by the others)
/// and for restarts (the states in flight are refused; their clients start over).
#[derive(Clone)]
pub struct StateKeys {
    /// The current key first.
    keys: Vec<([u8; KEY_ID_LEN], LessSafeKeyBox)>,
}

/// `LessSafeKey` is not `Clone`; keys are shared.
#[derive(Clone)]
struct LessSafeKeyBox(std::sync::Arc<LessSafeKey>);

impl fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key ids only, never key material.
        f.debug_struct("StateKeys")
            .field(
                "key_ids",
                &self
                    .keys
                    .iter()
                    .map(|(id, _)| URL_SAFE_NO_PAD.encode(id))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A key was not 32 bytes, or not base64 of 32 bytes.
#[derive(Debug, thiserror::Error)]
#[error("a request-state key must be 32 bytes (base64 or base64url of 32 bytes)")]
pub struct StateKeyError;

impl StateKeys {
    /// Seals with `current`, 32 secret random bytes.
    #[must_use]
    pub fn new(current: [u8; KEY_LEN]) -> Self {
        Self {
            keys: vec![entry(&current)],
        }
    }

    /// A random key for this process only (see the type's documentation).
    #[must_use]
    pub fn random() -> Self {
        let mut key = [0_u8; KEY_LEN];
        getrandom::fill(&mut key).expect("the operating system provides randomness");
        Self::new(key)
    }

    /// Seals with the key `current` encodes (base64 or base64url, padded or not, of 32 bytes),
    /// e.g. read from a secret store.
    ///
    /// # Errors
    /// When `current` is not 32 bytes encoded so.
    pub fn from_base64(current: &str) -> Result<Self, StateKeyError> {
        Ok(Self::new(decode_key(current)?))
    }

    /// Also opens states sealed with `previous` (a key being rotated out).
    #[must_use]
    pub fn with_previous(mut self, previous: [u8; KEY_LEN]) -> Self {
        self.keys.push(entry(&previous));
        self
    }

    /// [`Self::with_previous`] for a key encoded as in [`Self::from_base64`].
    ///
    /// # Errors
    /// When `previous` is not 32 bytes encoded so.
    pub fn with_previous_base64(self, previous: &str) -> Result<Self, StateKeyError> {
        Ok(self.with_previous(decode_key(previous)?))
    }
}

fn decode_key(text: &str) -> Result<[u8; KEY_LEN], StateKeyError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    let text = text.trim();
    let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or(StateKeyError)?;
    bytes.try_into().map_err(|_| StateKeyError)
}

fn entry(key: &[u8; KEY_LEN]) -> ([u8; KEY_ID_LEN], LessSafeKeyBox) {
    let mut id = [0_u8; KEY_ID_LEN];
    id.copy_from_slice(&digest(&SHA256, key).as_ref()[..KEY_ID_LEN]);
    let key = UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte ChaCha20 key");
    (
        id,
        LessSafeKeyBox(std::sync::Arc::new(LessSafeKey::new(key))),
    )
}

/// What a request state is bound to: who asked, which method, on what, with which arguments.
/// Only its digest is kept.
pub(crate) struct Binding<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) method: &'a Method,
    /// The tool's or prompt's name, or the resource's URI.
    pub(crate) target: &'a str,
    pub(crate) arguments: Option<&'a Map<String, Value>>,
}

impl Binding<'_> {
    /// SHA-256 over the parts, each length-prefixed so that no two bindings share an encoding;
    /// the arguments in a canonical form (object keys sorted), so that a client that reorders
    /// them is not refused.
    pub(crate) fn digest(&self) -> String {
        let mut bytes = Vec::with_capacity(256);
        let mut part = |text: &str| {
            bytes.extend_from_slice(&(text.len() as u64).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        };
        part(self.principal.issuer().unwrap_or(""));
        part(self.principal.subject().unwrap_or(""));
        part(self.principal.client_id().unwrap_or(""));
        part(self.method.as_str());
        part(self.target);
        let mut canonical = String::new();
        if let Some(arguments) = self.arguments {
            write_canonical(&mut canonical, &Value::Object(arguments.clone()));
        }
        part(&canonical);
        URL_SAFE_NO_PAD.encode(digest(&SHA256, &bytes).as_ref())
    }
}

/// JSON with every object's keys in sorted order.
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(out, &map[key]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The sealed content.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// Random, accepted once.
    pub(crate) id: String,
    /// Seconds since the Unix epoch after which the state is refused.
    pub(crate) exp: u64,
    /// [`Binding::digest`].
    pub(crate) bind: String,
    /// The answers the handler read in earlier rounds, each with the question it answered:
    /// `{ "result": …, "question": … }`.
    pub(crate) answers: Map<String, Value>,
    /// The requests the round that sealed this state asked, by key: their questions. Only
    /// answers to these are taken from the next request's `inputResponses`.
    #[serde(default)]
    pub(crate) asked: Map<String, Value>,
}

/// Why a presented state was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StateError {
    #[error("`requestState` is too long")]
    TooLong,
    #[error("`requestState` failed its integrity check")]
    Forged,
    #[error("`requestState` has expired")]
    Expired,
    #[error("`requestState` belongs to another caller, request or arguments")]
    Foreign,
}

impl Sealed {
    /// A new state with a fresh id, valid for `ttl`.
    pub(crate) fn new(
        bind: String,
        answers: Map<String, Value>,
        asked: Map<String, Value>,
        ttl: Duration,
    ) -> Self {
        let mut id = [0_u8; 16];
        getrandom::fill(&mut id).expect("the operating system provides randomness");
        Self {
            id: URL_SAFE_NO_PAD.encode(id),
            exp: now_secs().saturating_add(ttl.as_secs().max(1)),
            bind,
            answers,
            asked,
        }
    }

    /// How long until the state expires (at least a second: a store keeps its id that long).
    pub(crate) fn remaining(&self) -> Duration {
        Duration::from_secs(self.exp.saturating_sub(now_secs()).max(1))
    }

    /// The state sealed with the current key, or `None` when it is longer than
    /// [`MAX_STATE_CHARS`].
    pub(crate) fn seal(&self, keys: &StateKeys) -> Option<String> {
        let (key_id, key) = &keys.keys[0];
        let mut nonce = [0_u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let mut header = Vec::with_capacity(1 + KEY_ID_LEN);
        header.push(VERSION);
        header.extend_from_slice(key_id);
        let mut body = serde_json::to_vec(self).ok()?;
        key.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header),
                &mut body,
            )
            .ok()?;
        let mut out = header;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        let text = URL_SAFE_NO_PAD.encode(out);
        (text.len() <= MAX_STATE_CHARS).then_some(text)
    }

    /// Opens `text` with the key its id names, then checks the expiry and that it is bound to
    /// `bind`. Every failure of the seal is the same error, whatever broke.
    pub(crate) fn open(text: &str, keys: &StateKeys, bind: &str) -> Result<Self, StateError> {
        if text.len() > MAX_STATE_CHARS {
            return Err(StateError::TooLong);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| StateError::Forged)?;
        if bytes.len() < 1 + KEY_ID_LEN + NONCE_LEN || bytes[0] != VERSION {
            return Err(StateError::Forged);
        }
        let (header, rest) = bytes.split_at(1 + KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = keys
            .keys
            .iter()
            .find(|(id, _)| id[..] == header[1..])
            .ok_or(StateError::Forged)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StateError::Forged)?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .1
            .0
            .open_in_place(nonce, Aad::from(header), &mut sealed)
            .map_err(|_| StateError::Forged)?;
        let state: Sealed = serde_json::from_slice(plain).map_err(|_| StateError::Forged)?;
        if state.exp <= now_secs() {
            return Err(StateError::Expired);
        }
        if state.bind != bind {
            return Err(StateError::Foreign);
        }
        Ok(state)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answers() -> Map<String, Value> {
        json!({ "name": { "action": "accept", "content": { "name": "Ada" } } })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    fn bind(principal: &Principal, target: &str, arguments: &Value) -> String {
        Binding {
            principal,
            method: &Method::CallTool,
            target,
            arguments: arguments.as_object(),
        }
        .digest()
    }

    #[test]
    fn a_sealed_state_opens_with_its_key_only_and_hides_its_answers() {
        let keys = StateKeys::random();
        let state = Sealed::new("b".into(), answers(), Map::new(), Duration::from_secs(60));
        let text = state.seal(&keys).expect("fits");
        assert!(!text.contains("Ada"), "the answers are encrypted");
        let opened = Sealed::open(&text, &keys, "b").expect("opens");
        assert_eq!(opened.id, state.id);
        assert_eq!(opened.answers, answers());
        assert_eq!(
            Sealed::open(&text, &StateKeys::random(), "b").unwrap_err(),
            StateError::Forged
        );
        assert_eq!(
            Sealed::open(&text, &keys, "other").unwrap_err(),
            StateError::Foreign
        );
    }

    #[test]
    fn every_changed_byte_and_every_truncation_is_refused() {
        let keys = StateKeys::random();
        let text = Sealed::new("b".into(), answers(), Map::new(), Duration::from_secs(60))
            .seal(&keys)
            .expect("fits");
        let bytes = URL_SAFE_NO_PAD.decode(&text).expect("base64url");
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            let changed = URL_SAFE_NO_PAD.encode(&changed);
            assert_eq!(
                Sealed::open(&changed, &keys, "b").unwrap_err(),
                StateError::Forged,
                "byte {i}"
            );
        }
        for len in [0, 1, 5, 17, bytes.len() - 1] {
            let cut = URL_SAFE_NO_PAD.encode(&bytes[..len]);
            assert_eq!(
                Sealed::open(&cut, &keys, "b").unwrap_err(),
                StateError::Forged
            );
        }
        assert_eq!(
            Sealed::open(&format!("{text}-TAMPERED"), &keys, "b").unwrap_err(),
            StateError::Forged
        );
        let long = "A".repeat(MAX_STATE_CHARS + 1);
        assert_eq!(
            Sealed::open(&long, &keys, "b").unwrap_err(),
            StateError::TooLong
        );
    }

    #[test]
    fn an_expired_state_is_refused() {
        let keys = StateKeys::random();
        let mut state = Sealed::new("b".into(), Map::new(), Map::new(), Duration::from_secs(60));
        state.exp = now_secs() - 1;
        let text = state.seal(&keys).expect("fits");
        assert_eq!(
            Sealed::open(&text, &keys, "b").unwrap_err(),
            StateError::Expired
        );
    }

    #[test]
    fn rotation_opens_states_of_the_previous_key_and_seals_with_the_new() {
        let old = [7_u8; 32];
        let new = [9_u8; 32];
        let before = StateKeys::new(old);
        let text = Sealed::new("b".into(), Map::new(), Map::new(), Duration::from_secs(60))
            .seal(&before)
            .expect("fits");
        let rotated = StateKeys::new(new).with_previous(old);
        assert!(Sealed::open(&text, &rotated, "b").is_ok());
        let resealed = Sealed::new("b".into(), Map::new(), Map::new(), Duration::from_secs(60))
            .seal(&rotated)
            .expect("fits");
        assert!(Sealed::open(&resealed, &StateKeys::new(new), "b").is_ok());
        assert!(Sealed::open(&resealed, &before, "b").is_err());
        // Keys from configuration.
        let encoded = URL_SAFE_NO_PAD.encode(new);
        let configured = StateKeys::from_base64(&encoded)
            .expect("32 bytes")
            .with_previous_base64(&base64::engine::general_purpose::STANDARD.encode(old))
            .expect("32 bytes");
        assert!(Sealed::open(&text, &configured, "b").is_ok());
        assert!(StateKeys::from_base64("c2hvcnQ").is_err());
        assert!(!format!("{configured:?}").contains(&encoded));
    }

    #[test]
    fn a_state_too_large_is_not_sealed() {
        let mut answers = Map::new();
        answers.insert("big".into(), json!("x".repeat(MAX_STATE_CHARS)));
        let state = Sealed::new("b".into(), answers, Map::new(), Duration::from_secs(60));
        assert!(state.seal(&StateKeys::random()).is_none());
    }

    #[test]
    fn the_binding_covers_caller_target_and_arguments_in_any_key_order() {
        let alice = Principal::builder()
            .issuer("https://as")
            .subject("alice")
            .build();
        let bob = Principal::builder()
            .issuer("https://as")
            .subject("bob")
            .build();
        let args = json!({ "a": 1, "b": { "y": [1, 2], "x": "z" } });
        let reordered = json!({ "b": { "x": "z", "y": [1, 2] }, "a": 1 });
        assert_eq!(bind(&alice, "t", &args), bind(&alice, "t", &reordered));
        assert_ne!(bind(&alice, "t", &args), bind(&bob, "t", &args));
        assert_ne!(bind(&alice, "t", &args), bind(&alice, "u", &args));
        assert_ne!(
            bind(&alice, "t", &args),
            bind(
                &alice,
                "t",
                &json!({ "a": 2, "b": { "y": [1, 2], "x": "z" } })
            )
        );
        let other_issuer = Principal::builder()
            .issuer("https://evil")
            .subject("alice")
            .build();
        assert_ne!(bind(&alice, "t", &args), bind(&other_issuer, "t", &args));
    }
}
