//! Prompts: what `#[mcp_prompt]` emits and the values a prompt handler may return. Prompt
//! arguments are the handler's parameters; they arrive as strings. Prompts are protected by
//! scopes exactly like tools.

use std::fmt;

use serde::Serialize;

use crate::handler::{CallParts, HandlerFuture, ParamDef, Rejected};
use crate::protocol::Content;

/// What `#[mcp_prompt]` knows about a prompt without knowing the server.
#[derive(Debug, Clone, Copy)]
pub struct PromptMeta {
    /// The prompt name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// The doc comment.
    pub description: Option<&'static str>,
    /// Scopes the caller must hold, all of them. Empty only for prompts declared `public`.
    pub scopes: &'static [&'static str],
    /// Scope rules beyond `scopes`: any-of, argument-dependent, demanded at run time.
    pub rules: crate::scope::Rules,
}

/// Everything the server needs to list and get one prompt on a server of type `S`.
pub struct PromptDef<S> {
    /// Name, description, scopes.
    pub meta: PromptMeta,
    /// The handler's parameters: arguments and extractors.
    pub params: &'static [ParamDef],
    /// Extracts the arguments and starts the handler.
    pub get: fn(&mut CallParts<'_, S>) -> PromptFuture,
}

impl<S> Clone for PromptDef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for PromptDef<S> {}

impl<S> fmt::Debug for PromptDef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromptDef")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// A prompt as seen from any server: implemented by the item `#[mcp_prompt]` emits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP prompt",
    label = "not a prompt",
    note = "mark the function with `#[mcp_prompt(scope = \"...\")]` (or `public`)"
)]
pub trait PromptInfo {
    /// The prompt's static description.
    const META: PromptMeta;
}

/// A prompt available on a server of type `S`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP prompt that `{S}` can serve",
    label = "not a prompt of this server",
    note = "a prompt is a function marked `#[mcp_prompt(scope = \"...\")]` (or `public`)",
    note = "its `State<T>` parameters need `T: FromRef<{S}>`"
)]
pub trait Prompt<S>: PromptInfo {
    /// The descriptor for this server type.
    const DEF: PromptDef<S>;
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: Content,
}

impl PromptMessage {
    /// A user message with this text.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: Content::text(text),
        }
    }

    /// An assistant message with this text.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: Content::text(text),
        }
    }
}

/// The result of `prompts/get`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetPromptResult {
    /// A description of this rendering of the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The messages.
    pub messages: Vec<PromptMessage>,
}

/// Why a prompt could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// The arguments are wrong (JSON-RPC -32602).
    InvalidParams(String),
    /// The handler failed (JSON-RPC -32603 with this message).
    Failed(String),
}

impl PromptError {
    /// The handler failed with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// A [`ToolError`](crate::ToolError) in a prompt handler (the one
/// [`RequestContext::require_scopes`](crate::RequestContext::require_scopes) returns, so `?`
/// works there too): the prompt failed.
impl From<crate::handler::ToolError> for PromptError {
    fn from(error: crate::handler::ToolError) -> Self {
        Self::Failed(error.message().to_owned())
    }
}

impl<E: std::error::Error> From<E> for PromptError {
    fn from(error: E) -> Self {
        Self::Failed(error.to_string())
    }
}

/// What a prompt handler produced.
pub type PromptOutput = Result<GetPromptResult, PromptError>;

/// The pending result of a prompt handler.
pub type PromptFuture = HandlerFuture<PromptOutput>;

impl Rejected for PromptOutput {
    fn rejected(message: String) -> Self {
        Err(PromptError::InvalidParams(message))
    }
}

/// A value a prompt handler may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an MCP prompt",
    note = "return `String` (one user message), `PromptMessage`, `Vec<PromptMessage>`, `GetPromptResult`, or a `Result` of one of them with `PromptError` (or any `std::error::Error`)"
)]
pub trait IntoPromptOutput {
    /// Converts the value.
    fn into_prompt_output(self) -> PromptOutput;
}

impl IntoPromptOutput for String {
    fn into_prompt_output(self) -> PromptOutput {
        PromptMessage::user(self).into_prompt_output()
    }
}

impl IntoPromptOutput for &'static str {
    fn into_prompt_output(self) -> PromptOutput {
        self.to_owned().into_prompt_output()
    }
}

impl IntoPromptOutput for PromptMessage {
    fn into_prompt_output(self) -> PromptOutput {
        vec![self].into_prompt_output()
    }
}

impl IntoPromptOutput for Vec<PromptMessage> {
    fn into_prompt_output(self) -> PromptOutput {
        Ok(GetPromptResult {
            description: None,
            messages: self,
        })
    }
}

impl IntoPromptOutput for GetPromptResult {
    fn into_prompt_output(self) -> PromptOutput {
        Ok(self)
    }
}

impl<T: IntoPromptOutput, E: Into<PromptError>> IntoPromptOutput for Result<T, E> {
    fn into_prompt_output(self) -> PromptOutput {
        self.map_err(Into::into)
            .and_then(IntoPromptOutput::into_prompt_output)
    }
}
