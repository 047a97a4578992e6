//! Reading a request's params: the one parse every method uses, and the params of the methods
//! that name a tool or prompt.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::name_index::NameIndex;
use super::reply::Reply;
use crate::protocol::{ErrorObject, RequestId, Response, error_code};

pub(super) fn parse_params<'a, T: Deserialize<'a>>(
    params: Option<&'a RawValue>,
) -> Result<T, ErrorObject> {
    let text = params.map_or("{}", RawValue::get);
    serde_json::from_str(text)
        .map_err(|e| ErrorObject::new(error_code::INVALID_PARAMS, format!("invalid params: {e}")))
}

/// The params of `tools/call` and `prompts/get`.
#[derive(Deserialize)]
pub(super) struct NamedParams<'a> {
    /// Borrowed from the message unless it has escapes: the name is only looked up.
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
    pub(super) arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta")]
    pub(super) meta: Option<Map<String, Value>>,
}

impl<'a> NamedParams<'a> {
    /// The params of request `id`, and the index `name` has in `by_name`; or the error reply
    /// (bad params, or an unknown `kind`).
    pub(super) fn find(
        params: Option<&'a RawValue>,
        by_name: &NameIndex,
        kind: &str,
        id: &RequestId,
    ) -> Result<(Self, usize), Reply> {
        let params: Self = parse_params(params)
            .map_err(|error| Reply::Response(Response::error(Some(id.clone()), error)))?;
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
