//! A response's result, kept as JSON text, and written where the response will be.
//!
//! A result was serialized into a text of its own (`serde_json::value::to_raw_value`: a buffer
//! grown to fit, then shrunk to the text's length, that is allocated, reallocated), which the
//! response's envelope then copied into the body it wrote. A result made for a response now is
//! written once, behind room for that envelope, into the buffer that becomes the body: the
//! envelope fills the room, and the result is not copied. (A `tools/call` over HTTP: two
//! allocations, a reallocation and a copy fewer.)

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A response's text before its id, and between its id and its result or its error.
pub(super) const ENVELOPE: &[u8] = br#"{"jsonrpc":"2.0","id":"#;
pub(super) const RESULT: &[u8] = br#","result":"#;
pub(super) const ERROR: &[u8] = br#","error":"#;

/// Writes the text of a response to `id` that comes before its payload, named by `member`
/// ([`RESULT`] or [`ERROR`]).
pub(super) fn envelope(
    out: &mut impl std::io::Write,
    id: &impl Serialize,
    member: &[u8],
) -> serde_json::Result<()> {
    out.write_all(ENVELOPE).map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut *out, id)?;
    out.write_all(member).map_err(serde_json::Error::io)
}

/// A result's JSON text, valid JSON by construction: from [`serde_json::value::to_raw_value`]
/// (`From<Box<RawValue>>`), or written by the server for a response.
#[derive(Clone)]
pub struct RawJson(Text);

#[derive(Clone)]
enum Text {
    /// The value's text alone.
    Alone(Box<RawValue>),
    /// The value, `buf[start..]`, behind the envelope of a response
    /// (`{"jsonrpc":"2.0","id":…,"result":`, `buf[..start]`). Bytes, not a `String`: a
    /// response sent as it was written is never read as text.
    Framed { buf: Vec<u8>, start: usize },
}

impl RawJson {
    /// The JSON text.
    #[must_use]
    pub fn get(&self) -> &str {
        match &self.0 {
            Text::Alone(raw) => raw.get(),
            // serde_json writes UTF-8 (were it ever not to, the text would read `null`).
            Text::Framed { buf, start } => std::str::from_utf8(&buf[*start..]).unwrap_or("null"),
        }
    }

    /// The JSON text's bytes, not checked as text (see [`RawJson::get`]).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Text::Alone(raw) => raw.get().as_bytes(),
            Text::Framed { buf, start } => &buf[*start..],
        }
    }

    /// `value` serialized for the response to `id`: behind room for its envelope, so that the
    /// response is the same buffer (see [`RawJson::into_framed`]).
    pub(crate) fn for_response<T: Serialize + ?Sized>(
        id: &impl Serialize,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        let mut buf = Vec::with_capacity(256);
        envelope(&mut buf, id, RESULT)?;
        let start = buf.len();
        serde_json::to_writer(&mut buf, value)?;
        Ok(Self(Text::Framed { buf, start }))
    }

    /// The response to `id` with this result, as one JSON text: the buffer it was written in,
    /// when it was written for a response to that id; otherwise the result back, for the
    /// caller to frame.
    pub(crate) fn into_framed(self, id: &impl Serialize) -> Result<Vec<u8>, Self> {
        match self.0 {
            Text::Framed { mut buf, start } if envelope_is(&buf[..start], id) => {
                buf.push(b'}');
                Ok(buf)
            }
            text => Err(Self(text)),
        }
    }
}

/// Whether `head` is the envelope of a response to `id`. Checked, not assumed: a response's id
/// is a public field, and a proxy may renumber the responses it passes on.
fn envelope_is(head: &[u8], id: &impl Serialize) -> bool {
    // An envelope with a plain id fits (the longest integer is 20 digits); anything else is
    // framed again.
    let mut expected = [0u8; 96];
    let mut room = &mut expected[..];
    let room_left = room.len();
    envelope(&mut room, id, RESULT).is_ok() && {
        let written = room_left - room.len();
        expected[..written] == *head
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        Self(Text::Alone(raw))
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawJson").field(&self.get()).finish()
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Text::Alone(raw) => raw.serialize(s),
            // Borrowed as a `RawValue` (which reads it through once) only when serialized this
            // way; a response is written with `Response::to_json_bytes`, which copies it.
            Text::Framed { .. } => match serde_json::from_str::<&RawValue>(self.get()) {
                Ok(raw) => raw.serialize(s),
                Err(e) => Err(serde::ser::Error::custom(e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_raw_value_is_kept_as_it_is() {
        let raw: RawJson = serde_json::value::to_raw_value(&json!([1, "two"]))
            .unwrap()
            .into();
        assert_eq!(raw.get(), r#"[1,"two"]"#);
        assert_eq!(format!("{raw:?}"), r#"RawJson("[1,\"two\"]")"#);
        assert!(raw.into_framed(&1).is_err());
    }

    #[test]
    fn a_result_is_framed_only_for_the_id_it_was_written_for() {
        let raw = RawJson::for_response(&7, &json!({"a": 1})).unwrap();
        assert_eq!(raw.get(), r#"{"a":1}"#);
        assert!(raw.clone().into_framed(&8).is_err());
        assert!(raw.clone().into_framed(&"7").is_err());
        assert_eq!(
            String::from_utf8(raw.into_framed(&7).unwrap()).unwrap(),
            r#"{"jsonrpc":"2.0","id":7,"result":{"a":1}}"#
        );
        // An id too long to check in place is framed again.
        let long = "x".repeat(200);
        let raw = RawJson::for_response(&long, &json!(null)).unwrap();
        assert!(raw.into_framed(&long).is_err());
    }
}
