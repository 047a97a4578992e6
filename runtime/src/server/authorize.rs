//! The scope check every operation passes before its handler runs, and the [`Denial`] it
//! gives when the caller lacks scopes.

use serde_json::json;

use super::registry::Core;
use crate::principal::Principal;
use crate::protocol::{CallToolResult, ErrorObject, RequestId, Response, error_code, to_raw};

impl Core {
    /// The scope check every operation passes before its handler runs.
    pub(super) fn authorize(
        &self,
        id: &RequestId,
        kind: &'static str,
        name: &str,
        required: &'static [&'static str],
        principal: &Principal,
    ) -> Result<(), Denial> {
        let missing = self.inner.scopes.missing(principal.scopes(), required);
        if missing.is_empty() {
            return Ok(());
        }
        tracing::info!(
            target: "scopegate::auth",
            event = "scope_denied",
            kind,
            // The client chose it (a resource URI, up to the body limit): one denial per
            // request stays at INFO, so each line must stay small.
            tool = &*crate::clip::clip(name, crate::clip::NAME_BYTES),
            subject = principal.subject(),
            missing = %missing.join(" "),
            "request denied: missing scopes"
        );
        Err(Denial {
            id: id.clone(),
            kind,
            name: name.to_owned(),
            required,
            missing,
        })
    }
}

/// A refused operation: the caller lacks some of the scopes it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The id of the refused request.
    pub id: RequestId,
    /// What was refused: `tool`, `resource` or `prompt`.
    pub kind: &'static str,
    /// The tool or prompt name, or the resource URI.
    pub name: String,
    /// Every scope the operation requires.
    pub required: &'static [&'static str],
    /// The required scopes the caller does not satisfy.
    pub missing: Vec<&'static str>,
}

impl Denial {
    /// The denial as a JSON-RPC error response (code
    /// [`INSUFFICIENT_SCOPE`](error_code::INSUFFICIENT_SCOPE)); `hint` says how to obtain the
    /// scopes on this transport.
    #[must_use]
    pub fn to_response(&self, hint: Option<&str>) -> Response {
        let mut message = format!(
            "insufficient scope: {} `{}` requires `{}`; missing `{}`",
            self.kind,
            self.name,
            self.required.join(" "),
            self.missing.join(" ")
        );
        if let Some(hint) = hint {
            message.push_str(". ");
            message.push_str(hint);
        }
        let data = json!({
            self.kind: self.name,
            "requiredScopes": self.required,
            "missingScopes": self.missing,
        });
        Response::error(
            Some(self.id.clone()),
            ErrorObject::new(error_code::INSUFFICIENT_SCOPE, message).with_data(data),
        )
    }
}

impl Denial {
    /// For a tool: a successful `tools/call` response whose result is an error the model can
    /// read (for clients that cannot step up their authorization). Resources and prompts have no
    /// such result: their denial stays the JSON-RPC error of [`Denial::to_response`].
    #[must_use]
    pub fn to_tool_error(&self) -> Response {
        if self.kind != "tool" {
            return self.to_response(None);
        }
        let result = CallToolResult::error(format!(
            "permission denied: tool `{}` requires the OAuth scope(s) `{}`, which this client's authorization does not grant; missing `{}`",
            self.name,
            self.required.join(" "),
            self.missing.join(" ")
        ));
        Response::result(
            self.id.clone(),
            to_raw(&result).expect("a CallToolResult always serializes"),
        )
    }
}
