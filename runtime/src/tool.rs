//! Tools: the static descriptor `#[mcp_tool]` emits and the values a tool can return. The
//! parameters a tool can take (arguments and extractors) are every handler's, in `handler`, and
//! re-exported here at their public paths.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema};
use serde::Serialize;

pub use crate::handler::{
    ArgSchema, CallParts, FromRef, HandlerFuture, HeaderParam, Input, ParamDef, Rejected,
    RequestContext, State, ToolError, ToolParam, ToolParamKind,
};
use crate::protocol::{CallToolResult, Content, ResourceContents};
pub use crate::scope::{Literal, Rules, When};

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
    /// Scope rules beyond `scopes`: any-of, argument-dependent, demanded at run time.
    pub rules: Rules,
    /// `#[mcp_tool(quota = "10/min")]`: calls allowed per principal.
    pub quota: Option<ToolQuota>,
    /// Behaviour hints for clients.
    pub annotations: ToolAnnotations,
    /// Whether a call may run as a task (2026-07-28 tasks extension; `#[mcp_tool(task)]`).
    pub task: TaskSupport,
    /// `#[mcp_tool(extend_schema = path)]`: keywords added to the root of the input schema
    /// (`allOf`, `if`/`then`/`else`, `$schema`, …), rules over several arguments that their own
    /// schemas cannot state. It may not replace what the parameters define.
    pub extend_schema: Option<fn() -> serde_json::Value>,
}

/// A tool's quota: `calls` per principal in every `per_seconds` (`quota = "10/min"` is 10 in
/// 60), counted as a token bucket (bursts of `calls`, refilled evenly) through the server's
/// rate-limit store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolQuota {
    /// Calls allowed in the period (at least 1).
    pub calls: u32,
    /// The period, in seconds (at least 1).
    pub per_seconds: u32,
}

impl fmt::Display for ToolQuota {
    /// As written in the attribute: `10/min`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per_seconds {
            1 => "s",
            60 => "min",
            3600 => "h",
            86_400 => "day",
            other => return write!(f, "{}/{other}s", self.calls),
        };
        write!(f, "{}/{unit}", self.calls)
    }
}

/// Whether a tool's calls may run as tasks (the `io.modelcontextprotocol/tasks` extension of
/// 2026-07-28): the call answers with a task handle, runs on, and the client polls `tasks/get`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskSupport {
    /// Never: every call answers with its result (the default).
    #[default]
    Never,
    /// `#[mcp_tool(task)]`: a call from a client that supports tasks becomes one if the tool has
    /// not finished by the time it first waits (or asks the client something after
    /// [`RequestContext::run_as_task`](crate::RequestContext::run_as_task)); other clients get
    /// the result when it is done.
    Optional,
    /// `#[mcp_tool(task = "required")]`: every call is a task; a client that does not support
    /// tasks is refused (-32021).
    Required,
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

/// The pending result of a tool call.
pub type ToolFuture = HandlerFuture<CallToolResult>;

impl Rejected for CallToolResult {
    fn rejected(message: String) -> Self {
        CallToolResult::error(message)
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
        // Serialized once, straight to text: the structured content is that text, written into
        // the answer as it is, and the text content a copy of it (building a `Value` first, then
        // writing it twice, cost more than twice the work for a large result).
        match serde_json::value::to_raw_value(&self.0) {
            Ok(raw) => CallToolResult {
                content: vec![Content::Text {
                    text: raw.get().to_owned(),
                }],
                structured_content: Some(raw),
                is_error: false,
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, JsonSchema)]
    struct Report {
        title: String,
        count: u32,
        tags: Vec<&'static str>,
    }

    /// `Json<T>` serializes `T` once: the structured content is that text, members in the
    /// struct's order, and the text content the same text.
    #[test]
    fn a_json_result_is_its_value_written_once() {
        let result = Json(Report {
            title: "a \"quoted\" title".into(),
            count: 3,
            tags: vec!["x", "y"],
        })
        .into_tool_result();
        let structured = result.structured_content.as_ref().unwrap().get();
        assert_eq!(
            structured,
            r#"{"title":"a \"quoted\" title","count":3,"tags":["x","y"]}"#
        );
        assert_eq!(result.content, vec![Content::text(structured)]);
        assert!(!result.is_error);
    }

    /// A value that cannot be JSON (a map keyed by something that is not a string) is an
    /// error result, not a panic.
    #[test]
    fn a_json_result_that_cannot_be_written_is_an_error_result() {
        #[derive(Serialize)]
        struct Bad(std::collections::BTreeMap<(u8, u8), u8>);
        impl JsonSchema for Bad {
            fn schema_name() -> Cow<'static, str> {
                "Bad".into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> Schema {
                schemars::json_schema!({ "type": "object" })
            }
        }
        let result = Json(Bad([((1, 2), 3)].into())).into_tool_result();
        assert!(result.is_error);
        assert!(result.structured_content.is_none());
    }
}
