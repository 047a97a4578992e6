//! Extraction: the [`CallParts`] a handler's parameters are taken from, the [`ToolParam`] trait
//! every parameter implements (JSON arguments through a blanket impl, extractors through their
//! own), and the [`State`] extractor with [`FromRef`].

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::Arguments;

use super::context::RequestContext;
use super::future::{HandlerFuture, Rejected};
use super::lazy_context::LazyContext;
use super::param::ArgSchema;
use crate::principal::Principal;

/// What a tool's parameters are extracted from. Problems are collected, not returned early, so
/// the caller hears about every bad argument at once.
pub struct CallParts<'a, S> {
    pub(crate) state: &'a S,
    pub(crate) principal: &'a Principal,
    /// The call's arguments, each taken out by the parameter that reads it.
    pub(crate) arguments: Arguments,
    /// The request's context, made if a parameter asks for it.
    pub(crate) context: &'a LazyContext<'a>,
    pub(crate) problems: Vec<String>,
    /// What is being called (`tool`, `resource`, `prompt`), for messages.
    pub(crate) kind: &'static str,
    /// Whether argument values arrive as strings to be read leniently (URI template variables
    /// and prompt arguments are strings on the wire; `42` may still fill a `u64`).
    pub(crate) strings: bool,
    /// The `when` clauses the arguments matched (bit `i`: clause `i`).
    pub(crate) matched: &'a std::cell::Cell<u64>,
    /// The item's downstream APIs and the server's token exchange, for `Downstream`.
    #[cfg(feature = "http")]
    pub(crate) downstream: super::downstream_parts::DownstreamParts<'a>,
}

impl<S> CallParts<'_, S> {
    /// Records that the arguments matched `when` clause `clause` of the item's rules (the
    /// generated extraction calls it; the dispatcher then checks the scope it adds).
    #[doc(hidden)]
    pub fn when_matched(&self, clause: u32) {
        if clause < 64 {
            self.matched.set(self.matched.get() | 1 << clause);
        }
    }

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

fn invalid_arguments_message(kind: &str, target: &str, problems: &[String]) -> String {
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
    note = "extractors are `Principal`, `State<T>`, `RequestContext` and `Downstream`"
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
    note = "extractors are `Principal`, `State<T>`, `RequestContext` and `Downstream`"
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
        Some(parts.context.get().clone())
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
