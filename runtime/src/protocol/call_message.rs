//! A `tools/call` read in one pass: the message and its params' `name`, `arguments` and
//! `_meta` together.
//!
//! [`Message::parse`] keeps a request's params as raw JSON, and the method's handler reads them
//! afterwards: serde_json checks a raw value by reading it whole, so the params are read twice
//! (and copied once). For the commonest request of all, a `tools/call` whose params are an
//! object, [`Message::read`] reads the envelope, the tool's name and its arguments in the one
//! pass, as the dispatcher would read them; and with `_meta` (every 2026-07-28 request, a
//! legacy one asking for progress), what the 2026-07-28 path reads of it (`modern_params`),
//! keeping the message's text for what is read of it later, if ever (a handler's `_meta` map).
//!
//! That pass only ever saves work; it decides nothing. A message it does not take whole, for
//! whatever reason (another method, params of another shape, a member given twice, a repeated
//! `_meta`, a round's responses, a method name written with escapes, text that is not JSON),
//! is parsed by [`Message::parse`], which answers it exactly as it answers every message.

use std::fmt;
use std::sync::LazyLock;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::arguments::Arguments;
use super::jsonrpc::{Field, Message, Request, RequestId, Response};
use super::method::Method;
use super::modern_params::{CallParamsRead, CallRead, Named, ParamsKey};
use super::params_text::ParamsText;

/// Found in every `tools/call` (its method, as JSON text); a message without it is not tried.
static TOOLS_CALL: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(br#""tools/call""#));

/// Found in a `tools/call` with `_meta` spelled plainly: its params are read by the 2026-07-28
/// path's reading, which reads `_meta`; without it, by a plainer one.
static META: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(br#""_meta""#));

/// A message's text up to this size is kept as a copy of its own. Shared, a small message would
/// keep the whole buffer the transport read it into (hyper's: 8 KB and more) alive for as long
/// as what reads it later may, which for a call that goes on as a task is the task's lifetime;
/// a copy of a few hundred bytes costs about a hundred instructions.
const COPIED_UP_TO: usize = 4096;

impl Message {
    /// [`Message::parse`], reading a `tools/call`'s params in the same pass when it can (see
    /// the [module](self)): such a request carries them in [`Request::call`](Request), and no
    /// raw `params`. Params with `_meta` keep a copy of `bytes`.
    pub(crate) fn read(bytes: &[u8]) -> Result<Self, Box<Response>> {
        match read_call(bytes, |text| ParamsText::Copy(text.into())) {
            Some(request) => Ok(Self::Request(request)),
            None => Self::parse(bytes),
        }
    }

    /// The same, params with `_meta` keeping `bytes` shared rather than copied when it is
    /// larger than [`COPIED_UP_TO`].
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn read_shared(bytes: &Bytes) -> Result<Self, Box<Response>> {
        let keep = |text: &str| {
            if text.len() <= COPIED_UP_TO {
                ParamsText::Copy(text.into())
            } else {
                ParamsText::Message(bytes.clone())
            }
        };
        match read_call(bytes, keep) {
            Some(request) => Ok(Self::Request(request)),
            None => Self::parse(bytes),
        }
    }
}

/// The message as a `tools/call` read whole, or `None` (then [`Message::parse`] reads it).
/// `keep` keeps the message's text, asked only for params with `_meta`.
fn read_call(bytes: &[u8], keep: impl FnOnce(&str) -> ParamsText) -> Option<Request> {
    TOOLS_CALL.find(bytes)?;
    // JSON text is UTF-8 (RFC 8259 §8.1), checked once over the whole text, as `parse` does.
    let text = std::str::from_utf8(bytes).ok()?;
    let (id, call) = if META.find(bytes).is_none() {
        let envelope: CallEnvelope<'_, CallParams> = serde_json::from_str(text).ok()?;
        let (id, CallParams { name, arguments }) = envelope.into_request()?;
        let named = Named {
            name,
            arguments,
            text: None,
        };
        (id, CallRead::Legacy(Box::new(named)))
    } else {
        let envelope: CallEnvelope<'_, CallParamsRead> = serde_json::from_str(text).ok()?;
        let (id, params) = envelope.into_request()?;
        (id, params.into_call(|| keep(text))?)
    };
    Some(Request {
        id,
        method: Method::CallTool,
        params: None,
        call: Some(call),
    })
}

/// A `tools/call` message, its params read by `P`. Its members are those `parse`'s envelope
/// knows, so that a member given twice fails here as it fails there; `result` and `error` mean
/// nothing beside a method.
#[derive(Deserialize)]
struct CallEnvelope<'a, P> {
    #[serde(borrow)]
    jsonrpc: &'a RawValue,
    id: Field<RequestId>,
    #[serde(borrow)]
    method: &'a RawValue,
    params: P,
    #[serde(rename = "result")]
    _result: Option<IgnoredAny>,
    #[serde(rename = "error")]
    _error: Option<IgnoredAny>,
}

impl<P> CallEnvelope<'_, P> {
    /// The request's id and params, for a JSON-RPC 2.0 `tools/call` request.
    fn into_request(self) -> Option<(RequestId, P)> {
        // Compared as written: any other spelling (escapes) is `parse`'s to read.
        if self.jsonrpc.get() != r#""2.0""# || self.method.get() != r#""tools/call""# {
            return None;
        }
        match self.id {
            Field::Valid(id) => Some((id, self.params)),
            _ => None,
        }
    }
}

/// A `tools/call`'s params as the dispatcher reads them (`server::params`): an object with
/// `name` once, as a string, `arguments` at most once, as an object or `null`, any other member
/// ignored; and no `_meta`, which the dispatcher keeps as raw text for the handler.
struct CallParams {
    name: String,
    arguments: Option<Arguments>,
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
                            arguments = Some(map.next_value::<Option<Arguments>>()?);
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

/// What a message comes to for the dispatcher, written out: a request's id, its method, a
/// `tools/call`'s name, arguments and `_meta` map (read from its raw params as `server::params`
/// reads them, or as [`Message::read`] read them), and what the 2026-07-28 path reads of its
/// params; any other message as it is, an error as its JSON.
#[cfg_attr(not(any(test, feature = "http")), allow(dead_code))]
fn seen(message: Result<Message, Box<Response>>) -> String {
    #[derive(Deserialize)]
    struct Read {
        name: String,
        arguments: Option<Arguments>,
        #[serde(rename = "_meta")]
        meta: Option<Map<String, Value>>,
    }
    let meta_in = |text: Option<ParamsText>| text?.meta();
    match message {
        Ok(Message::Request(mut request)) => {
            let modern = request.take_modern(false);
            let params = request.params.as_deref();
            let named = modern.as_ref().and_then(|modern| modern.named.as_ref());
            let call =
                match (&request.call, named, params) {
                    (Some(_), _, Some(_)) => panic!("a request with both its params read and raw"),
                    (Some(CallRead::Modern(_)), ..) => panic!("2026-07-28 params left untaken"),
                    (Some(CallRead::Legacy(named)), None, None) => Some((
                        named.name.clone(),
                        named.arguments.clone(),
                        meta_in(named.text.clone()),
                    )),
                    (Some(CallRead::Legacy(_)), Some(_), None) => panic!("params read twice"),
                    (None, Some(named), params) => Some((
                        named.name.clone(),
                        named.arguments.clone(),
                        meta_in(named.text.clone().or_else(|| {
                            params.map(|params| ParamsText::Params(params.to_owned()))
                        })),
                    )),
                    (None, None, Some(params)) if request.method == Method::CallTool => {
                        serde_json::from_str::<Read>(params.get())
                            .ok()
                            .map(|read| (read.name, read.arguments, read.meta))
                    }
                    (None, None, _) => None,
                };
            let modern = modern.map(|modern| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?}",
                    modern.version,
                    modern.capabilities,
                    modern.log_level,
                    modern.target(),
                    modern.continues_round
                )
            });
            format!(
                "request {:?} {} {call:?} {modern:?}",
                request.id, request.method
            )
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
    let taken = matches!(read, Ok(Message::Request(Request { call: Some(_), .. })));
    let parsed = Message::parse(bytes);
    assert_eq!(
        seen(read),
        seen(parsed),
        "{}",
        String::from_utf8_lossy(bytes)
    );
    taken
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
    fn a_tools_call_with_meta_is_read_in_one_pass_as_parse_and_the_2026_path_read_it() {
        let modern = r#""io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{}},"io.modelcontextprotocol/logLevel":"debug""#;
        for text in [
            // A legacy request asking for progress; `_meta` null; `_meta` among other members.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":"p"}}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":null,"name":"echo"}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","_meta":{"a":[1,{"b":"\u00e9"}],"a":2}},"x":{"_meta":1}}"#.to_owned(),
            // "_meta" found elsewhere than the params' member.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"_meta":1}}}"#.to_owned(),
            // 2026-07-28 requests.
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hi"}},"_meta":{{{modern}}}}}}}"#),
            format!(r#"{{"_meta":0,"params":{{"_meta":{{{modern},"io.modelcontextprotocol/clientInfo":{{"name":"c"}}}},"name":"echo","task":{{}}}},"method":"tools/call","id":9,"jsonrpc":"2.0"}}"#),
            // One the 2026-07-28 path refuses, as it refuses it from raw params.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":7}}}"#.to_owned(),
        ] {
            assert!(agree(&text), "read in one pass: {text}");
        }
    }

    #[test]
    fn a_modern_requests_meta_map_is_the_same_read_in_one_pass() {
        let text = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","x":[1,"\u00e9"]}}}"#;
        let meta = |message| match message {
            Ok(Message::Request(request)) => request.modern_meta(),
            other => panic!("{other:?}"),
        };
        let read = meta(Message::read(text.as_bytes()));
        assert!(read.is_some());
        assert_eq!(read, meta(Message::parse(text.as_bytes())));
    }

    #[test]
    fn the_text_is_kept_for_meta_only_copied_when_small_shared_when_large() {
        let kept = |text: String| {
            let shared = Bytes::from(text);
            let Ok(Message::Request(request)) = Message::read_shared(&shared) else {
                panic!("a request");
            };
            let Some(CallRead::Legacy(named)) = request.call else {
                panic!("read in one pass");
            };
            match named.text {
                Some(ParamsText::Copy(kept)) => {
                    assert_eq!(kept.as_bytes(), shared, "the whole message");
                    false
                }
                Some(ParamsText::Message(kept)) => {
                    assert_eq!(kept.as_ptr(), shared.as_ptr(), "shared, not copied");
                    assert_eq!(kept, shared, "the whole message");
                    true
                }
                other => panic!("the text kept: {other:?}"),
            }
        };
        let call = |text: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}},"_meta":{{"progressToken":"p"}}}}}}"#
            )
        };
        assert!(!kept(call("hello")), "a small message is copied");
        assert!(
            kept(call(&"x".repeat(COPIED_UP_TO))),
            "a large one is shared"
        );
        let plain = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;
        let Ok(Message::Request(request)) = Message::read(plain.as_bytes()) else {
            panic!("a request");
        };
        let Some(CallRead::Legacy(named)) = request.call else {
            panic!("read in one pass");
        };
        assert!(named.text.is_none(), "no `_meta`, nothing kept");
    }

    #[test]
    fn anything_else_is_left_to_parse_which_answers_it_as_ever() {
        for text in [
            // Another method, even one naming tools/call in its params.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"\"tools/call\""}}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#,
            // `_meta` spelled with escapes, repeated, or neither an object nor `null`.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","\u005fmeta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{},"_meta":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":5}}"#,
            // A round's responses or state, read from the raw params.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{},"requestState":"s"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"inputResponses":{}}}"#,
            // With `_meta`, params the dispatcher refuses, or a `Value` refuses.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b","_meta":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":7,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","_meta":{"x":"\ud800"}}}"#,
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
