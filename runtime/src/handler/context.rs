//! [`RequestContext`]: the request being handled and the way back to the client (progress,
//! logging, sampling, elicitation, roots, cancellation).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::input::{InputKind, InputRound, Lookup};
use super::meta::RequestMeta;
use super::step_up::{Demands, Refused, StepUp};
use crate::connection::{Cancellation, ClientError, Connection, LogLevel, Outbound};
use crate::protocol::{Method, RequestId};

/// The request being handled, and the way back to the client: progress, log messages,
/// sampling, elicitation and roots requests, and cancellation. Ask for it as a parameter.
///
/// # Requests to the client in both eras
///
/// [`elicit`](Self::elicit), [`create_message`](Self::create_message) and
/// [`list_roots`](Self::list_roots) work for clients of every revision. On a 2025 session they
/// travel over the session's stream and the handler awaits the answer. A 2026-07-28 request is
/// stateless (SEP-2322, multi round-trip requests): the server answers `input_required` with
/// the requests, the client repeats its request with the answers, and **the handler runs again
/// from its start**, each request it made before now returning its recorded answer at once.
/// So, for a handler that asks the client anything:
///
/// - make the requests first and act after: code before a request runs again every round, so
///   keep side effects (writes, payments, messages) after the last one;
/// - take the same path for the same arguments and answers: requests are matched to answers by
///   key, [`input`](Self::input)`("name")` for a key of your own, else `input-1`, `input-2`, …
///   in the order they are made;
/// - requests made together (`tokio::join!`) are asked together, in one round;
/// - a request the client declared no capability for ends the call with the error -32021
///   (Missing Required Client Capability; on a 2025 session it is
///   [`ClientError::Unsupported`]): check [`client_supports`](Self::client_supports) first to
///   do without.
///
/// The answers gathered so far travel with the client, sealed (encrypted and authenticated)
/// and bound to the caller, the request and its arguments; each sealed state is accepted once.
#[derive(Debug, Clone)]
pub struct RequestContext {
    inner: Arc<RequestContextInner>,
}

#[derive(Debug)]
struct RequestContextInner {
    request_id: RequestId,
    tool: &'static str,
    meta: Option<RequestMeta>,
    link: Option<Link>,
    cancel: Cancellation,
    demands: Demands,
}

/// The client connection and the request's channel to it, when the transport has them.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) connection: Arc<Connection>,
    pub(crate) outbound: Option<Outbound>,
    /// On a 2026-07-28 `tools/call`, `prompts/get` or `resources/read`: this round's answers,
    /// and where the handler's requests to the client are recorded.
    pub(crate) input: Option<Arc<InputRound>>,
}

/// `notifications/progress` as text, written by hand around its values: a report is a few
/// dozen bytes, and building it as a `Value` first cost several times the writing (serde would
/// still escape each constant member name). Members in the order a `Value` wrote them
/// (sorted), so the text is the same. `None` only if writing to memory failed, which it cannot.
fn progress_text(
    token: &Value,
    progress: f64,
    total: Option<f64>,
    message: Option<&str>,
) -> Option<String> {
    // Room for the members, two numbers and a short token: one allocation, as a rule.
    let mut out = Vec::with_capacity(160 + message.map_or(0, str::len));
    out.extend_from_slice(br#"{"jsonrpc":"2.0","method":""#);
    // A method name is plain ASCII: nothing in it to escape.
    out.extend_from_slice(Method::Progress.as_str().as_bytes());
    out.extend_from_slice(br#"","params":{"#);
    if let Some(message) = message {
        out.extend_from_slice(br#""message":"#);
        serde_json::to_writer(&mut out, message).ok()?;
        out.push(b',');
    }
    out.extend_from_slice(br#""progress":"#);
    // As a `Value` writes a float (`null` for one JSON cannot hold).
    serde_json::to_writer(&mut out, &progress).ok()?;
    out.extend_from_slice(br#","progressToken":"#);
    serde_json::to_writer(&mut out, token).ok()?;
    if let Some(total) = total {
        out.extend_from_slice(br#","total":"#);
        serde_json::to_writer(&mut out, &total).ok()?;
    }
    out.extend_from_slice(b"}}");
    String::from_utf8(out).ok()
}

/// A notification to the client, written straight to text (not built as a `Value` first).
/// Members in the order a `Value` wrote them (sorted), so the text is the same.
#[derive(Serialize)]
struct Notification<P> {
    jsonrpc: &'static str,
    method: Method,
    params: P,
}

/// `notifications/message`'s parameters (`data` as the handler's type writes it).
#[derive(Serialize)]
struct LogParams<'a, D> {
    data: D,
    level: LogLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    logger: Option<&'a str>,
}

impl RequestContext {
    pub(crate) fn new(
        request_id: RequestId,
        tool: &'static str,
        meta: Option<RequestMeta>,
        link: Option<Link>,
        cancel: Cancellation,
        step_up: Option<Box<StepUp>>,
    ) -> Self {
        Self {
            inner: Arc::new(RequestContextInner {
                request_id,
                tool,
                meta,
                link,
                cancel,
                demands: Demands::new(step_up),
            }),
        }
    }

    /// Demands scopes this call turned out to need: `Ok` when the caller holds them all,
    /// else an error to return with `?`. Every scope must be declared in the item's
    /// `may_require = [..]`, so it is in the scope table and `scopes_supported`.
    ///
    /// Once a demand is refused, the call is answered with the refusal, whatever the handler
    /// returns: over HTTP the same 403 `insufficient_scope` challenge a call without the
    /// item's fixed scopes gets, naming the scopes demanded; over stdio the JSON-RPC denial.
    /// Demand before the first [`progress`](Self::progress) report or log message: once those
    /// have opened an event stream, the denial can only be a JSON-RPC error in it (its `data`
    /// carries the same challenge), as it is in a task and in a later round of an input
    /// request. A scope not declared in `may_require` is never asked of the client: the call
    /// fails with an internal error and the server logs it (`undeclared_scope_demanded`).
    ///
    /// ```ignore
    /// #[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
    /// async fn get_repo(name: String, ctx: RequestContext) -> Result<String, ToolError> {
    ///     let repo = lookup(&name).await?;
    ///     if repo.private {
    ///         ctx.require_scopes(["repo:private"])?;
    ///     }
    ///     Ok(repo.describe())
    /// }
    /// ```
    ///
    /// # Errors
    /// When the caller lacks a demanded scope, or one is not declared in `may_require`.
    pub fn require_scopes<'s>(
        &self,
        scopes: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), super::error::ToolError> {
        self.inner
            .demands
            .demand(scopes, self.inner.tool)
            .map_err(super::error::ToolError::new)
    }

    /// Whether `other` is this same context (a clone of it), not another with the same parts.
    #[cfg(test)]
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The first run-time demand refused, which answers the call.
    pub(crate) fn refused(&self) -> Option<&Refused> {
        self.inner.demands.refused()
    }

    /// The JSON-RPC id of the request.
    #[must_use]
    pub fn request_id(&self) -> &RequestId {
        &self.inner.request_id
    }

    /// The name of the tool or prompt, or the resource's name.
    #[must_use]
    pub fn tool_name(&self) -> &'static str {
        self.inner.tool
    }

    /// The request's `_meta`, if the client sent one.
    #[must_use]
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.inner.meta.as_ref().map(RequestMeta::get)
    }

    /// The progress token the client asked progress notifications to carry, if any.
    #[must_use]
    pub fn progress_token(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get("progressToken"))
    }

    /// Where this request's messages go: nowhere once it went on as a task (its request was
    /// answered; SEP-2663 carries no progress or log messages for tasks).
    fn outbound(&self) -> Option<&Outbound> {
        let link = self.inner.link.as_ref()?;
        if link.input.as_ref().is_some_and(|round| round.is_detached()) {
            return None;
        }
        link.outbound.as_ref()
    }

    /// Reports progress (`notifications/progress`), if the client asked for it with a progress
    /// token; otherwise does nothing. Returns whether a notification was sent.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) -> bool {
        let (Some(token), Some(outbound)) = (self.progress_token(), self.outbound()) else {
            return false;
        };
        progress_text(token, progress, total, message).is_some_and(|text| outbound.send_text(text))
    }

    /// Sends a log message (`notifications/message`) if `level` is at or above the level the
    /// client set with `logging/setLevel` (default `info`). Returns whether it was sent.
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: impl Serialize) -> bool {
        let (Some(link), Some(outbound)) = (&self.inner.link, self.outbound()) else {
            return false;
        };
        if link.connection.log_level().is_none_or(|min| level < min) {
            return false;
        }
        outbound.send(&Notification {
            jsonrpc: "2.0",
            method: Method::LogMessage,
            params: LogParams {
                data,
                level,
                logger,
            },
        })
    }

    /// Whether the client cancelled this request (`notifications/cancelled`).
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Completes when the client cancels this request.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await;
    }

    /// Whether the client declared `capability` (`"sampling"`, `"elicitation"`, `"roots"`, …):
    /// on a 2026-07-28 request, in the request's own `_meta`.
    #[must_use]
    pub fn client_supports(&self, capability: &str) -> bool {
        self.inner
            .link
            .as_ref()
            .is_some_and(|link| link.connection.client_supports(capability))
    }

    /// Sends a request to the client and awaits its answer. Prefer
    /// [`RequestContext::create_message`], [`RequestContext::elicit`] and
    /// [`RequestContext::list_roots`]. On a 2026-07-28 request only those three methods can
    /// reach the client (as input requests); any other is [`ClientError::Unreachable`].
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        if link.input.is_some() {
            let kind = InputKind::of(method).ok_or(ClientError::Unreachable)?;
            return self.ask(None, kind, params).await;
        }
        let outbound = link.outbound.as_ref().ok_or(ClientError::Unreachable)?;
        link.connection
            .request(outbound, &self.inner.cancel, method, params)
            .await
    }

    /// Asks the client for `kind` with `params`: over the session's stream, or, on a
    /// 2026-07-28 request, from this round's answers (a request not answered yet is recorded and
    /// never completes: the round ends and the client is asked).
    async fn ask(
        &self,
        key: Option<&str>,
        kind: InputKind,
        params: Value,
    ) -> Result<Value, ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        if !supports(&link.connection, kind) {
            // 2026-07-28: the request cannot be served without it; the round ends with
            // -32021 (check `client_supports` first to do without).
            if let Some(round) = link.input.as_ref().filter(|r| !r.is_detached()) {
                round.needs_capability(kind.capability());
                round.over().await;
                return Err(ClientError::Unsupported(kind.capability()));
            }
            return Err(ClientError::Unsupported(kind.capability()));
        }
        let Some(round) = &link.input else {
            let outbound = link.outbound.as_ref().ok_or(ClientError::Unreachable)?;
            return link
                .connection
                .request(outbound, &self.inner.cancel, kind.method().as_str(), params)
                .await;
        };
        let key = key.map_or_else(|| round.auto_key(), str::to_owned);
        match round.lookup(&key, kind, params) {
            Lookup::Answered(answer) => Ok(answer),
            Lookup::Wait(answer) => answer.await.map_err(|_| ClientError::Cancelled),
            // The dispatcher ends the round once the handler stops making progress, and drops
            // the handler; a request made from a task the handler spawned gives up then.
            Lookup::Asked | Lookup::Malformed => {
                round.over().await;
                Err(ClientError::Cancelled)
            }
        }
    }

    /// Asks the client's model for a completion (`sampling/createMessage`); `params` is the
    /// request's params (`messages`, `maxTokens`, …). Requires the client's `sampling`
    /// capability.
    pub async fn create_message(&self, params: Value) -> Result<Value, ClientError> {
        self.ask(None, InputKind::Sample, params).await
    }

    /// Asks the user for input through the client (`elicitation/create`, form mode): `message`
    /// and a flat object schema of the fields wanted. Requires the client's `elicitation`
    /// capability. The answer holds `action` (`accept`, `decline`, `cancel`) and `content`.
    pub async fn elicit(
        &self,
        message: &str,
        requested_schema: Value,
    ) -> Result<Value, ClientError> {
        self.ask(
            None,
            InputKind::Elicit,
            elicit_params(message, requested_schema),
        )
        .await
    }

    /// Asks the client for its roots (`roots/list`). Requires the client's `roots` capability.
    /// The answer holds `roots`, each with a `uri`.
    pub async fn list_roots(&self) -> Result<Value, ClientError> {
        self.ask(None, InputKind::Roots, json!({})).await
    }

    /// Lets a task tool's call go on as a task here (the tasks extension of 2026-07-28): what
    /// the handler asks the client before this point it asks in the request (`input_required`
    /// rounds), what it asks after, as the task (`tasks/get` shows it, `tasks/update` answers).
    /// Without it a call becomes a task the first time the handler waits on something other
    /// than the client. Does nothing for a tool without `task`, for a client that does not
    /// support tasks, on a 2025 session, or once the call is a task.
    pub async fn run_as_task(&self) {
        let detachable = self
            .inner
            .link
            .as_ref()
            .and_then(|link| link.input.as_ref())
            .is_some_and(|round| round.may_detach());
        if detachable {
            // Wait once: the dispatcher hands the call over to its task as soon as the handler
            // waits without having asked the client anything.
            tokio::task::yield_now().await;
        }
    }

    /// The same requests under a key of your choosing: on a 2026-07-28 request the key names
    /// the request in the `InputRequiredResult` and its answer in the client's
    /// `inputResponses` (on a 2025 session it is not sent). Keys are unique within a request.
    #[must_use]
    pub fn input<'a>(&'a self, key: &'a str) -> Input<'a> {
        Input { context: self, key }
    }
}

/// Requests to the client under a key of the handler's choosing: see
/// [`RequestContext::input`].
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    context: &'a RequestContext,
    key: &'a str,
}

impl Input<'_> {
    /// [`RequestContext::elicit`] under this key.
    pub async fn elicit(
        self,
        message: &str,
        requested_schema: Value,
    ) -> Result<Value, ClientError> {
        self.context
            .ask(
                Some(self.key),
                InputKind::Elicit,
                elicit_params(message, requested_schema),
            )
            .await
    }

    /// [`RequestContext::create_message`] under this key.
    pub async fn create_message(self, params: Value) -> Result<Value, ClientError> {
        self.context
            .ask(Some(self.key), InputKind::Sample, params)
            .await
    }

    /// [`RequestContext::list_roots`] under this key.
    pub async fn list_roots(self) -> Result<Value, ClientError> {
        self.context
            .ask(Some(self.key), InputKind::Roots, json!({}))
            .await
    }
}

/// Whether the client can answer a request of `kind`: it declared the capability (an object),
/// and for elicitation, form mode (an `elicitation` object that names no mode means form, as
/// before modes existed; one that names modes must name `form`).
fn supports(connection: &Connection, kind: InputKind) -> bool {
    let Some(Value::Object(declared)) = connection.client_capability(kind.capability()) else {
        return false;
    };
    kind != InputKind::Elicit || declared.contains_key("form") || !declared.contains_key("url")
}

fn elicit_params(message: &str, requested_schema: Value) -> Value {
    json!({ "mode": "form", "message": message, "requestedSchema": requested_schema })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::TaskInputs;

    #[derive(Debug)]
    struct NoTask;

    impl TaskInputs for NoTask {
        fn ask(&self, _: String, _: InputKind, _: Value) -> tokio::sync::oneshot::Receiver<Value> {
            tokio::sync::oneshot::channel().1
        }
    }

    #[test]
    fn a_call_that_went_on_as_a_task_sends_no_more_progress_or_logs() {
        let connection = Connection::new();
        connection.set_log_level(LogLevel::Debug);
        let (outbound, mut sent) = Outbound::channel();
        let round = Arc::new(InputRound::new(String::new(), None, Default::default()));
        let mut meta = Map::new();
        meta.insert("progressToken".into(), json!(1));
        let context = RequestContext::new(
            RequestId::Number(1.into()),
            "t",
            Some(RequestMeta::built(meta)),
            Some(Link {
                connection,
                outbound: Some(outbound),
                input: Some(Arc::clone(&round)),
            }),
            Cancellation::default(),
            None,
        );
        assert!(context.progress(0.5, None, None));
        assert!(context.log(LogLevel::Info, None, "before"));
        assert_eq!(std::iter::from_fn(|| sent.try_recv()).count(), 2);
        round.detach(Arc::new(NoTask));
        assert!(
            !context.progress(1.0, None, None),
            "its request was answered"
        );
        assert!(!context.log(LogLevel::Info, None, "after"));
        assert!(sent.try_recv().is_none());
    }

    /// Progress reports are written as they were when built as a `Value` (members sorted),
    /// byte for byte, whatever the token and whichever optional members are present.
    #[test]
    fn progress_reports_are_the_text_a_value_would_write() {
        let was = |token: &Value, progress: f64, total: Option<f64>, message: Option<&str>| {
            let mut params = json!({ "progressToken": token, "progress": progress });
            if let Some(total) = total {
                params["total"] = total.into();
            }
            if let Some(message) = message {
                params["message"] = message.into();
            }
            json!({ "jsonrpc": "2.0", "method": Method::Progress, "params": params }).to_string()
        };
        for token in [
            json!(1),
            json!("p\"é"),
            json!(-7.5),
            json!({"b": 1, "a": [null]}),
        ] {
            for (progress, total, message) in [
                (1.0, Some(3.0), None),
                (0.25, None, None),
                (2.0, Some(2.5), Some("half \"way\"\n")),
                (f64::NAN, Some(f64::INFINITY), Some("")),
                (1e300, None, Some("ü")),
            ] {
                let (outbound, mut sent) = Outbound::channel();
                let mut meta = Map::new();
                meta.insert("progressToken".into(), token.clone());
                let context = RequestContext::new(
                    RequestId::Number(1.into()),
                    "t",
                    Some(RequestMeta::built(meta)),
                    Some(Link {
                        connection: Connection::new(),
                        outbound: Some(outbound),
                        input: None,
                    }),
                    Cancellation::default(),
                    None,
                );
                assert!(context.progress(progress, total, message));
                assert_eq!(
                    sent.try_recv().unwrap(),
                    was(&token, progress, total, message)
                );
            }
        }
    }

    /// Log messages are written as they were when built as a `Value`, byte for byte (for data
    /// whose members are in sorted order, the order a `Value` keeps).
    #[test]
    fn log_messages_are_the_text_a_value_would_write() {
        let connection = Connection::new();
        connection.set_log_level(LogLevel::Debug);
        let (outbound, mut sent) = Outbound::channel();
        let context = RequestContext::new(
            RequestId::Number(1.into()),
            "t",
            None,
            Some(Link {
                connection,
                outbound: Some(outbound),
                input: None,
            }),
            Cancellation::default(),
            None,
        );
        for (level, logger, data) in [
            (LogLevel::Info, None, json!("plain \"text\"")),
            (
                LogLevel::Error,
                Some("db"),
                json!({"a": 1, "b": [true, null]}),
            ),
            (LogLevel::Debug, Some(""), json!(null)),
        ] {
            assert!(context.log(level, logger, &data));
            let mut params = json!({ "level": level, "data": data });
            if let Some(logger) = logger {
                params["logger"] = logger.into();
            }
            let was = json!({ "jsonrpc": "2.0", "method": Method::LogMessage, "params": params });
            assert_eq!(sent.try_recv().unwrap(), was.to_string());
        }
    }

    #[test]
    fn elicitation_needs_form_mode_when_the_client_names_modes() {
        for (declared, form) in [
            (json!({}), true),
            (json!({ "form": {} }), true),
            (json!({ "form": {}, "url": {} }), true),
            (json!({ "url": {} }), false),
            (json!(true), false),
            (json!(null), false),
        ] {
            let connection = Connection::new();
            connection.set_capabilities(json!({ "elicitation": declared }));
            assert_eq!(supports(&connection, InputKind::Elicit), form, "{declared}");
        }
    }
}
