//! A request's `_meta` as [`RequestContext::meta`](super::RequestContext::meta) gives it: the
//! map, built from the request's params the first time a handler asks for it. Most handlers
//! never ask (a 2026-07-28 request's `_meta` holds the client's identity and capabilities,
//! which the dispatcher has already read), and building it cost a `tools/call` a tenth of its
//! instructions (issue 24).

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::protocol::ParamsText;

/// A request's `_meta`: built, or the params it is built from when asked for.
#[derive(Debug)]
pub(crate) struct RequestMeta(Source);

#[derive(Debug)]
enum Source {
    Built(Map<String, Value>),
    /// Params (an object) whose `_meta` the dispatcher found to be an object a `Value` reads,
    /// given once: as raw JSON, or in their message.
    Later {
        params: ParamsText,
        built: OnceLock<Map<String, Value>>,
    },
}

impl RequestMeta {
    /// A `_meta` already built.
    pub(crate) fn built(meta: Map<String, Value>) -> Self {
        Self(Source::Built(meta))
    }

    /// The `_meta` of `params`, a JSON object whose one `_meta` member is an object the
    /// dispatcher read as a `serde_json::Value` reads it (so building it cannot fail).
    pub(crate) fn later(params: ParamsText) -> Self {
        Self(Source::Later {
            params,
            built: OnceLock::new(),
        })
    }

    /// The map.
    pub(crate) fn get(&self) -> &Map<String, Value> {
        match &self.0 {
            Source::Built(meta) => meta,
            Source::Later { params, built } => {
                built.get_or_init(|| params.meta().unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_later_it_is_the_params_own() {
        let params = r#"{"name":"t","_meta":{"progressToken":"p","a\u0062":[1,{"c":null}]}}"#;
        let raw = serde_json::value::RawValue::from_string(params.to_owned()).unwrap();
        let message = format!(r#"{{"jsonrpc":"2.0","id":1,"params":{params}}}"#);
        let expected: Map<String, Value> =
            serde_json::from_str(r#"{"progressToken":"p","ab":[1,{"c":null}]}"#).unwrap();
        for text in [
            ParamsText::Params(raw),
            ParamsText::Message(bytes::Bytes::from(message)),
        ] {
            assert_eq!(RequestMeta::later(text).get(), &expected);
        }
        assert_eq!(RequestMeta::built(expected.clone()).get(), &expected);
    }
}
