//! 2026-07-28 input requests (SEP-2322, basic/patterns/mrtr), the dispatcher's side: a round
//! opened from the request (its `inputResponses` and sealed `requestState`), the presented
//! state accepted once, and the `InputRequiredResult` that ends a round whose handler asked the
//! client for something. The handler's side is `handler::InputRound`.
//!
//! Nothing is kept on the server between rounds: the answers gathered so far travel sealed in
//! the state ([`super::request_state`]), so any replica serves the next round; only the ids of
//! used states are kept, in the [`ReplayStore`](super::ReplayStore), until they expire.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::json::raw;
use super::registry::Core;
use super::reply::{Refusal, Reply};
use super::request_state::{Binding, MAX_STATE_CHARS, Sealed};
use std::collections::HashMap;

use crate::handler::{Answer, DeferredBind, InputRound};
use crate::principal::Principal;
use crate::protocol::{
    ErrorObject, Method, ModernParams, ParamsText, RequestId, Response, error_code,
};

/// How a round that did not produce the handler's output ends.
#[derive(Debug)]
pub(crate) enum InputEnd {
    /// The handler asked the client for something: an `InputRequiredResult`.
    Asked(Box<RawValue>),
    /// The round was refused (its state already used or unchecked, an answer of the wrong kind).
    Refused(ErrorObject),
    /// The handler needs a capability the client did not declare: -32021, HTTP 400.
    MissingCapability(ErrorObject),
}

impl InputEnd {
    /// The reply to request `id`.
    pub(crate) fn reply(&self, id: &RequestId) -> Reply {
        match self {
            InputEnd::Asked(result) => {
                Reply::Response(Response::result(id.clone(), result.clone()))
            }
            InputEnd::Refused(error) => {
                Reply::Response(Response::error(Some(id.clone()), error.clone()))
            }
            InputEnd::MissingCapability(error) => Reply::Refused(
                Response::error(Some(id.clone()), error.clone()),
                Refusal::BadRequest,
            ),
        }
    }
}

/// The error for an answer that is not the result of the request it answers (the key clipped:
/// the client chose it).
pub(crate) fn malformed_answer(key: &str) -> ErrorObject {
    ErrorObject::new(
        error_code::INVALID_PARAMS,
        format!(
            "`inputResponses[{}]` is not the result of the request it answers",
            Value::String(crate::clip::clip(key, crate::clip::TEXT_BYTES).into_owned())
        ),
    )
}

/// The error for a request that needs client capabilities the client did not declare
/// (2026-07-28, SEP-2575 "Missing Required Client Capability"): `required` in the shape of the
/// client's capabilities.
pub(crate) fn missing_capability(required: Value) -> ErrorObject {
    ErrorObject::new(
        error_code::MISSING_CLIENT_CAPABILITY,
        "Missing required client capability",
    )
    .with_data(json!({ "requiredCapabilities": required }))
}

/// A first round's binding, worked out when its handler first asks the client for something:
/// the params read as [`Core::open_round`] reads a later round's (a `Value` reads them), so
/// that both bind the same target.
fn deferred_digest(deferred: &DeferredBind) -> String {
    let params: Map<String, Value> = deferred.text.read().unwrap_or_default();
    Binding {
        principal: &deferred.principal,
        method: &deferred.method,
        target: params
            .get(deferred.target_key)
            .and_then(Value::as_str)
            .unwrap_or_default(),
        arguments: params.get("arguments").and_then(Value::as_object),
    }
    .digest()
}

impl Core {
    /// The input round of a 2026-07-28 `tools/call`, `prompts/get` or `resources/read` (`None`
    /// for any other method): this request's `inputResponses` and the answers of earlier rounds
    /// from its `requestState`, opened, unexpired and bound to this caller, request and
    /// arguments. A malformed, forged, expired or foreign state is refused before anything
    /// runs.
    ///
    /// A first round (no `inputResponses`, no `requestState`) is opened from `modern`, the
    /// params as the transport read them; what its state would be bound to is worked out only
    /// if its handler asks the client for something.
    pub(super) fn open_round(
        &self,
        method: &Method,
        params: Option<&RawValue>,
        modern: &ModernParams,
        principal: &Principal,
    ) -> Result<Option<Arc<InputRound>>, ErrorObject> {
        let target_key = match method {
            Method::CallTool | Method::GetPrompt => "name",
            Method::ReadResource => "uri",
            _ => return Ok(None),
        };
        if modern.continues_round == Some(false) {
            if modern.target().is_none() {
                return Ok(Some(Arc::new(InputRound::new(
                    String::new(),
                    None,
                    HashMap::new(),
                ))));
            }
            // Where the params are read again: the message they were read with (shared), or
            // the raw params (copied).
            let text = match (
                modern.named.as_ref().and_then(|named| named.text.clone()),
                params,
            ) {
                (Some(text), _) => Some(text),
                (None, Some(params)) => Some(ParamsText::Params(params.to_owned())),
                (None, None) => None,
            };
            if let Some(text) = text {
                return Ok(Some(Arc::new(InputRound::first(DeferredBind {
                    text,
                    principal: principal.clone(),
                    method: method.clone(),
                    target_key,
                    digest: deferred_digest,
                }))));
            }
        }
        let invalid = |message: String| ErrorObject::new(error_code::INVALID_PARAMS, message);
        let params: Map<String, Value> = match params {
            None => Map::new(),
            Some(params) => serde_json::from_str(params.get())
                .map_err(|_| invalid("params must be an object".into()))?,
        };
        // A target the method's own parsing refuses; no state can be bound to it.
        let Some(target) = params.get(target_key).and_then(Value::as_str) else {
            return Ok(Some(Arc::new(InputRound::new(
                String::new(),
                None,
                HashMap::new(),
            ))));
        };
        let responses = match params.get("inputResponses") {
            None => Map::new(),
            Some(Value::Object(responses)) if responses.values().all(Value::is_object) => {
                responses.clone()
            }
            Some(_) => {
                return Err(invalid(
                    "`inputResponses` must be an object whose values are the client's results"
                        .into(),
                ));
            }
        };
        let bind = Binding {
            principal,
            method,
            target,
            arguments: params.get("arguments").and_then(Value::as_object),
        }
        .digest();
        let Some(text) = params.get("requestState") else {
            // A first round: nothing was asked yet, so nothing is answered (answers sent without
            // a state are ignored, as answers to questions never asked).
            return Ok(Some(Arc::new(InputRound::new(bind, None, HashMap::new()))));
        };
        let Value::String(text) = text else {
            return Err(invalid("`requestState` must be a string".into()));
        };
        let state = Sealed::open(text, &self.inner.options.state_keys, &bind)
            .map_err(|e| invalid(e.to_string()))?;
        let life = state.remaining();
        // The answers of earlier rounds stand; this round's answer only what the last round
        // asked, each for the question it asked.
        let mut answers: HashMap<String, Answer> = state
            .answers
            .into_iter()
            .filter_map(|(key, held)| {
                let result = held.get("result")?.clone();
                let question = held.get("question")?.as_str()?.to_owned();
                Some((key, Answer { result, question }))
            })
            .collect();
        for (key, question) in state.asked {
            if let (Some(result), Some(question)) = (responses.get(&key), question.as_str())
                && !answers.contains_key(&key)
            {
                let answer = Answer {
                    result: result.clone(),
                    question: question.to_owned(),
                };
                answers.insert(key, answer);
            }
        }
        Ok(Some(Arc::new(InputRound::new(
            bind,
            Some((state.id, life)),
            answers,
        ))))
    }

    /// Records the state the client presented as used, before its handler runs (after the
    /// scope check, so that a step-up can retry with it): a state is accepted once. A store
    /// that cannot answer refuses the round.
    pub(super) async fn admit_input(&self, round: &InputRound) -> Result<(), InputEnd> {
        let Some((id, life)) = round.presented() else {
            return Ok(());
        };
        // Kept a minute past the state's own expiry: a replica whose clock runs behind still
        // finds it used.
        let keep = life.saturating_add(std::time::Duration::from_secs(60));
        match self.inner.options.replay_store.first_use(id, keep).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(InputEnd::Refused(ErrorObject::new(
                error_code::INVALID_PARAMS,
                "`requestState` was already used",
            ))),
            Err(error) => {
                tracing::warn!(target: "scopegate::input", %error, "request state not checked");
                Err(InputEnd::Refused(ErrorObject::new(
                    error_code::INTERNAL_ERROR,
                    "the request state could not be checked; try again",
                )))
            }
        }
    }

    /// How a round whose handler asked the client for something ends: an
    /// `InputRequiredResult` with the requests and a new sealed state holding every answer the
    /// handler read, or the error for an answer that was not the result asked for.
    pub(super) fn input_required(&self, round: &InputRound) -> InputEnd {
        if let Some(capability) = round.missing() {
            return InputEnd::MissingCapability(missing_capability(json!({ capability: {} })));
        }
        if let Some(key) = round.malformed() {
            return InputEnd::Refused(malformed_answer(&key));
        }
        let requests: Map<String, Value> = round
            .asked()
            .into_iter()
            .map(|asked| {
                let request = json!({ "method": asked.kind.method(), "params": asked.params });
                (asked.key, request)
            })
            .collect();
        let options = &self.inner.options;
        let answers: Map<String, Value> = round
            .used()
            .into_iter()
            .map(|(key, a)| (key, json!({ "result": a.result, "question": a.question })))
            .collect();
        let asked: Map<String, Value> = round
            .asked()
            .into_iter()
            .map(|asked| (asked.key, asked.question.into()))
            .collect();
        let Some(state) = Sealed::new(
            round.bind().to_owned(),
            answers,
            asked,
            options.request_state_ttl,
        )
        .seal(&options.state_keys) else {
            return InputEnd::Refused(ErrorObject::new(
                error_code::INTERNAL_ERROR,
                format!(
                    "the answers gathered exceed the request state's limit of {} KiB",
                    MAX_STATE_CHARS / 1024
                ),
            ));
        };
        InputEnd::Asked(raw(&json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": state,
        })))
    }
}
