//! A request's params kept to be read again later, and only if asked: the `_meta` map a handler
//! asks for, and the binding of a 2026-07-28 input round's state. Most requests are answered
//! without either, so the text is kept as it is, not read into values ahead of time.
//!
//! A request read in one pass with its message ([`Message::read`](super::Message)) has no raw
//! params of its own: it keeps the message's text instead (a copy of a small message; a large
//! one shared with the buffer the transport read it into), and the params are found in it again
//! when asked for.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Where a request's params are read again from.
#[derive(Debug, Clone)]
pub(crate) enum ParamsText {
    /// The params as raw JSON.
    Params(Box<RawValue>),
    /// The whole message, shared with the buffer the transport read it into: a JSON-RPC
    /// request, one JSON value in UTF-8 text, that the one-pass reading took whole (so its
    /// members are given once each).
    Message(Bytes),
    /// The same, a copy of its own (a small message: shared, it would keep the transport's
    /// whole buffer alive).
    Copy(Arc<str>),
}

impl ParamsText {
    /// The params read as `T` (`None` when they do not read so, or are not there): read from
    /// the message in the one pass that finds them in it.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Option<T> {
        match self {
            Self::Params(params) => serde_json::from_str(params.get()).ok(),
            // Checked once, whole: serde_json reading bytes would check each string again.
            Self::Message(message) => params_in(std::str::from_utf8(message).ok()?),
            Self::Copy(message) => params_in(message),
        }
    }

    /// The params' `_meta`, built as a map of values (`None` when it is absent or `null`, or
    /// the params do not read so).
    pub(crate) fn meta(&self) -> Option<Map<String, Value>> {
        self.read::<MetaOf>()?.meta
    }
}

/// Params read for their `_meta` alone.
#[derive(Deserialize)]
pub(super) struct MetaOf {
    #[serde(rename = "_meta")]
    pub(super) meta: Option<Map<String, Value>>,
}

/// The params of `message`, read as `T`.
fn params_in<T: DeserializeOwned>(message: &str) -> Option<T> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        params: Option<T>,
    }
    serde_json::from_str::<Envelope<T>>(message).ok()?.params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_params_are_found_again_as_they_were_written() {
        let params = r#"{"name":"e\u0063ho","_meta":{"progressToken":"p"},"arguments":{}}"#;
        let message = format!(
            r#"{{"id":1,"params":{params},"jsonrpc":"2.0","method":"tools/call","x":[1]}}"#
        );
        let expected: Value = serde_json::from_str(params).unwrap();
        let raw = RawValue::from_string(params.to_owned()).unwrap();
        for text in [
            ParamsText::Copy(message.as_str().into()),
            ParamsText::Message(Bytes::from(message)),
            ParamsText::Params(raw),
        ] {
            assert_eq!(text.read::<Value>(), Some(expected.clone()));
            // As `T` reads them, or not at all.
            assert_eq!(text.read::<Vec<u8>>(), None);
        }
        let without = ParamsText::Message(Bytes::from_static(br#"{"id":1,"method":"ping"}"#));
        assert_eq!(without.read::<Value>(), None);
    }
}
