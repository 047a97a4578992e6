//! A `tools/call` read in one pass: the message and its params' `name` and `arguments`
//! together.
//!
//! [`Message::parse`] keeps a request's params as raw JSON, and the method's handler reads them
//! afterwards: serde_json checks a raw value by reading it whole, so the params are read twice
//! (and copied once). For the commonest request of all, a `tools/call` whose params are an
//! object without `_meta`, [`Message::read`] reads the envelope, the tool's name and its
//! arguments in the one pass, as the dispatcher would read them.
//!
//! That pass only ever saves work; it decides nothing. A message it does not take whole, for
//! whatever reason (another method, `_meta`, params of another shape, a member given twice,
//! a method name written with escapes, text that is not JSON), is parsed by
//! [`Message::parse`], which answers it exactly as it answers every message.

use std::fmt;
use std::sync::LazyLock;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::jsonrpc::{Field, Message, Named, Request, RequestId, Response};
use super::method::Method;
use super::modern_params::ParamsKey;

/// Found in every `tools/call` (its method, as JSON text); a message without it is not tried.
static TOOLS_CALL: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(br#""tools/call""#));

/// Found in a `tools/call` with `_meta` (every 2026-07-28 one): not tried either, as the pass
/// would read most of it before giving it to `parse` to read again.
static META: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(br#""_meta""#));

impl Message {
    /// [`Message::parse`], reading a `tools/call`'s tool name and arguments in the same pass
    /// when it can (see the [module](self)): such a request carries them in
    /// [`Request::call`](Request), and no raw `params`.
    pub(crate) fn read(bytes: &[u8]) -> Result<Self, Box<Response>> {
        match read_call(bytes) {
            Some(request) => Ok(Self::Request(request)),
            None => Self::parse(bytes),
        }
    }
}

/// The message as a `tools/call` read whole, or `None` (then [`Message::parse`] reads it).
fn read_call(bytes: &[u8]) -> Option<Request> {
    TOOLS_CALL.find(bytes)?;
    if META.find(bytes).is_some() {
        return None;
    }
    // JSON text is UTF-8 (RFC 8259 §8.1), checked once over the whole text, as `parse` does.
    let text = std::str::from_utf8(bytes).ok()?;
    let envelope: CallEnvelope<'_> = serde_json::from_str(text).ok()?;
    let Field::Valid(id) = envelope.id else {
        return None;
    };
    // Compared as written: any other spelling (escapes) is `parse`'s to read.
    if envelope.jsonrpc.get() != r#""2.0""# || envelope.method.get() != r#""tools/call""# {
        return None;
    }
    let CallParams { name, arguments } = envelope.params;
    Some(Request {
        id,
        method: Method::CallTool,
        params: None,
        call: Some(Box::new(Named { name, arguments })),
    })
}

/// A `tools/call` message. Its members are those `parse`'s envelope knows, so that a member
/// given twice fails here as it fails there; `result` and `error` mean nothing beside a method.
#[derive(Deserialize)]
struct CallEnvelope<'a> {
    #[serde(borrow)]
    jsonrpc: &'a RawValue,
    id: Field<RequestId>,
    #[serde(borrow)]
    method: &'a RawValue,
    params: CallParams,
    #[serde(rename = "result")]
    _result: Option<IgnoredAny>,
    #[serde(rename = "error")]
    _error: Option<IgnoredAny>,
}

/// A `tools/call`'s params as the dispatcher reads them (`server::params`): an object with
/// `name` once, as a string, `arguments` at most once, as an object or `null`, any other member
/// ignored; and no `_meta`, which the dispatcher keeps as raw text for the handler.
struct CallParams {
    name: String,
    arguments: Option<Map<String, Value>>,
}

impl<'de> Deserialize<'de> for CallParams {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Params;
        impl<'de> Visitor<'de> for Params {
            type Value = CallParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tools/call's params")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CallParams, A::Error> {
                // Any error only sends the message to `parse`: its words are never shown.
                let other = || de::Error::custom("read by `Message::parse`");
                let (mut name, mut arguments) = (None, None);
                while let Some(key) = map.next_key::<ParamsKey>()? {
                    match key {
                        ParamsKey::Name if name.is_none() => {
                            name = Some(map.next_value::<String>()?);
                        }
                        ParamsKey::Arguments if arguments.is_none() => {
                            arguments = Some(map.next_value::<Option<Map<String, Value>>>()?);
                        }
                        ParamsKey::Name | ParamsKey::Arguments | ParamsKey::Meta => {
                            return Err(other());
                        }
                        // Members the dispatcher's reading of a `tools/call` ignores.
                        ParamsKey::Uri
                        | ParamsKey::TaskId
                        | ParamsKey::Round
                        | ParamsKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(CallParams {
                    name: name.ok_or_else(other)?,
                    arguments: arguments.flatten(),
                })
            }
        }
        d.deserialize_map(Params)
    }
}

/// What a message comes to for the dispatcher, written out: a request's id, its method, and a
/// `tools/call`'s name and arguments (read from its raw params as `server::params` reads them,
/// or as [`Message::read`] read them); any other message as it is, an error as its JSON.
#[cfg_attr(not(any(test, feature = "http")), allow(dead_code))]
fn seen(message: &Result<Message, Box<Response>>) -> String {
    #[derive(Deserialize)]
    struct Read {
        name: String,
        arguments: Option<Map<String, Value>>,
    }
    match message {
        Ok(Message::Request(request)) => {
            let call = match (&request.call, &request.params) {
                (Some(call), None) => Some((call.name.clone(), call.arguments.clone())),
                (Some(_), Some(_)) => panic!("a request with both its params read and raw"),
                (None, Some(params)) if request.method == Method::CallTool => {
                    serde_json::from_str::<Read>(params.get())
                        .ok()
                        .map(|read| (read.name, read.arguments))
                }
                (None, _) => None,
            };
            format!("request {:?} {} {call:?}", request.id, request.method)
        }
        Ok(other) => format!("{other:?}"),
        Err(response) => format!("error {}", response.to_json()),
    }
}

/// Panics unless [`Message::read`] and [`Message::parse`] come to the same on `bytes` (see
/// `seen`); whether `read` took the message in its one pass. For the tests and the fuzz target.
#[cfg_attr(not(any(test, feature = "http")), allow(dead_code))]
pub(crate) fn read_agrees_with_parse(bytes: &[u8]) -> bool {
    let read = Message::read(bytes);
    let parsed = Message::parse(bytes);
    assert_eq!(
        seen(&read),
        seen(&parsed),
        "{}",
        String::from_utf8_lossy(bytes)
    );
    matches!(read, Ok(Message::Request(Request { call: Some(_), .. })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree(text: &str) -> bool {
        read_agrees_with_parse(text.as_bytes())
    }

    #[test]
    fn a_plain_tools_call_is_read_in_one_pass_as_parse_and_the_dispatcher_read_it() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#,
            // Members in any order, a string id, no arguments, null arguments, other members.
            r#"{"params":{"arguments":{"a":[1,{"b":null}]},"name":"echo"},"id":"x-1","method":"tools/call","jsonrpc":"2.0"}"#,
            r#"{"jsonrpc":"2.0","id":-7,"method":"tools/call","params":{"name":"echo"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":null}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"task":{"ttl":1},"name":"e\u0063ho","x":[]},"extra":{}}"#,
            r#" {"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"日本"},"result":null} "#,
        ] {
            assert!(agree(text), "read in one pass: {text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_parse_which_answers_it_as_ever() {
        for text in [
            // Another method, even one naming tools/call in its params.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"\"tools/call\""}}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#,
            // `_meta`, which the dispatcher keeps raw.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1}}}"#,
            // Params of another shape, or none.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["echo",{}]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"echo"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":[]}}"#,
            // Members given twice, in the params or the envelope.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{},"arguments":null}}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"result":1,"result":2}"#,
            // An envelope that is not a request's, or not JSON-RPC 2.0's.
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"id":1,"method":"tools/call","params":{"name":"a"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"a"}}"#,
            // Not JSON, or more than one value.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}} {}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}]"#,
        ] {
            assert!(!agree(text), "left to parse: {text}");
        }
        // Not UTF-8.
        let mut bytes =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"#.to_vec();
        bytes.extend_from_slice(b"\xff\"}}");
        assert!(!read_agrees_with_parse(&bytes));
    }
}
