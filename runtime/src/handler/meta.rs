//! A request's `_meta` as [`RequestContext::meta`](super::RequestContext::meta) gives it: the
//! map, built from the request's params the first time a handler asks for it. Most handlers
//! never ask (a 2026-07-28 request's `_meta` holds the client's identity and capabilities,
//! which the dispatcher has already read), and building it cost a `tools/call` a tenth of its
//! instructions (issue 24).

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A request's `_meta`: built, or the params it is built from when asked for.
#[derive(Debug)]
pub(crate) struct RequestMeta(Source);

#[derive(Debug)]
enum Source {
    Built(Map<String, Value>),
    /// Params (an object) whose `_meta` the dispatcher found to be an object a `Value` reads,
    /// given once.
    Later {
        params: Box<RawValue>,
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
    pub(crate) fn later(params: Box<RawValue>) -> Self {
        Self(Source::Later {
            params,
            built: OnceLock::new(),
        })
    }

    /// The map.
    pub(crate) fn get(&self) -> &Map<String, Value> {
        match &self.0 {
            Source::Built(meta) => meta,
            Source::Later { params, built } => built.get_or_init(|| {
                #[derive(Deserialize)]
                struct Params {
                    #[serde(rename = "_meta")]
                    meta: Option<Map<String, Value>>,
                }
                serde_json::from_str::<Params>(params.get())
                    .ok()
                    .and_then(|params| params.meta)
                    .unwrap_or_default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_later_it_is_the_params_own() {
        let params = RawValue::from_string(
            r#"{"name":"t","_meta":{"progressToken":"p","a\u0062":[1,{"c":null}]}}"#.to_owned(),
        )
        .unwrap();
        let later = RequestMeta::later(params);
        let expected: Map<String, Value> =
            serde_json::from_str(r#"{"progressToken":"p","ab":[1,{"c":null}]}"#).unwrap();
        assert_eq!(later.get(), &expected);
        assert_eq!(RequestMeta::built(expected.clone()).get(), &expected);
    }
}
