//! The scope table for people: which scope unlocks which tool, as JSON and as Markdown.

use serde_json::{Value, json};

use super::registry::Core;

/// A scope, the broader scopes implying it, and the tools it unlocks on its own.
pub(crate) type ScopeRow = (&'static str, Vec<&'static str>, Vec<&'static str>);

impl Core {
    /// The scope table as JSON: every scope (with the broader scopes that imply it and the tools
    /// it unlocks) and every tool with its required scopes. Paste it into your authorization
    /// server's configuration.
    pub(crate) fn scope_table_json(&self) -> Value {
        let scopes: Vec<Value> = self
            .scope_rows()
            .into_iter()
            .map(|(scope, implied_by, tools)| json!({ "scope": scope, "implied_by": implied_by, "tools": tools }))
            .collect();
        let tools: Vec<Value> = self
            .tool_metas()
            .map(|t| json!({ "tool": t.name, "scopes": t.scopes, "public": t.scopes.is_empty() }))
            .collect();
        json!({ "server": self.inner.info.name, "scopes": scopes, "tools": tools })
    }

    /// The scope table as Markdown: a table of scopes (what unlocks what) and a table of tools.
    pub(crate) fn scope_table_markdown(&self) -> String {
        let mut out = format!(
            "# Scopes of `{}`\n\n| scope | implied by | tools it unlocks |\n|---|---|---|\n",
            self.inner.info.name
        );
        let code = |items: &[&str]| {
            items
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (scope, implied_by, tools) in self.scope_rows() {
            out.push_str(&format!(
                "| `{scope}` | {} | {} |\n",
                code(&implied_by),
                code(&tools)
            ));
        }
        out.push_str("\n| tool | required scopes |\n|---|---|\n");
        for tool in self.tool_metas() {
            let scopes = if tool.scopes.is_empty() {
                "public".to_owned()
            } else {
                code(tool.scopes)
            };
            out.push_str(&format!("| `{}` | {scopes} |\n", tool.name));
        }
        out
    }

    /// For each known scope: the broader scopes implying it, and the tools a caller holding it
    /// (and nothing else) may call.
    pub(crate) fn scope_rows(&self) -> Vec<ScopeRow> {
        let table = &self.inner.scopes;
        table
            .supported()
            .iter()
            .map(|&scope| {
                let held = crate::scope::ScopeSet::from_space_separated(scope);
                let implied_by = table
                    .supported()
                    .iter()
                    .copied()
                    .filter(|&other| {
                        other != scope
                            && table.satisfies(
                                &crate::scope::ScopeSet::from_space_separated(other),
                                scope,
                            )
                    })
                    .collect();
                let tools = self
                    .tool_metas()
                    .filter(|t| !t.scopes.is_empty() && table.missing(&held, t.scopes).is_empty())
                    .map(|t| t.name)
                    .collect();
                (scope, implied_by, tools)
            })
            .collect()
    }
}
