//! The scope check every operation passes before its handler runs, and the [`Denial`] it
//! gives when the caller lacks scopes: the item's fixed scopes and any-of rule here, the
//! scopes its arguments add (`when`) once they are read, and those its handler demands at run
//! time (`may_require`) after it ran.

use std::fmt;

use serde_json::json;

use super::registry::Core;
use crate::challenge::Challenge;
use crate::handler::Refused;
use crate::principal::Principal;
use crate::protocol::{CallToolResult, ErrorObject, RequestId, Response, error_code, to_raw};
use crate::scope::{Rules, When};

/// What an operation is checked against: its name, fixed scopes and rules.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    /// `tool`, `resource` or `prompt`.
    pub(super) kind: &'static str,
    /// The tool or prompt name, or the resource URI.
    pub(super) name: &'a str,
    /// Every one of these.
    pub(super) scopes: &'static [&'static str],
    pub(super) rules: &'a Rules,
}

impl Target<'static> {
    /// A tool's.
    pub(super) fn tool(meta: &'static crate::tool::ToolMeta) -> Self {
        Self {
            kind: "tool",
            name: meta.name,
            scopes: meta.scopes,
            rules: &meta.rules,
        }
    }

    /// A prompt's.
    pub(super) fn prompt(meta: &'static crate::prompt::PromptMeta) -> Self {
        Self {
            kind: "prompt",
            name: meta.name,
            scopes: meta.scopes,
            rules: &meta.rules,
        }
    }
}

impl Core {
    /// The scope check every operation passes before its handler runs: every fixed scope, and
    /// one of the any-of scopes.
    pub(super) fn authorize(
        &self,
        id: &RequestId,
        target: Target<'_>,
        principal: &Principal,
    ) -> Result<(), Box<Denial>> {
        let table = &self.inner.scopes;
        let mut missing = table.missing(principal.scopes(), target.scopes);
        let any = table.missing_any(principal.scopes(), target.rules.any_scopes);
        if missing.is_empty() && any.is_none() {
            return Ok(());
        }
        let rule = if missing.is_empty() {
            DenialRule::AnyScope
        } else {
            DenialRule::Scopes
        };
        let mut required = target.scopes.to_vec();
        if let Some(first) = any {
            required.push(first);
            missing.push(first);
        }
        Err(self.deny(id, target, principal, required, missing, rule))
    }

    /// The check of the scopes a call's arguments add: the `when` clauses of `rules` whose bits
    /// are set in `matched` (the fixed scopes already passed).
    pub(super) fn authorize_when(
        &self,
        id: &RequestId,
        target: Target<'_>,
        matched: u64,
        principal: &Principal,
    ) -> Result<(), Box<Denial>> {
        let table = &self.inner.scopes;
        let clauses = || {
            target
                .rules
                .when
                .iter()
                .take(64)
                .enumerate()
                .filter(move |(i, _)| matched & (1 << i) != 0)
                .map(|(_, clause)| clause)
        };
        let denying: Vec<&When> = clauses()
            .filter(|clause| !table.satisfies(principal.scopes(), clause.scope))
            .collect();
        if denying.is_empty() {
            return Ok(());
        }
        let mut required = target.scopes.to_vec();
        let mut missing = Vec::new();
        for clause in clauses() {
            if !required.contains(&clause.scope) {
                required.push(clause.scope);
            }
        }
        for clause in &denying {
            if !missing.contains(&clause.scope) {
                missing.push(clause.scope);
            }
        }
        let rule = DenialRule::When(denying.iter().map(ToString::to_string).collect());
        Err(self.deny(id, target, principal, required, missing, rule))
    }

    /// The answer to a handler's refused run-time demand: a step-up denial naming the scopes
    /// demanded, or, for an undeclared scope, the internal error it is.
    pub(super) fn refusal(
        &self,
        id: &RequestId,
        target: Target<'_>,
        refused: &Refused,
        principal: &Principal,
    ) -> Result<Box<Denial>, Response> {
        match refused {
            Refused::Missing { demanded, missing } => {
                let mut required = target.scopes.to_vec();
                required.extend(demanded.iter().filter(|s| !target.scopes.contains(s)));
                let rule = DenialRule::MayRequire;
                Ok(self.deny(id, target, principal, required, missing.clone(), rule))
            }
            Refused::Undeclared(message) => Err(Response::error(
                Some(id.clone()),
                ErrorObject::new(error_code::INTERNAL_ERROR, message.clone()),
            )),
        }
    }

    fn deny(
        &self,
        id: &RequestId,
        target: Target<'_>,
        principal: &Principal,
        required: Vec<&'static str>,
        missing: Vec<&'static str>,
        rule: DenialRule,
    ) -> Box<Denial> {
        tracing::info!(
            target: "scopegate::auth",
            event = "scope_denied",
            kind = target.kind,
            // The client chose it (a resource URI, up to the body limit): one denial per
            // request stays at INFO, so each line must stay small.
            tool = &*crate::clip::clip(target.name, crate::clip::NAME_BYTES),
            subject = principal.subject(),
            missing = %missing.join(" "),
            %rule,
            "request denied: missing scopes"
        );
        Box::new(Denial {
            id: id.clone(),
            kind: target.kind,
            name: target.name.to_owned(),
            required,
            missing,
            rule,
            in_band: false,
        })
    }

    /// The challenge a denial answered in a JSON-RPC error carries (a task's, a later round's):
    /// this operation's scopes, and the metadata URL the HTTP transport serves, once one does.
    pub(super) fn in_band_challenge(&self, denial: &Denial) -> String {
        denial
            .challenge(
                std::iter::empty(),
                self.inner.resource_metadata.get().cloned(),
            )
            .header_value()
    }
}

/// The rule that refused an operation, as the audit log and the denial's `data` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialRule {
    /// The item's fixed `scope`/`scopes`.
    Scopes,
    /// Its `any_scope = [..]`: none of them held (the denial asks for the first).
    AnyScope,
    /// These `when(..)` clauses, as written, matched the call's arguments.
    When(Vec<String>),
    /// The handler demanded scopes at run time (`may_require`, `require_scopes`).
    MayRequire,
}

impl fmt::Display for DenialRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scopes => f.write_str("scopes"),
            Self::AnyScope => f.write_str("any_scope"),
            Self::When(clauses) => f.write_str(&clauses.join(", ")),
            Self::MayRequire => f.write_str("may_require"),
        }
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
    /// Every scope this call requires: the fixed ones, the first of an any-of rule, those its
    /// arguments add, those its handler demanded.
    pub required: Vec<&'static str>,
    /// The required scopes the caller does not satisfy.
    pub missing: Vec<&'static str>,
    /// The rule that refused it.
    pub rule: DenialRule,
    /// Whether the transport must answer it as a JSON-RPC error carrying the challenge rather
    /// than its own refusal (an HTTP 403): the request's input state was spent, so repeating
    /// the same request cannot succeed.
    pub in_band: bool,
}

impl Denial {
    /// The `WWW-Authenticate` challenge of the denial: the scopes `held` that the client should
    /// keep (legacy clients replace their set with the challenge's), and those required.
    #[must_use]
    pub fn challenge<'a>(
        &self,
        held: impl Iterator<Item = &'a str>,
        resource_metadata: Option<String>,
    ) -> Challenge {
        let mut scopes: Vec<&str> = held.chain(self.required.iter().copied()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        // The name may be the client's own resource URI, up to the body limit: the challenge
        // echoes it clipped, so the header stays small (and valid: RFC 6750 §3's characters).
        let description = format!(
            "{} {} requires scope {}",
            self.kind,
            crate::clip::clip(&self.name, crate::clip::NAME_BYTES),
            self.missing.join(" ")
        );
        Challenge {
            error: Some("insufficient_scope"),
            description: Some(description),
            scope: Some(scopes.join(" ")),
            resource_metadata,
            ..Challenge::default()
        }
    }

    /// The denial as a JSON-RPC error response (code
    /// [`INSUFFICIENT_SCOPE`](error_code::INSUFFICIENT_SCOPE)); `hint` says how to obtain the
    /// scopes on this transport.
    #[must_use]
    pub fn to_response(&self, hint: Option<&str>) -> Response {
        self.error_response(hint, None)
    }

    /// The denial as a JSON-RPC error whose `data.wwwAuthenticate` carries `challenge`: for a
    /// denial that cannot be an HTTP 403 (the answer already began as an event stream, a task,
    /// a later round of an input request).
    #[must_use]
    pub fn to_response_with_challenge(&self, challenge: &str) -> Response {
        self.error_response(None, Some(challenge))
    }

    fn error_response(&self, hint: Option<&str>, challenge: Option<&str>) -> Response {
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
        let mut data = json!({
            self.kind: self.name,
            "requiredScopes": self.required,
            "missingScopes": self.missing,
            "rule": self.rule.to_string(),
        });
        if let Some(challenge) = challenge {
            data["wwwAuthenticate"] = challenge.into();
        }
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
