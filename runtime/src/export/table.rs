//! The scope table as every provider's document reads it: each scope with what it unlocks, what
//! asks for it and where it sits in the `implies(...)` hierarchy, and the words that describe it.

use crate::server::Core;

/// The server's scopes, in the order of its scope table (sorted).
pub(super) struct Table {
    /// The server's programmatic name.
    pub(super) server: &'static str,
    /// The resource URI tokens must name in `aud`.
    pub(super) resource: String,
    pub(super) scopes: Vec<ScopeEntry>,
    /// The downstream APIs items get tokens for by token exchange, sorted.
    pub(super) downstream: &'static [&'static str],
}

/// One scope of the table.
pub(super) struct ScopeEntry {
    pub(super) scope: &'static str,
    /// The broader scopes that imply it.
    pub(super) implied_by: Vec<&'static str>,
    /// The narrower scopes it implies.
    pub(super) implies: Vec<&'static str>,
    /// The tools a token holding this scope alone may call.
    pub(super) tools: Vec<&'static str>,
    /// Every rule that asks for it: ``tool `get_note` (may_require)``.
    pub(super) rules: Vec<String>,
}

impl Table {
    pub(super) fn new(core: &Core, resource: &str) -> Self {
        let rows = core.scope_rows();
        let scopes = rows
            .iter()
            .map(|(scope, implied_by, tools, rules)| ScopeEntry {
                scope,
                implied_by: implied_by.clone(),
                implies: rows
                    .iter()
                    .filter(|(_, by, _, _)| by.contains(scope))
                    .map(|(narrower, ..)| *narrower)
                    .collect(),
                tools: tools.clone(),
                rules: rules
                    .iter()
                    .map(|r| format!("{} {} ({})", r.kind, r.name, r.rule))
                    .collect(),
            })
            .collect();
        Self {
            server: core.server_name(),
            resource: resource.to_owned(),
            scopes,
            downstream: core.downstream(),
        }
    }

    /// The downstream APIs, each in backquotes, for a note; `None` when there is none.
    pub(super) fn downstream_list(&self) -> Option<String> {
        (!self.downstream.is_empty()).then(|| quoted(self.downstream))
    }

    /// The hierarchy in one sentence per broad scope, for the providers that cannot express it;
    /// empty when the server declares none.
    pub(super) fn hierarchy(&self, provider: &str) -> Vec<String> {
        self.scopes
            .iter()
            .filter(|s| !s.implies.is_empty())
            .map(|s| {
                format!(
                    "{provider} has no scope hierarchy; scopegate enforces the server's: `{}` implies {}. \
                     Grant `{}` alone to allow everything those unlock; a token holding only a \
                     narrower scope gets only what that scope unlocks.",
                    s.scope,
                    quoted(&s.implies),
                    s.scope
                )
            })
            .collect()
    }
}

impl ScopeEntry {
    /// What the scope allows, for people: the tools it unlocks, the rules that ask for it, and
    /// its place in the hierarchy.
    pub(super) fn description(&self) -> String {
        let mut parts = Vec::new();
        parts.push(match self.tools.as_slice() {
            [] => "Unlocks no tool on its own.".to_owned(),
            [tool] => format!("Unlocks the tool {tool}."),
            tools => format!("Unlocks the tools {}.", tools.join(", ")),
        });
        if !self.rules.is_empty() {
            parts.push(format!("Asked for by {}.", self.rules.join(", ")));
        }
        if !self.implies.is_empty() {
            parts.push(format!(
                "Implies {} (enforced by the MCP server).",
                self.implies.join(", ")
            ));
        }
        if !self.implied_by.is_empty() {
            parts.push(format!("Implied by {}.", self.implied_by.join(", ")));
        }
        parts.join(" ")
    }

    /// A short title for consent screens: the scope and the server it belongs to.
    pub(super) fn title(&self, server: &str) -> String {
        format!("{} ({server})", self.scope)
    }
}

/// `text`, cut to `max` characters with an ellipsis when longer (providers limit descriptions).
pub(super) fn shortened(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

fn quoted(scopes: &[&str]) -> String {
    scopes
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
