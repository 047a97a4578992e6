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
use crate::protocol::{ErrorObject, Named, RequestId, Response, Skip, SkipKey, error_code};

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
    pub(super) arguments: Option<Map<String, Value>>,
    /// Built when the handler asks for it.
    pub(super) meta: Option<RequestMeta>,
}

mod read {
    use super::{CheckedMap, Cow, Deserialize, Map, Value, de};

    /// The params as read: `_meta` checked as a map of values would be read (the same errors),
    /// without building it. (Named as the params are: an error names the struct.)
    #[derive(Deserialize)]
    pub(super) struct NamedParams<'a> {
        #[serde(borrow)]
        pub(super) name: Cow<'a, str>,
        pub(super) arguments: Option<Map<String, Value>>,
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
    /// reading them here would succeed.
    pub(super) fn find(
        params: Option<&'a RawValue>,
        named: Option<Box<Named>>,
        by_name: &NameIndex,
        kind: &str,
        id: &RequestId,
    ) -> Result<(Self, usize), Reply> {
        let refuse = |error| Reply::Response(Response::error(Some(id.clone()), error));
        let params = match (named, params) {
            (Some(named), Some(params)) => {
                let Named { name, arguments } = *named;
                Self {
                    name: Cow::Owned(name),
                    arguments,
                    meta: Some(RequestMeta::later(params.to_owned())),
                }
            }
            _ => Self::read(params).map_err(refuse)?,
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
                Some(RequestMeta::later(params.to_owned()))
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
