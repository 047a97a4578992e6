//! Tools: the static descriptor `#[mcp_tool]` emits, the parameters a tool can take, and the
//! values it can return.
//!
//! A parameter is either a JSON *argument* (any `Deserialize + JsonSchema` type, through a
//! blanket impl of [`ToolParam`]) or an *extractor* ([`Principal`], [`State<T>`],
//! [`RequestContext`]) with an impl of its own. The trait system tells them apart: the macro
//! never looks at a type's name.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::connection::{Cancel, ClientError, Connection, LogLevel, Outbound};
use crate::principal::Principal;
use crate::protocol::{CallToolResult, Content, RequestId, ResourceContents};

/// What `#[mcp_tool]` knows about a tool without knowing the server: its name, description,
/// required scopes and hints.
#[derive(Debug, Clone, Copy)]
pub struct ToolMeta {
    /// The MCP tool name (`[A-Za-z0-9_.-]{1,128}`, checked at compile time).
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// The doc comment.
    pub description: Option<&'static str>,
    /// Scopes the caller must hold, all of them. Empty only for tools declared `public`.
    pub scopes: &'static [&'static str],
    /// Behaviour hints for clients.
    pub annotations: ToolAnnotations,
}

/// Hints about a tool's behaviour (`ToolAnnotations` in the MCP schema). Clients must not rely on
/// them for security; scopes are the security boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolAnnotations {
    /// `readOnlyHint`: the tool does not modify its environment.
    pub read_only: Option<bool>,
    /// `destructiveHint`: the tool may perform destructive updates.
    pub destructive: Option<bool>,
    /// `idempotentHint`: repeating a call with the same arguments has no further effect.
    pub idempotent: Option<bool>,
    /// `openWorldHint`: the tool reaches an open world of external entities.
    pub open_world: Option<bool>,
}

impl ToolAnnotations {
    /// Whether no hint is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One parameter of a tool, as the input schema sees it.
#[derive(Clone, Copy)]
pub struct ParamDef {
    /// The parameter's name: the argument key for JSON arguments.
    pub name: &'static str,
    /// Its description, from `#[doc]` or `#[arg(description = "...")]`.
    pub description: Option<&'static str>,
    /// Its schema, or `None` for extractors (which are not arguments).
    pub schema: fn(&mut SchemaGenerator) -> Option<ArgSchema>,
    /// Suggestions for a partial value (`completion/complete`), from `#[arg(complete = f)]`.
    pub complete: Option<fn(&str) -> Vec<String>>,
}

impl fmt::Debug for ParamDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The schema of a JSON argument.
#[derive(Debug)]
pub struct ArgSchema {
    /// The argument's JSON Schema.
    pub schema: Schema,
    /// Whether the argument must be present.
    pub required: bool,
}

/// Everything the server needs to list and call one tool on a server of type `S`.
pub struct ToolDef<S> {
    /// Name, description, scopes, hints.
    pub meta: ToolMeta,
    /// The parameters, in declaration order.
    pub params: &'static [ParamDef],
    /// The output schema (only for `Json<T>` returns).
    pub output_schema: fn() -> Option<Schema>,
    /// Extracts the parameters and starts the call.
    pub call: fn(&mut CallParts<'_, S>) -> ToolFuture,
}

impl<S> Clone for ToolDef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for ToolDef<S> {}

impl<S> fmt::Debug for ToolDef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolDef")
            .field("meta", &self.meta)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// A tool, as seen from any server: implemented by the item `#[mcp_tool]` emits beside the
/// function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP tool",
    label = "not a tool",
    note = "mark the function with `#[mcp_tool(scope = \"...\")]` (or `public`) to make it a tool"
)]
pub trait ToolInfo {
    /// The tool's static description.
    const META: ToolMeta;
}

/// A tool callable on a server of type `S` (every extractor it uses can be built from `S`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP tool that `{S}` can serve",
    label = "not a tool of this server",
    note = "a tool is a function marked `#[mcp_tool(scope = \"...\")]` (or `public`)",
    note = "a tool's `State<T>` parameters need `T: FromRef<{S}>` (or a field of type `T` marked `#[mcp(state)]`)"
)]
pub trait Tool<S>: ToolInfo {
    /// The tool's descriptor for this server type.
    const DEF: ToolDef<S>;
}

/// The pending result of a tool, resource or prompt handler.
pub struct HandlerFuture<T> {
    inner: Pin<Box<dyn Future<Output = T> + Send + 'static>>,
}

/// The pending result of a tool call.
pub type ToolFuture = HandlerFuture<CallToolResult>;

impl<T> HandlerFuture<T> {
    /// Wraps a handler's future.
    pub fn new(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<T> fmt::Debug for HandlerFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFuture")
    }
}

impl<T> Future for HandlerFuture<T> {
    type Output = Result<T, String>;

    /// Polls the handler; a panic becomes `Err` with the panic message, never an unwinding
    /// server.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// How a handler's output says "the arguments were wrong": a tool answers with an `isError`
/// result the model can read; resources and prompts answer with a JSON-RPC error.
pub trait Rejected: Sized {
    /// The output for a call whose arguments failed, with `message` listing every problem.
    fn rejected(message: String) -> Self;
}

impl Rejected for CallToolResult {
    fn rejected(message: String) -> Self {
        CallToolResult::error(message)
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// The request being handled, and the way back to the client: progress, log messages,
/// sampling and elicitation requests, and cancellation. Ask for it as a parameter.
#[derive(Debug, Clone)]
pub struct RequestContext {
    inner: Arc<RequestContextInner>,
}

#[derive(Debug)]
struct RequestContextInner {
    request_id: RequestId,
    tool: &'static str,
    meta: Option<Map<String, Value>>,
    link: Option<Link>,
    cancel: Arc<Cancel>,
}

/// The client connection and the request's channel to it, when the transport has them.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) connection: Arc<Connection>,
    pub(crate) outbound: Option<Outbound>,
}

impl RequestContext {
    pub(crate) fn new(
        request_id: RequestId,
        tool: &'static str,
        meta: Option<Map<String, Value>>,
        link: Option<Link>,
        cancel: Arc<Cancel>,
    ) -> Self {
        Self {
            inner: Arc::new(RequestContextInner {
                request_id,
                tool,
                meta,
                link,
                cancel,
            }),
        }
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
        self.inner.meta.as_ref()
    }

    /// The progress token the client asked progress notifications to carry, if any.
    #[must_use]
    pub fn progress_token(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get("progressToken"))
    }

    fn outbound(&self) -> Option<&Outbound> {
        self.inner.link.as_ref().and_then(|l| l.outbound.as_ref())
    }

    /// Reports progress (`notifications/progress`), if the client asked for it with a progress
    /// token; otherwise does nothing. Returns whether a notification was sent.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) -> bool {
        let (Some(token), Some(outbound)) = (self.progress_token(), self.outbound()) else {
            return false;
        };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(total) = total {
            params["total"] = total.into();
        }
        if let Some(message) = message {
            params["message"] = message.into();
        }
        outbound.send(
            &json!({ "jsonrpc": "2.0", "method": "notifications/progress", "params": params }),
        )
    }

    /// Sends a log message (`notifications/message`) if `level` is at or above the level the
    /// client set with `logging/setLevel` (default `info`). Returns whether it was sent.
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: impl Serialize) -> bool {
        let Some(link) = &self.inner.link else {
            return false;
        };
        let Some(outbound) = &link.outbound else {
            return false;
        };
        if link.connection.log_level().is_none_or(|min| level < min) {
            return false;
        }
        let mut params = json!({ "level": level, "data": data });
        if let Some(logger) = logger {
            params["logger"] = logger.into();
        }
        outbound
            .send(&json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": params }))
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

    /// Sends a request to the client and awaits its answer. Prefer
    /// [`RequestContext::create_message`] and [`RequestContext::elicit`].
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        let outbound = link.outbound.as_ref().ok_or(ClientError::Unreachable)?;
        link.connection
            .request(outbound, &self.inner.cancel, method, params)
            .await
    }

    fn require(&self, capability: &'static str) -> Result<(), ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        if link.connection.client_supports(capability) {
            Ok(())
        } else {
            Err(ClientError::Unsupported(capability))
        }
    }

    /// Asks the client's model for a completion (`sampling/createMessage`); `params` is the
    /// request's params (`messages`, `maxTokens`, …). Requires the client's `sampling`
    /// capability.
    pub async fn create_message(&self, params: Value) -> Result<Value, ClientError> {
        self.require("sampling")?;
        self.request("sampling/createMessage", params).await
    }

    /// Asks the user for input through the client (`elicitation/create`, form mode): `message`
    /// and a flat object schema of the fields wanted. Requires the client's `elicitation`
    /// capability. The answer holds `action` (`accept`, `decline`, `cancel`) and `content`.
    pub async fn elicit(
        &self,
        message: &str,
        requested_schema: Value,
    ) -> Result<Value, ClientError> {
        self.require("elicitation")?;
        self.request(
            "elicitation/create",
            json!({ "mode": "form", "message": message, "requestedSchema": requested_schema }),
        )
        .await
    }
}

/// What a tool's parameters are extracted from. Problems are collected, not returned early, so
/// the caller hears about every bad argument at once.
pub struct CallParts<'a, S> {
    pub(crate) state: &'a S,
    pub(crate) principal: &'a Principal,
    /// The call's arguments, each taken out by the parameter that reads it.
    pub(crate) arguments: Map<String, Value>,
    pub(crate) context: &'a RequestContext,
    pub(crate) problems: Vec<String>,
    /// What is being called (`tool`, `resource`, `prompt`), for messages.
    pub(crate) kind: &'static str,
    /// Whether argument values arrive as strings to be read leniently (URI template variables
    /// and prompt arguments are strings on the wire; `42` may still fill a `u64`).
    pub(crate) strings: bool,
}

impl<S> CallParts<'_, S> {
    /// Records a problem with the call's arguments.
    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Whether no problem has been recorded.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The result for a call whose arguments failed: `isError: true`, listing every problem.
    #[must_use]
    pub fn rejected<T: Rejected + Send + 'static>(&mut self) -> HandlerFuture<T> {
        let message =
            invalid_arguments_message(self.kind, self.context.tool_name(), &self.problems);
        HandlerFuture::new(std::future::ready(T::rejected(message)))
    }
}

pub(crate) fn invalid_arguments_message(kind: &str, target: &str, problems: &[String]) -> String {
    let mut message = format!("invalid arguments for {kind} `{target}`:");
    for problem in problems {
        message.push_str("\n- ");
        message.push_str(problem);
    }
    message
}

/// A parameter of a tool function: a JSON argument or an extractor.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool parameter",
    label = "not an argument or an extractor",
    note = "a JSON argument must implement `serde::Deserialize` and `schemars::JsonSchema`",
    note = "extractors are `Principal`, `State<T>` and `RequestContext`"
)]
pub trait ToolParam<S>: Sized {
    /// The argument's schema, or `None` for an extractor.
    fn schema(generator: &mut SchemaGenerator) -> Option<ArgSchema>;

    /// Extracts the value; on failure records why in `parts` and returns `None`.
    fn extract(parts: &mut CallParts<'_, S>, name: &'static str) -> Option<Self>;
}

/// The trait-level check `#[mcp_tool]` puts on each parameter's type, so a type that is neither
/// an argument nor an extractor is reported at the parameter itself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool parameter",
    label = "not an argument or an extractor",
    note = "a JSON argument must implement `serde::Deserialize` and `schemars::JsonSchema`",
    note = "extractors are `Principal`, `State<T>` and `RequestContext`"
)]
pub trait ToolParamKind {}

impl<T: DeserializeOwned + JsonSchema> ToolParamKind for T {}
impl ToolParamKind for Principal {}
impl ToolParamKind for RequestContext {}
impl<T> ToolParamKind for State<T> {}

// Not recommended in diagnostics: for `State<T>` without `FromRef`, the `FromRef` message is the
// helpful one, not "implement Deserialize".
#[diagnostic::do_not_recommend]
impl<S, T: DeserializeOwned + JsonSchema> ToolParam<S> for T {
    fn schema(generator: &mut SchemaGenerator) -> Option<ArgSchema> {
        Some(ArgSchema {
            schema: generator.subschema_for::<T>(),
            // An absent argument is read as `null`: whatever accepts `null` is optional, so the
            // schema's `required` and the call's behaviour agree by construction.
            required: T::deserialize(&Value::Null).is_err(),
        })
    }

    fn extract(parts: &mut CallParts<'_, S>, name: &'static str) -> Option<Self> {
        // Taken out of the map: a string argument moves into a `String` parameter uncopied.
        match parts.arguments.remove(name) {
            Some(Value::String(text)) if parts.strings => {
                T::deserialize(&Value::String(text.clone()))
                    .or_else(|first| serde_json::from_str(&text).map_err(|_| first))
                    .map_err(|e| parts.problem(format!("`{name}`: {e}")))
                    .ok()
            }
            Some(value) => T::deserialize(value)
                .map_err(|e| parts.problem(format!("`{name}`: {e}")))
                .ok(),
            None => T::deserialize(&Value::Null)
                .map_err(|_| parts.problem(format!("`{name}`: missing required argument")))
                .ok(),
        }
    }
}

impl<S> ToolParam<S> for Principal {
    fn schema(_: &mut SchemaGenerator) -> Option<ArgSchema> {
        None
    }

    fn extract(parts: &mut CallParts<'_, S>, _: &'static str) -> Option<Self> {
        Some(parts.principal.clone())
    }
}

impl<S> ToolParam<S> for RequestContext {
    fn schema(_: &mut SchemaGenerator) -> Option<ArgSchema> {
        None
    }

    fn extract(parts: &mut CallParts<'_, S>, _: &'static str) -> Option<Self> {
        Some(parts.context.clone())
    }
}

/// Converts a reference to the server into a value a tool asks for with [`State<T>`].
///
/// Every `Clone` server is `FromRef` of itself; implement it for parts of your server (a pool,
/// a client, configuration) so tools receive just what they use.
#[diagnostic::on_unimplemented(
    message = "a tool asks for `State<{Self}>`, but `{Self}` cannot be made from the server `{T}`",
    note = "implement `FromRef<{T}> for {Self}`, or mark the server field with `#[mcp(state)]`"
)]
pub trait FromRef<T> {
    /// Builds `Self` from the server.
    fn from_ref(input: &T) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(input: &T) -> Self {
        input.clone()
    }
}

/// Extractor: a value taken from the server struct through [`FromRef`].
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T> std::ops::Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T: FromRef<S>> ToolParam<S> for State<T> {
    fn schema(_: &mut SchemaGenerator) -> Option<ArgSchema> {
        None
    }

    fn extract(parts: &mut CallParts<'_, S>, _: &'static str) -> Option<Self> {
        Some(State(T::from_ref(parts.state)))
    }
}

// ---- results -----------------------------------------------------------------------------------

/// A value a tool may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an MCP tool",
    note = "return `String`, `Json<T>`, `Content`, `Vec<Content>`, `CallToolResult`, `()`, or a `Result` of one of them whose error implements `Display`"
)]
pub trait IntoToolResult {
    /// The `outputSchema` this return type guarantees, if any.
    fn output_schema() -> Option<Schema> {
        None
    }

    /// Converts the value into the `tools/call` result.
    fn into_tool_result(self) -> CallToolResult;
}

/// A structured tool result: `structuredContent`, its text form in `content`, and an
/// `outputSchema` derived from `T`. `T` must serialize to a JSON object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize + JsonSchema> IntoToolResult for Json<T> {
    fn output_schema() -> Option<Schema> {
        Some(crate::schema::schema_generator().into_root_schema_for::<T>())
    }

    fn into_tool_result(self) -> CallToolResult {
        match serde_json::to_value(&self.0) {
            Ok(value) => {
                let text = value.to_string();
                CallToolResult {
                    content: vec![Content::Text { text }],
                    structured_content: Some(value),
                    is_error: false,
                }
            }
            Err(e) => {
                CallToolResult::error(format!("the tool's result could not be serialized: {e}"))
            }
        }
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(vec![Content::Text { text: self }])
    }
}

impl IntoToolResult for &'static str {
    fn into_tool_result(self) -> CallToolResult {
        self.to_owned().into_tool_result()
    }
}

impl IntoToolResult for Cow<'static, str> {
    fn into_tool_result(self) -> CallToolResult {
        self.into_owned().into_tool_result()
    }
}

impl IntoToolResult for () {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(Vec::new())
    }
}

impl IntoToolResult for Content {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(vec![self])
    }
}

impl IntoToolResult for ResourceContents {
    fn into_tool_result(self) -> CallToolResult {
        Content::Resource { resource: self }.into_tool_result()
    }
}

impl IntoToolResult for Vec<Content> {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(self)
    }
}

impl IntoToolResult for CallToolResult {
    fn into_tool_result(self) -> CallToolResult {
        self
    }
}

impl<T: IntoToolResult, E: fmt::Display> IntoToolResult for Result<T, E> {
    fn output_schema() -> Option<Schema> {
        T::output_schema()
    }

    fn into_tool_result(self) -> CallToolResult {
        match self {
            Ok(value) => value.into_tool_result(),
            Err(error) => CallToolResult::error(error.to_string()),
        }
    }
}

/// A tool error: its message becomes an `isError: true` result the model can read.
///
/// Any `std::error::Error` converts into it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    message: String,
}

impl ToolError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(error: E) -> Self {
        Self::new(error.to_string())
    }
}
