//! The scope table for people: which scope unlocks which tool, and every rule that asks for a
//! scope (any-of, argument-dependent, demanded at run time), as JSON and as Markdown; and the
//! downstream APIs items get tokens for, which the provider's token-exchange policy must allow.

use serde_json::{Map, Value, json};

use super::registry::Core;
use crate::scope::{Rules, ScopeSet, When};
use crate::tool::ToolQuota;

/// A scope, the broader scopes implying it, the tools it unlocks on its own, and the rules that
/// ask for it.
pub(crate) type ScopeRow = (
    &'static str,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<RuleUse>,
);

/// What one scope unlocks on its own, and the broader scopes implying it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
pub(crate) struct ScopeUnlocks {
    pub(crate) scope: &'static str,
    pub(crate) implied_by: Vec<&'static str>,
    pub(crate) tools: Vec<&'static str>,
    /// Resources by URI (or URI template).
    pub(crate) resources: Vec<&'static str>,
    pub(crate) prompts: Vec<&'static str>,
}

/// A tool as a caller sees it before calling (see [`Core::tool_summaries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
pub(crate) struct ToolSummary {
    pub(crate) name: &'static str,
    pub(crate) scopes: &'static [&'static str],
    pub(crate) any_scopes: &'static [&'static str],
    pub(crate) public: bool,
    pub(crate) read_only: bool,
}

/// One rule of one item that asks for a scope: the item's kind and name, and the rule as
/// written (`any_scope`, `when(private => "repo:private")`, `may_require`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleUse {
    pub(crate) kind: &'static str,
    pub(crate) name: &'static str,
    pub(crate) rule: String,
}

impl RuleUse {
    fn to_json(&self) -> Value {
        json!({ self.kind: self.name, "rule": self.rule })
    }
}

impl Core {
    /// The scope table as JSON: every scope (with the broader scopes that imply it, the tools it
    /// unlocks and the rules that ask for it) and every tool with its required scopes and
    /// rules. Paste it into your authorization server's configuration.
    pub(crate) fn scope_table_json(&self) -> Value {
        let scopes: Vec<Value> = self
            .scope_rows()
            .into_iter()
            .map(|(scope, implied_by, tools, rules)| {
                let mut row = json!({ "scope": scope, "implied_by": implied_by, "tools": tools });
                if !rules.is_empty() {
                    row["rules"] = rules.iter().map(RuleUse::to_json).collect();
                }
                row
            })
            .collect();
        let tools: Vec<Value> = self
            .tool_metas()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("tool".into(), t.name.into());
                tool.insert("scopes".into(), json!(t.scopes));
                tool.insert("public".into(), is_public(t.scopes, &t.rules).into());
                rules_json(&mut tool, &t.rules, t.quota);
                tool.into()
            })
            .collect();
        let mut table = json!({ "server": self.inner.info.name, "scopes": scopes, "tools": tools });
        let downstream = self.downstream_uses();
        if !downstream.is_empty() {
            table["downstream"] = downstream
                .iter()
                .map(|(api, items)| {
                    let items: Vec<Value> = items
                        .iter()
                        .map(|(kind, name)| json!({ *kind: name }))
                        .collect();
                    json!({ "api": api, "used_by": items })
                })
                .collect();
        }
        table
    }

    /// Each downstream API, with the items (kind and name, a resource's URI) that get tokens
    /// for it, in the order of the server's table.
    pub(crate) fn downstream_uses(&self) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
        let inner = &self.inner;
        let items: Vec<(&'static str, &'static str, &'static Rules)> = inner
            .tools
            .iter()
            .map(|t| ("tool", t.meta.name, &t.meta.rules))
            .chain(
                inner
                    .resources
                    .iter()
                    .map(|(m, _)| ("resource", m.uri, &m.rules)),
            )
            .chain(
                inner
                    .prompts
                    .iter()
                    .map(|(m, _, _)| ("prompt", m.name, &m.rules)),
            )
            .collect();
        inner
            .downstream
            .iter()
            .map(|&api| {
                let users = items
                    .iter()
                    .filter(|(_, _, rules)| rules.downstream.contains(&api))
                    .map(|&(kind, name, _)| (kind, name))
                    .collect();
                (api, users)
            })
            .collect()
    }

    /// The scope table as Markdown: a table of scopes (what unlocks what, which rules ask for
    /// it) and a table of tools.
    pub(crate) fn scope_table_markdown(&self) -> String {
        let mut out = format!(
            "# Scopes of `{}`\n\n| scope | implied by | tools it unlocks | rules that ask for it |\n|---|---|---|---|\n",
            self.inner.info.name
        );
        for (scope, implied_by, tools, rules) in self.scope_rows() {
            let rules: Vec<String> = rules
                .iter()
                .map(|r| format!("{} `{}`: `{}`", r.kind, r.name, r.rule))
                .collect();
            out.push_str(&format!(
                "| `{scope}` | {} | {} | {} |\n",
                code(&implied_by),
                code(&tools),
                rules.join("; ")
            ));
        }
        out.push_str("\n| tool | required scopes | other rules |\n|---|---|---|\n");
        for tool in self.tool_metas() {
            let scopes = if is_public(tool.scopes, &tool.rules) {
                "public".to_owned()
            } else {
                code(tool.scopes)
            };
            let mut rules = rule_texts(&tool.rules);
            if let Some(quota) = tool.quota {
                rules.push(format!("quota {quota}"));
            }
            let rules: Vec<String> = rules.iter().map(|r| format!("`{r}`")).collect();
            out.push_str(&format!(
                "| `{}` | {scopes} | {} |\n",
                tool.name,
                rules.join(", ")
            ));
        }
        let downstream = self.downstream_uses();
        if !downstream.is_empty() {
            out.push_str(
                "\n## Downstream APIs\n\nTokens for these are got by token exchange (RFC 8693): the authorization server's exchange policy must let this server's client ask for them, with a token issued for this server as the subject.\n\n| API (`resource` / `audience`) | used by |\n|---|---|\n",
            );
            for (api, items) in downstream {
                let items: Vec<String> = items
                    .iter()
                    .map(|(kind, name)| format!("{kind} `{name}`"))
                    .collect();
                out.push_str(&format!("| `{api}` | {} |\n", items.join(", ")));
            }
        }
        out
    }

    /// The server's programmatic name, as the scope table names it.
    pub(crate) fn server_name(&self) -> &'static str {
        self.inner.info.name
    }

    /// For each known scope: the broader scopes implying it, the tools a caller holding it
    /// (and nothing else) may call, and the rules of every tool, resource and prompt that ask
    /// for it.
    pub(crate) fn scope_rows(&self) -> Vec<ScopeRow> {
        let table = &self.inner.scopes;
        let items = self.rule_items();
        table
            .supported()
            .iter()
            .map(|&scope| {
                let held = ScopeSet::from_space_separated(scope);
                let implied_by = table
                    .supported()
                    .iter()
                    .copied()
                    .filter(|&other| {
                        other != scope
                            && table.satisfies(&ScopeSet::from_space_separated(other), scope)
                    })
                    .collect();
                let tools = self
                    .tool_metas()
                    .filter(|t| {
                        !is_public(t.scopes, &t.rules)
                            && table.admits(&held, t.scopes, t.rules.any_scopes)
                    })
                    .map(|t| t.name)
                    .collect();
                let rules = items
                    .iter()
                    .flat_map(|&(kind, name, rules)| {
                        rule_uses(rules, scope).map(move |rule| RuleUse { kind, name, rule })
                    })
                    .collect();
                (scope, implied_by, tools, rules)
            })
            .collect()
    }

    /// For each known scope, what a caller holding it (and nothing else) may use: the tools
    /// (as [`Core::scope_rows`] counts them), resources (by URI or URI template) and prompts,
    /// with the broader scopes implying it. The development console shows it.
    #[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
    pub(crate) fn scope_unlocks(&self) -> Vec<ScopeUnlocks> {
        let table = &self.inner.scopes;
        self.scope_rows()
            .into_iter()
            .map(|(scope, implied_by, tools, _)| {
                let held = ScopeSet::from_space_separated(scope);
                let unlocked = |scopes: &'static [&'static str], rules: &Rules| {
                    !is_public(scopes, rules) && table.admits(&held, scopes, rules.any_scopes)
                };
                let resources = self
                    .inner
                    .resources
                    .iter()
                    .filter(|(m, _)| unlocked(m.scopes, &m.rules))
                    .map(|(m, _)| m.uri)
                    .collect();
                let prompts = self
                    .inner
                    .prompts
                    .iter()
                    .filter(|(m, _, _)| unlocked(m.scopes, &m.rules))
                    .map(|(m, _, _)| m.name)
                    .collect();
                ScopeUnlocks {
                    scope,
                    implied_by,
                    tools,
                    resources,
                    prompts,
                }
            })
            .collect()
    }

    /// Every tool as a caller sees it before calling: its name, the scopes it requires (all of
    /// them, and one of its any-of scopes), whether anyone may call it, and whether it says it
    /// only reads.
    #[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
    pub(crate) fn tool_summaries(&self) -> Vec<ToolSummary> {
        self.tool_metas()
            .map(|t| ToolSummary {
                name: t.name,
                scopes: t.scopes,
                any_scopes: t.rules.any_scopes,
                public: is_public(t.scopes, &t.rules),
                read_only: t.annotations.read_only == Some(true),
            })
            .collect()
    }

    /// Every tool, resource and prompt with rules: its kind, name (a resource's URI) and rules.
    fn rule_items(&self) -> Vec<(&'static str, &'static str, &'static Rules)> {
        let inner = &self.inner;
        let tools = inner
            .tools
            .iter()
            .map(|t| ("tool", t.meta.name, &t.meta.rules));
        let resources = inner
            .resources
            .iter()
            .map(|(m, _)| ("resource", m.uri, &m.rules));
        let prompts = inner
            .prompts
            .iter()
            .map(|(m, _, _)| ("prompt", m.name, &m.rules));
        tools
            .chain(resources)
            .chain(prompts)
            .filter(|(_, _, rules)| !rules.is_none())
            .collect()
    }
}

/// An item anyone may call: no fixed scope and no any-of rule.
fn is_public(scopes: &[&str], rules: &Rules) -> bool {
    scopes.is_empty() && rules.any_scopes.is_empty()
}

/// The rules of `rules` that ask for `scope`, as written.
fn rule_uses<'a>(rules: &'a Rules, scope: &'a str) -> impl Iterator<Item = String> + 'a {
    let any = rules
        .any_scopes
        .contains(&scope)
        .then(|| "any_scope".to_owned());
    let when = rules
        .when
        .iter()
        .filter(move |w| w.scope == scope)
        .map(ToString::to_string);
    let may = rules
        .may_require
        .contains(&scope)
        .then(|| "may_require".to_owned());
    any.into_iter().chain(when).chain(may)
}

/// Each rule of `rules`, as written.
fn rule_texts(rules: &Rules) -> Vec<String> {
    let list = |key: &str, scopes: &[&str]| {
        let quoted: Vec<String> = scopes.iter().map(|s| format!("\"{s}\"")).collect();
        format!("{key} = [{}]", quoted.join(", "))
    };
    let mut texts = Vec::new();
    if !rules.any_scopes.is_empty() {
        texts.push(list("any_scope", rules.any_scopes));
    }
    texts.extend(rules.when.iter().map(ToString::to_string));
    if !rules.may_require.is_empty() {
        texts.push(list("may_require", rules.may_require));
    }
    if !rules.downstream.is_empty() {
        texts.push(list("downstream", rules.downstream));
    }
    texts
}

/// The rule keys of a tool's JSON entry, each only when the tool has the rule.
fn rules_json(tool: &mut Map<String, Value>, rules: &Rules, quota: Option<ToolQuota>) {
    if !rules.any_scopes.is_empty() {
        tool.insert("any_scope".into(), json!(rules.any_scopes));
    }
    if !rules.when.is_empty() {
        let when: Vec<Value> = rules.when.iter().map(When::to_json).collect();
        tool.insert("when".into(), when.into());
    }
    if !rules.may_require.is_empty() {
        tool.insert("may_require".into(), json!(rules.may_require));
    }
    if !rules.downstream.is_empty() {
        tool.insert("downstream".into(), json!(rules.downstream));
    }
    if let Some(quota) = quota {
        tool.insert("quota".into(), quota.to_string().into());
    }
}

fn code(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
