//! A client's declared capabilities, kept as the JSON text they arrived in until something asks
//! about them.
//!
//! Every 2026-07-28 request carries its client's capabilities in `_meta`, and most requests
//! never ask about them (a tool that neither samples, elicits nor runs as a task). Built as a
//! `serde_json::Value` on arrival (a B-tree node and a string per member), a real client's
//! capabilities (elicitation, sampling, roots, the tasks extension) made its request 9 k
//! instructions dearer than one declaring none, 45 k against 36 k (issue 24). They are now
//! checked as they are read, kept as text, and built the first time they are asked about: 4 k.
//!
//! The text is taken only where building it would have succeeded: serde_json skips a value
//! without decoding its strings or counting its levels, so text that a `Value` refuses (a lone
//! surrogate in an escape, a number out of range, nesting past the limit) is told apart here, and
//! the reader then builds the value as before, which refuses it.

use std::fmt;

use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::Value;
use serde_json::value::RawValue;

use super::skip::Skip;

/// Brackets a kept text may hold: its nesting is then well within serde_json's limit (128
/// levels) wherever in a message it sits.
const MAX_BRACKETS: usize = 64;

/// Text up to this long cannot hold a number too large for an `f64` without an exponent (one
/// needs 309 digits).
const SHORT: usize = 300;

/// A client's capabilities: the JSON text they came in, or the value built from it.
#[derive(Clone)]
pub(crate) enum ClientCapabilities {
    /// As sent, not read yet.
    Text(Box<RawValue>),
    /// Built (or given as a value).
    Built(Value),
}

impl Default for ClientCapabilities {
    fn default() -> Self {
        Self::Built(Value::Null)
    }
}

impl From<Value> for ClientCapabilities {
    fn from(value: Value) -> Self {
        Self::Built(value)
    }
}

impl fmt::Debug for ClientCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => write!(f, "{}", text.get()),
            Self::Built(value) => write!(f, "{value}"),
        }
    }
}

impl PartialEq for ClientCapabilities {
    /// Equal when their values are.
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl ClientCapabilities {
    /// Whether they are a JSON object, told without building them.
    pub(crate) fn is_object(&self) -> bool {
        match self {
            // A raw value's text begins at its first character.
            Self::Text(text) => text.get().starts_with('{'),
            Self::Built(value) => value.is_object(),
        }
    }

    /// The value, built in place the first time.
    pub(crate) fn value(&mut self) -> &Value {
        if let Self::Text(text) = self {
            *self = Self::Built(build(text));
        }
        match self {
            Self::Built(value) => value,
            Self::Text(_) => unreachable!("built above"),
        }
    }

    /// The value, built (without keeping it).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Self::Text(text) => build(text),
            Self::Built(value) => value.clone(),
        }
    }
}

/// The value of a kept text. Checked when it was read: a `Value` reads it. Were it not, no
/// capability (fail closed).
fn build(text: &RawValue) -> Value {
    serde_json::from_str(text.get()).unwrap_or(Value::Null)
}

/// Capabilities read from a message: their text, when a `Value` reads it (none declared, `{}`,
/// built at once: an empty map allocates nothing); `None` when that cannot be told cheaply here
/// (the caller then builds the value).
pub(crate) struct CapabilitiesText(pub(crate) Option<ClientCapabilities>);

impl<'de> Deserialize<'de> for CapabilitiesText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&'de RawValue>::deserialize(d)?;
        Ok(Self(match text.get() {
            "{}" => Some(ClientCapabilities::Built(Value::Object(
                serde_json::Map::new(),
            ))),
            other => builds(other).then(|| ClientCapabilities::Text(text.to_owned())),
        }))
    }
}

/// Whether a `Value` reads `text`, which serde_json has read through as valid JSON.
fn builds(text: &str) -> bool {
    let bytes = text.as_bytes();
    if memchr::memchr2_iter(b'{', b'[', bytes).count() >= MAX_BRACKETS {
        return false;
    }
    // No escape (so no lone surrogate), no exponent and too short for a number to overflow:
    // nothing a `Value` refuses. Otherwise, read through as a `Value` reads it.
    let plain = bytes.len() <= SHORT
        && memchr::memchr(b'\\', bytes).is_none()
        && !memchr::memchr2_iter(b'e', b'E', bytes)
            .any(|at| at > 0 && matches!(bytes[at - 1], b'0'..=b'9' | b'.'));
    plain || serde_json::from_str::<Skip>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<ClientCapabilities> {
        serde_json::from_str::<CapabilitiesText>(text).unwrap().0
    }

    #[test]
    fn text_a_value_reads_is_kept_as_sent() {
        let none = read("{}").unwrap();
        assert_eq!(none, ClientCapabilities::Built(serde_json::json!({})));
        for text in [
            r#"{"elicitation":{"form":{}},"sampling":{},"roots":{"listChanged":true}}"#,
            r#"{"experimental":{"level":3,"ratio":0.5,"big":1e300,"tag":"é\u00e9"}}"#,
            "null",
            "[1,2,3]",
        ] {
            let mut capabilities = read(text).unwrap_or_else(|| panic!("{text}"));
            assert!(
                matches!(&capabilities, ClientCapabilities::Text(kept) if kept.get() == text),
                "{text}"
            );
            let built: Value = serde_json::from_str(text).unwrap();
            assert_eq!(capabilities.value(), &built, "{text}");
            assert!(matches!(capabilities, ClientCapabilities::Built(_)));
        }
    }

    #[test]
    fn text_a_value_refuses_is_not_kept() {
        let deep = format!("{}{}", "[".repeat(MAX_BRACKETS), "]".repeat(MAX_BRACKETS));
        for text in [
            r#"{"a":"\ud800"}"#,
            r#"{"a":1e400}"#,
            r#"{"a":2E999}"#,
            deep.as_str(),
        ] {
            assert!(read(text).is_none(), "{text}");
        }
        // Refused by a `Value` too: the reader that builds one then refuses the message.
        assert!(serde_json::from_str::<Value>(r#"{"a":"\ud800"}"#).is_err());
        assert!(serde_json::from_str::<Value>(r#"{"a":1e400}"#).is_err());
    }

    #[test]
    fn an_object_is_told_without_building_it() {
        let object = read(r#"{"sampling":{}}"#).unwrap();
        let list = read("[]").unwrap();
        assert!(object.is_object());
        assert!(!list.is_object());
        assert!(matches!(object, ClientCapabilities::Text(_)), "not built");
        assert_eq!(
            object,
            ClientCapabilities::Built(serde_json::json!({"sampling": {}}))
        );
    }
}
