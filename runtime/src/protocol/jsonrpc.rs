//! JSON-RPC 2.0 framing: messages parsed in one pass (requests, notifications, responses to the
//! server's own requests), ids, error objects and responses.
//!
//! Parsing follows JSON-RPC 2.0 §4–5: text that is not JSON is a parse error (-32700); JSON that
//! is not a single request, notification or response object is an invalid request (-32600). MCP
//! removed batches in 2025-06-18, so an array is an invalid request too.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize, de};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::method::Method;
use super::modern_params::{CallRead, ModernParams, modern_meta, read_modern};
use super::raw_json::{ENVELOPE, ERROR, RESULT, RawJson, envelope};

/// Standard JSON-RPC 2.0 error codes.
pub mod error_code {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// MCP: the resource does not exist.
    pub const RESOURCE_NOT_FOUND: i32 = -32002;
    /// scopegate: the caller lacks the scopes the operation requires (transports without an
    /// HTTP status to carry the denial, such as stdio, answer with this code).
    pub const INSUFFICIENT_SCOPE: i32 = -32003;
    /// scopegate: the caller used up a tool's quota (`#[mcp_tool(quota = "10/min")]`); HTTP
    /// answers it with 429 and `Retry-After`, `data.retryAfterSeconds` says when elsewhere.
    pub const QUOTA_EXCEEDED: i32 = -32029;
    /// MCP 2026-07-28: HTTP headers disagree with the body, or are missing.
    pub const HEADER_MISMATCH: i32 = -32020;
    /// MCP 2026-07-28: the request needs a client capability it did not declare.
    pub const MISSING_CLIENT_CAPABILITY: i32 = -32021;
    /// MCP 2026-07-28: the requested protocol version is not supported.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
}

/// A JSON-RPC request id: a string or an integer (MCP forbids `null`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(serde_json::Number),
    /// A string id.
    String(Arc<str>),
}

impl RequestId {
    /// A string or integer JSON value as a request id.
    #[must_use]
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Self::String(s.into())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Number(n)),
            _ => None,
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request: it gets exactly one response.
#[derive(Debug)]
pub struct Request {
    /// The id the response must carry.
    pub id: RequestId,
    /// The method, parsed once.
    pub method: Method,
    /// The raw `params`, parsed by the method's handler.
    pub params: Option<Box<RawValue>>,
    /// A `tools/call`'s params, when the transport read them with the message (then `params`
    /// is `None`); see `Message::read`.
    pub(crate) call: Option<CallRead>,
}

impl Request {
    /// The `_meta` of a 2026-07-28 request (one whose `_meta` names its protocol version), or
    /// `None` for a legacy request.
    #[must_use]
    pub fn modern_meta(&self) -> Option<Map<String, Value>> {
        match &self.call {
            // Its params were read: `_meta` is an object naming the version.
            Some(CallRead::Modern(modern)) => modern.named.as_ref()?.text.as_ref()?.meta(),
            Some(CallRead::Legacy(_)) => None,
            None => modern_meta(self.params.as_deref()?),
        }
    }

    /// The params of a 2026-07-28 request (one whose `_meta` names its protocol version), or
    /// `None` for a legacy request: taken when they were read with the message, read from the
    /// raw params otherwise (`announced`: see [`read_modern`]).
    pub(crate) fn take_modern(&mut self, announced: bool) -> Option<Box<ModernParams>> {
        if let Some(CallRead::Modern(modern)) = self
            .call
            .take_if(|call| matches!(call, CallRead::Modern(_)))
        {
            return Some(modern);
        }
        read_modern(&self.method, self.params.as_deref()?, announced).map(Box::new)
    }

    /// The same, read from the raw params, leaving the request as it is.
    #[cfg(test)]
    pub(crate) fn modern(&self) -> Option<ModernParams> {
        read_modern(&self.method, self.params.as_deref()?, false)
    }
}

/// A notification: it gets no response.
#[derive(Debug)]
pub struct Notification {
    /// The method, parsed once.
    pub method: Method,
    /// The raw `params`.
    pub params: Option<Box<RawValue>>,
}

/// One incoming JSON-RPC message.
#[derive(Debug)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A response to a request this server sent.
    Response {
        /// The id of the request answered; `None` for an error the client could not tie to a
        /// request (JSON-RPC 2.0 §5: `"id": null` when it could not read the id of what it was
        /// sent). Nothing answers a response.
        id: Option<RequestId>,
        /// The result, or the client's error.
        result: Result<Value, ErrorObject>,
    },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a RawValue>,
    // `"id": null` must stay distinguishable from no id (MCP forbids null ids).
    #[serde(default, deserialize_with = "present")]
    id: Option<Field<RequestId>>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<Field<Cow<'a, str>>>,
    params: Option<Box<RawValue>>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// A field read in the envelope's one pass: a value of the type the field must have, or
/// `Invalid` for any other JSON (the message is then refused by name, with its id, rather than
/// failing as a whole). Parsed in place: no second parse of a raw copy.
pub(super) enum Field<T> {
    Valid(T),
    /// `null`: never valid, but an error response's `"id": null` means something (see
    /// [`Message::Response`]).
    Null,
    Invalid,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// What [`Field`]'s visitors answer for the JSON they do not take: `Invalid`, having consumed it.
macro_rules! refuse_other_json {
    ($t:ty) => {
        fn visit_bool<E>(self, _: bool) -> Result<Field<$t>, E> {
            Ok(Field::Invalid)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Field<$t>, E> {
            Ok(Field::Invalid)
        }
        fn visit_unit<E>(self) -> Result<Field<$t>, E> {
            Ok(Field::Null)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<$t>, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(Field::Invalid)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Field<$t>, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Field::Invalid)
        }
    };
}

/// A request id: a string or an integer.
impl<'de> Deserialize<'de> for Field<RequestId> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Id;
        impl<'de> de::Visitor<'de> for Id {
            type Value = Field<RequestId>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Valid(RequestId::String(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Field::Valid(RequestId::Number(v.into())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Field::Valid(RequestId::Number(v.into())))
            }
            refuse_other_json!(RequestId);
        }
        d.deserialize_any(Id)
    }
}

/// A method name: a string, borrowed from the message when it has no escapes.
impl<'de: 'a, 'a> Deserialize<'de> for Field<Cow<'a, str>> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Method<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> de::Visitor<'de> for Method<'a> {
            type Value = Field<Cow<'a, str>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Valid(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Valid(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Field::Invalid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Field::Invalid)
            }
            refuse_other_json!(Cow<'a, str>);
        }
        d.deserialize_any(Method(std::marker::PhantomData))
    }
}

impl Message {
    /// Parses one JSON-RPC message, or gives the error response to send back.
    pub fn parse(bytes: &[u8]) -> Result<Self, Box<Response>> {
        // JSON text is UTF-8 (RFC 8259 §8.1). Checked once, over the whole text: serde_json
        // then reads a `&str` and does not check each string it meets again (a call per
        // string, most of the cost of reading a small message).
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                return Err(Box::new(Response::error(
                    None,
                    ErrorObject::new(
                        error_code::PARSE_ERROR,
                        format!(
                            "invalid JSON: not UTF-8 text (at byte {})",
                            error.valid_up_to()
                        ),
                    ),
                )));
            }
        };
        let envelope: Envelope<'_> = match serde_json::from_str(text) {
            Ok(envelope) => envelope,
            Err(error) => {
                // Valid JSON of the wrong shape (an array, a number, a duplicated key) is an
                // invalid request; anything else did not parse.
                let well_formed = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
                let (code, message) = if bytes.trim_ascii_start().starts_with(b"[") && well_formed {
                    (
                        error_code::INVALID_REQUEST,
                        "batches are not supported: send one JSON-RPC message per request"
                            .to_owned(),
                    )
                } else if well_formed {
                    (
                        error_code::INVALID_REQUEST,
                        format!("not a JSON-RPC 2.0 message: {error}"),
                    )
                } else {
                    (error_code::PARSE_ERROR, format!("invalid JSON: {error}"))
                };
                return Err(Box::new(Response::error(
                    None,
                    ErrorObject::new(code, message),
                )));
            }
        };

        let id = match envelope.id {
            None => None,
            Some(Field::Valid(id)) => Some(id),
            // An error response to a message the client could not read: not to be answered.
            Some(Field::Null)
                if envelope.method.is_none()
                    && envelope.result.is_none()
                    && envelope.jsonrpc.map(RawValue::get) == Some("\"2.0\"") =>
            {
                if let Some(Ok(error)) = envelope.error.map(|e| serde_json::from_str(e.get())) {
                    return Ok(Self::Response {
                        id: None,
                        result: Err(error),
                    });
                }
                return Err(invalid_request(None, "`id` must be a string or an integer"));
            }
            Some(Field::Null | Field::Invalid) => {
                return Err(invalid_request(None, "`id` must be a string or an integer"));
            }
        };
        if envelope.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
            return Err(invalid_request(id, "`jsonrpc` must be \"2.0\""));
        }
        match envelope.method {
            Some(field) => {
                let Field::Valid(method) = field else {
                    return Err(invalid_request(id, "`method` must be a string"));
                };
                if let Some(params) = &envelope.params {
                    // JSON-RPC 2.0 §4.2: params are structured (object or array).
                    if !matches!(params.get().as_bytes().first(), Some(b'{' | b'[')) {
                        return Err(invalid_request(id, "`params` must be an object"));
                    }
                }
                let method = Method::parse(&method);
                Ok(match id {
                    Some(id) => Self::Request(Request {
                        id,
                        method,
                        params: envelope.params,
                        call: None,
                    }),
                    None => Self::Notification(Notification {
                        method,
                        params: envelope.params,
                    }),
                })
            }
            None => match (id, envelope.result.is_some() || envelope.error.is_some()) {
                (Some(id), true) => {
                    let result = match (envelope.result, envelope.error) {
                        (Some(result), None) => serde_json::from_str(result.get()).map(Ok).ok(),
                        (None, Some(error)) => serde_json::from_str(error.get()).map(Err).ok(),
                        _ => None,
                    };
                    match result {
                        Some(result) => Ok(Self::Response {
                            id: Some(id),
                            result,
                        }),
                        None => Err(invalid_request(
                            Some(id),
                            "a response has exactly one of `result` and a well-formed `error`",
                        )),
                    }
                }
                (id, _) => Err(invalid_request(id, "missing `method`")),
            },
        }
    }
}

fn invalid_request(id: Option<RequestId>, message: &'static str) -> Box<Response> {
    Box::new(Response::error(
        id,
        ErrorObject::new(error_code::INVALID_REQUEST, message),
    ))
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: i32,
    /// A short description.
    pub message: Cow<'static, str>,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with no `data`.
    pub fn new(code: i32, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data`.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// An outgoing JSON-RPC response.
#[derive(Debug)]
pub struct Response {
    /// The id of the request answered (`null` when it could not be read).
    pub id: Option<RequestId>,
    /// The result or the error.
    pub payload: Payload,
}

/// The body of a [`Response`].
#[derive(Debug)]
pub enum Payload {
    /// Success.
    Result(RawJson),
    /// Failure.
    Error(ErrorObject),
}

impl Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = s.serialize_struct("Response", 3)?;
        out.serialize_field("jsonrpc", "2.0")?;
        out.serialize_field("id", &self.id)?;
        match &self.payload {
            Payload::Result(result) => out.serialize_field("result", result)?,
            Payload::Error(error) => out.serialize_field("error", error)?,
        }
        out.end()
    }
}

impl Response {
    /// A success response.
    #[must_use]
    pub fn result(id: RequestId, result: impl Into<RawJson>) -> Self {
        Self {
            id: Some(id),
            payload: Payload::Result(result.into()),
        }
    }

    /// An error response.
    #[must_use]
    pub fn error(id: Option<RequestId>, error: ErrorObject) -> Self {
        Self {
            id,
            payload: Payload::Error(error),
        }
    }

    /// The error, when this is an error response.
    #[must_use]
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match &self.payload {
            Payload::Error(e) => Some(e),
            Payload::Result(_) => None,
        }
    }

    /// Serializes the response as one line of JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        String::from_utf8(self.to_json_bytes()).unwrap_or_else(|_| SERIALIZATION_FAILED.to_owned())
    }

    /// [`Response::to_json`] as bytes, as an HTTP body takes it.
    ///
    /// Written by hand around the id and the payload: the envelope's names are constants, and
    /// serde_json would escape each of them (and check the raw result it embeds) on every
    /// response.
    #[must_use]
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // A result's length is known to the byte (with a plain id): the buffer is exactly the
        // body, which an HTTP body then takes without a further allocation.
        let room = match &self.payload {
            Payload::Result(raw) => {
                let raw = raw.as_bytes().len();
                id_len(self.id.as_ref())
                    .map_or(raw + 48, |id| ENVELOPE.len() + id + RESULT.len() + raw + 1)
            }
            Payload::Error(error) => error.message.len() + 80,
        };
        let mut out = Vec::with_capacity(room);
        // An id is a string or an integer; an error object a code, text and JSON data: writing
        // them to memory cannot fail.
        let written = match &self.payload {
            Payload::Result(raw) => envelope(&mut out, &self.id, RESULT).map(|()| {
                out.extend_from_slice(raw.as_bytes());
            }),
            Payload::Error(error) => envelope(&mut out, &self.id, ERROR)
                .and_then(|()| serde_json::to_writer(&mut out, error)),
        };
        match written {
            Ok(()) => {
                out.push(b'}');
                out
            }
            Err(_) => SERIALIZATION_FAILED.as_bytes().to_vec(),
        }
    }

    /// [`Response::to_json_bytes`], taking the response: a result the server wrote for this
    /// response is already in its body's buffer, which is returned as it is.
    #[must_use]
    pub fn into_json_bytes(self) -> Vec<u8> {
        let Self { id, payload } = self;
        let payload = match payload {
            Payload::Result(raw) => match raw.into_framed(&id) {
                Ok(body) => return body,
                Err(raw) => Payload::Result(raw),
            },
            payload => payload,
        };
        Self { id, payload }.to_json_bytes()
    }
}

/// The length of `id` written as JSON, when it is known without writing it: an integer, or a
/// string with nothing to escape.
fn id_len(id: Option<&RequestId>) -> Option<usize> {
    match id {
        None => Some("null".len()),
        Some(RequestId::Number(number)) => {
            let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
            number
                .as_u64()
                .map(digits)
                .or_else(|| number.as_i64().map(|n| digits(n.unsigned_abs()) + 1))
        }
        Some(RequestId::String(text)) => text
            .bytes()
            .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
            .then(|| text.len() + 2),
    }
}

/// What is sent when a response cannot be serialized (it always can: see
/// [`Response::to_json_bytes`]).
const SERIALIZATION_FAILED: &str = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"response serialization failed"}}"#;

/// Serializes `value` as a raw JSON result.
pub(crate) fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_written_for_its_response_is_that_response_byte_for_byte() {
        let value =
            serde_json::json!({"content": [{"type": "text", "text": "h\u{e9}\n"}], "n": 1.5});
        let ids = [
            RequestId::Number(7.into()),
            RequestId::Number(u64::MAX.into()),
            RequestId::Number(i64::MIN.into()),
            RequestId::String("a\"b".into()),
            RequestId::String("x".repeat(200).into()),
        ];
        for id in ids {
            let expected = Response::result(id.clone(), to_raw(&value).unwrap()).to_json_bytes();
            let raw = RawJson::for_response(&id, &value).unwrap();
            assert_eq!(raw.get(), value.to_string());
            let framed = Response::result(id.clone(), raw.clone());
            assert_eq!(framed.to_json_bytes(), expected, "{id:?}");
            assert_eq!(serde_json::to_vec(&framed).unwrap(), expected, "{id:?}");
            assert_eq!(framed.into_json_bytes(), expected, "{id:?}");
        }
    }

    #[test]
    fn a_renumbered_response_is_framed_for_its_new_id() {
        let value = serde_json::json!({"a": 1});
        let mut response = Response::result(
            RequestId::Number(1.into()),
            RawJson::for_response(&RequestId::Number(1.into()), &value).unwrap(),
        );
        response.id = Some(RequestId::String("renumbered".into()));
        assert_eq!(
            String::from_utf8(response.into_json_bytes()).unwrap(),
            r#"{"jsonrpc":"2.0","id":"renumbered","result":{"a":1}}"#
        );
        let no_id = Response {
            id: None,
            payload: Payload::Result(
                RawJson::for_response(&RequestId::Number(1.into()), &value).unwrap(),
            ),
        };
        assert_eq!(
            String::from_utf8(no_id.into_json_bytes()).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"result":{"a":1}}"#
        );
    }

    #[test]
    fn a_result_is_written_into_a_buffer_of_its_exact_length() {
        let numbers = [0_i64, 9, 10, 99, 100, -1, -10, i64::MIN, i64::MAX];
        let mut ids: Vec<Option<RequestId>> = numbers
            .iter()
            .map(|&n| Some(RequestId::Number(n.into())))
            .collect();
        ids.push(Some(RequestId::Number(u64::MAX.into())));
        for text in ["", "a", "é-ü", "x\u{7f}"] {
            ids.push(Some(RequestId::String(text.into())));
        }
        ids.push(None);
        // Escaped ids, and an id no request has: written alike, with room to spare.
        let escaped = ["say \"hi\"", "back\\slash", "tab\t"];
        let mut spare: Vec<Option<RequestId>> = escaped
            .iter()
            .map(|&t| Some(RequestId::String(t.into())))
            .collect();
        spare.push(Some(RequestId::Number(
            serde_json::Number::from_f64(1.5).unwrap(),
        )));
        let raw =
            to_raw(&serde_json::json!({"content": [{"type": "text", "text": "hi"}]})).unwrap();
        for (id, exact) in ids
            .into_iter()
            .map(|id| (id, true))
            .chain(spare.into_iter().map(|id| (id, false)))
        {
            let response = Response {
                id: id.clone(),
                payload: Payload::Result(raw.clone().into()),
            };
            let bytes = response.to_json_bytes();
            assert_eq!(bytes, serde_json::to_vec(&response).unwrap(), "{id:?}");
            assert_eq!(bytes.len() == bytes.capacity(), exact, "{id:?}");
        }
    }

    fn parse_err(text: &str) -> (Option<RequestId>, i32) {
        let response = Message::parse(text.as_bytes()).expect_err("should be rejected");
        let code = response.error_object().expect("an error").code;
        (response.id.clone(), code)
    }

    #[test]
    fn a_modern_request_is_told_by_its_meta_however_spelled() {
        let request = |params: &str| {
            let text =
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{params}}}"#);
            match Message::parse(text.as_bytes()).unwrap() {
                Message::Request(request) => request,
                other => panic!("{other:?}"),
            }
        };
        for modern in [
            r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#,
            r#"{"\u005fmeta":{"io.modelcontextprotocol\/protocolVersion":"2026-07-28"}}"#,
            r#"{"_meta":{"io.modelcontextprotocol\u002fprotocolVersion":"2026-07-28"}}"#,
        ] {
            assert!(request(modern).modern_meta().is_some(), "{modern}");
        }
        for legacy in [
            r#"{}"#,
            r#"{"cursor":"a\/b"}"#,
            r#"{"_meta":{"progressToken":1}}"#,
        ] {
            assert!(request(legacy).modern_meta().is_none(), "{legacy}");
        }
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert!(
            matches!(m, Message::Request(ref r) if &*r.method == "ping" && r.id == RequestId::Number(7.into()))
        );
        let m =
            Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(
            matches!(m, Message::Notification(ref n) if &*n.method == "notifications/initialized")
        );
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(
            matches!(m, Message::Response { id: Some(RequestId::String(ref s)), result: Ok(_) } if &**s == "a")
        );
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no"}}"#)
            .unwrap();
        assert!(matches!(m, Message::Response { result: Err(ref e), .. } if e.code == -1));
        // JSON-RPC 2.0 §5: an error about a message whose id could not be read has a null id;
        // it is taken (and not answered), where any other null id is refused.
        let m = Message::parse(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
        )
        .unwrap();
        assert!(
            matches!(m, Message::Response { id: None, result: Err(ref e) } if e.code == -32700)
        );
        for refused in [
            &br#"{"jsonrpc":"2.0","id":null,"result":{}}"#[..],
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":null,"error":"bad"}"#,
            br#"{"jsonrpc":"2.0","id":null}"#,
        ] {
            let error = Message::parse(refused).unwrap_err();
            assert_eq!(
                error.error_object().map(|e| e.code),
                Some(error_code::INVALID_REQUEST),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }

    #[test]
    fn rejects_malformed_messages_with_the_right_code() {
        use error_code::*;
        assert_eq!(parse_err("{not json"), (None, PARSE_ERROR));
        assert_eq!(parse_err(""), (None, PARSE_ERROR));
        assert_eq!(
            parse_err(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(parse_err("42"), (None, INVALID_REQUEST));
        let one = Some(RequestId::Number(1.into()));
        assert_eq!(
            parse_err(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
            (one.clone(), INVALID_REQUEST)
        );
        assert_eq!(
            parse_err(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            (one.clone(), INVALID_REQUEST)
        );
        assert_eq!(
            parse_err(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#),
            (one, INVALID_REQUEST)
        );
        assert_eq!(
            parse_err(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(
            parse_err(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#),
            (None, INVALID_REQUEST)
        );
        assert_eq!(
            parse_err(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#).1,
            INVALID_REQUEST
        );
        assert_eq!(parse_err(r#"{"jsonrpc":"2.0","id":3}"#).1, INVALID_REQUEST);
    }

    #[test]
    fn text_is_utf8_or_does_not_parse() {
        // Not UTF-8, in a string or outside one: a parse error, as serde_json reads bytes.
        for bad in [
            &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffing\"}"[..],
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\xc3\"}}",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\xff",
        ] {
            let error = Message::parse(bad).unwrap_err();
            let object = error.error_object().unwrap();
            assert_eq!(object.code, error_code::PARSE_ERROR, "{bad:?}");
            assert!(
                object.message.contains("invalid JSON"),
                "{}",
                object.message
            );
        }
        // UTF-8 text beyond ASCII reads as it is written.
        let text = r#"{"jsonrpc":"2.0","id":"é","method":"ping","params":{"q":"日本"}}"#;
        let Ok(Message::Request(request)) = Message::parse(text.as_bytes()) else {
            panic!("{text}")
        };
        assert_eq!(request.id, RequestId::String("é".into()));
        assert_eq!(request.params.unwrap().get(), r#"{"q":"日本"}"#);
    }

    #[test]
    fn ids_and_methods_of_every_json_shape_are_read_in_one_pass() {
        let message = |text: &str| match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => Ok((r.id, r.method.to_string())),
            Ok(_) => panic!("not a request: {text}"),
            Err(response) => Err((
                response.id.clone(),
                response.error_object().unwrap().message.to_string(),
            )),
        };
        assert_eq!(
            message(r#"{"jsonrpc":"2.0","id":-3,"method":"pi\u006eg"}"#),
            Ok((RequestId::Number((-3).into()), "ping".to_owned())),
            "negative ids; escaped method names"
        );
        assert_eq!(
            message(r#"{"id":"a\"b","method":"ping","jsonrpc":"2.0"}"#),
            Ok((RequestId::String("a\"b".into()), "ping".to_owned()))
        );
        for id in [r#"{"a":[1,{"b":2}]}"#, "[1,[2]]", "true", "1e3", "null"] {
            let text = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            assert_eq!(
                message(&text),
                Err((None, "`id` must be a string or an integer".to_owned())),
                "{text}"
            );
        }
        for method in [r#"{"a":1}"#, "[\"ping\"]", "false", "null", "-1"] {
            let text = format!(r#"{{"jsonrpc":"2.0","id":4,"method":{method}}}"#);
            assert_eq!(
                message(&text),
                Err((
                    Some(RequestId::Number(4.into())),
                    "`method` must be a string".to_owned()
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn method_names_are_parsed_once_however_escaped() {
        let method = |text: &str| match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r.method,
            Ok(Message::Notification(n)) => n.method,
            _ => panic!("{text}"),
        };
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#),
            Method::CallTool
        );
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call"}"#),
            Method::CallTool
        );
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#),
            Method::Cancelled
        );
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"Tools/call"}"#),
            Method::Other("Tools/call".into())
        );
    }

    #[test]
    fn responses_serialize_as_json_rpc() {
        let ok = Response::result(RequestId::String("x".into()), to_raw(&42).unwrap());
        assert_eq!(ok.to_json(), r#"{"jsonrpc":"2.0","id":"x","result":42}"#);
        let err = Response::error(None, ErrorObject::new(error_code::PARSE_ERROR, "bad"));
        assert_eq!(
            err.to_json(),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#
        );
        // Written by hand, the same text as the derived serialization, for every id and payload.
        let ids = [
            None,
            Some(RequestId::Number((-7).into())),
            Some(RequestId::Number(u64::MAX.into())),
            Some(RequestId::String("q\"u\\o\u{1}te é".into())),
        ];
        for id in ids {
            for payload in [
                Payload::Result(
                    to_raw(&serde_json::json!({"a": ["\n", 1.5, null]}))
                        .unwrap()
                        .into(),
                ),
                Payload::Error(
                    ErrorObject::new(error_code::INTERNAL_ERROR, "line\nbreak \"quoted\"")
                        .with_data(serde_json::json!({"why": "✓"})),
                ),
            ] {
                let response = Response {
                    id: id.clone(),
                    payload,
                };
                let derived = serde_json::to_string(&response).unwrap();
                assert_eq!(response.to_json(), derived);
                assert_eq!(response.to_json_bytes(), derived.as_bytes());
            }
        }
    }
}
