//! Reading a request's params: the one parse every method uses, and the params of the methods
//! that name a tool or prompt.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::name_index::NameIndex;
use super::reply::Reply;
use crate::handler::RequestMeta;
use crate::protocol::{
    Arguments, ErrorObject, Named, ParamsText, RequestId, Response, Skip, SkipKey, error_code,
};

pub(super) fn parse_params<'a, T: Deserialize<'a>>(
    params: Option<&'a RawValue>,
) -> Result<T, ErrorObject> {
    let text = params.map_or("{}", RawValue::get);
    serde_json::from_str(text)
        .map_err(|e| ErrorObject::new(error_code::INVALID_PARAMS, format!("invalid params: {e}")))
}

/// The params of `tools/call` and `prompts/get`.
pub(super) struct NamedParams<'a> {
    /// Borrowed from the message unless it has escapes: the name is only looked up.
    pub(super) name: Cow<'a, str>,
    pub(super) arguments: Option<Arguments>,
    /// Built when the handler asks for it.
    pub(super) meta: Option<RequestMeta>,
}

mod read {
    use super::{Arguments, CheckedMap, Cow, Deserialize, Map, Value, de};

    /// The params as read: `_meta` checked as a map of values would be read (the same errors),
    /// without building it. (Named as the params are: an error names the struct.)
    #[derive(Deserialize)]
    pub(super) struct NamedParams<'a> {
        #[serde(borrow)]
        pub(super) name: Cow<'a, str>,
        pub(super) arguments: Option<Arguments>,
        #[serde(rename = "_meta")]
        pub(super) meta: Option<CheckedMap>,
    }

    /// The same params with `_meta` built, for params given as an array (members by position).
    #[derive(Deserialize)]
    pub(super) struct Built<'a> {
        #[serde(borrow, rename = "name")]
        _name: Cow<'a, str>,
        #[serde(rename = "arguments")]
        _arguments: Option<de::IgnoredAny>,
        #[serde(rename = "_meta")]
        pub(super) meta: Option<Map<String, Value>>,
    }
}

/// A JSON object read as `Map<String, Value>` reads it (the same errors, at the same places),
/// and dropped.
struct CheckedMap;

impl<'de> Deserialize<'de> for CheckedMap {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> de::Visitor<'de> for Object {
            type Value = CheckedMap;
            // `Map`'s own words, which an error quotes.
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<CheckedMap, A::Error> {
                while map.next_entry::<SkipKey, Skip>()?.is_some() {}
                Ok(CheckedMap)
            }
        }
        d.deserialize_map(Object)
    }
}

impl<'a> NamedParams<'a> {
    /// The params of request `id`, and the index `name` has in `by_name`; or the error reply
    /// (bad params, or an unknown `kind`).
    ///
    /// `named`: the params as a 2026-07-28 request's one reading found them (`Named`), when
    /// reading them here would succeed; or a `tools/call`'s, read with its message (then there
    /// are no raw `params`, and its `_meta`, if any, is read from the message's text).
    pub(super) fn find(
        params: Option<&'a RawValue>,
        named: Option<Named>,
        by_name: &NameIndex,
        kind: &str,
        id: &RequestId,
    ) -> Result<(Self, usize), Reply> {
        let refuse = |error| Reply::Response(Response::error(Some(id.clone()), error));
        let params = match (named, params) {
            (Some(named), params) => {
                let Named {
                    name,
                    arguments,
                    text,
                } = named;
                // `_meta` from the message the params were read with, or from the raw params.
                let text =
                    text.or_else(|| params.map(|params| ParamsText::Params(params.to_owned())));
                Self {
                    name: Cow::Owned(name),
                    arguments,
                    meta: text.map(RequestMeta::later),
                }
            }
            (None, params) => Self::read(params).map_err(refuse)?,
        };
        match by_name.get(&*params.name) {
            Some(&index) => Ok((params, index)),
            None => Err(Reply::Response(Response::error(
                Some(id.clone()),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("unknown {kind}: {}", params.name),
                ),
            ))),
        }
    }
}

impl<'a> NamedParams<'a> {
    /// The params read here.
    fn read(params: Option<&'a RawValue>) -> Result<Self, ErrorObject> {
        let read: read::NamedParams<'a> = parse_params(params)?;
        let meta = match (read.meta, params) {
            (None, _) | (_, None) => None,
            (Some(CheckedMap), Some(params)) if params.get().starts_with('{') => {
                Some(RequestMeta::later(ParamsText::Params(params.to_owned())))
            }
            (Some(CheckedMap), Some(params)) => parse_params::<read::Built<'_>>(Some(params))?
                .meta
                .map(RequestMeta::built),
        };
        Ok(Self {
            name: read.name,
            arguments: read.arguments,
            meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Message, Request};

    fn request(params: &str) -> Request {
        let text = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(request)) => request,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_modern_call_read_in_one_pass_is_read_as_here() {
        let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
        let cases = [
            r#""name":"echo","arguments":{"text":"hi","n":[1,{"a":null}]}"#,
            r#""name":"echo""#,
            r#""name":"echo","arguments":null"#,
            r#""n\u0061me":"e\u0063ho","\u0061rguments":{"a":1,"a":2},"other":[1]"#,
            // Refused here: the one pass must leave these to this reading.
            r#""name":"echo","name":"echo""#,
            r#""name":5"#,
            r#""arguments":{}"#,
            r#""name":"echo","arguments":[1]"#,
            r#""name":"echo","arguments":{},"arguments":{}"#,
        ];
        for case in cases {
            let request = request(&format!("{{{case},{meta}}}"));
            let modern = request.modern().expect("a 2026-07-28 request");
            let here = NamedParams::read(request.params.as_deref());
            match (modern.named, here) {
                (Some(named), Ok(here)) => {
                    assert_eq!(named.name, here.name, "{case}");
                    assert_eq!(named.arguments, here.arguments, "{case}");
                    assert!(here.meta.is_some(), "{case}");
                }
                (None, Err(_)) => {}
                (named, here) => panic!("{case}: {named:?} against {:?}", here.err()),
            }
        }
    }
}
