//! The list entries of tools, resources and prompts, serialized once when the server is built,
//! each with the scopes it requires in `_meta`.

use schemars::Schema;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::handler::ParamDef;
use crate::prompt::PromptMeta;
use crate::schema::schema_generator;
use crate::scope::{Rules, When};
use crate::tool::{ToolMeta, ToolQuota};

/// The `_meta` key under which `tools/list` advertises the scopes each tool requires, so a client
/// can ask for them before its first call.
pub const REQUIRED_SCOPES_META_KEY: &str = "dev.scopegate/requiredScopes";

/// Who may see an entry of a list: every scope of the first, and one of the second when it is
/// not empty.
pub(super) type Access = (&'static [&'static str], &'static [&'static str]);

/// An entry of a list: who may see it, and its JSON, serialized once.
pub(super) type ListEntry = (Access, Box<RawValue>);

/// The JSON of a list's entries.
pub(super) fn json_of(entries: &[ListEntry]) -> Vec<&RawValue> {
    entries.iter().map(|(_, json)| &**json).collect()
}

/// The `_meta` key of the any-of rule: one of these scopes suffices (`any_scope = [..]`).
pub const ANY_SCOPES_META_KEY: &str = "dev.scopegate/anyScopes";

/// The `_meta` key of the argument-dependent scopes: `[{"argument", "equals"?, "scope"}]`, each
/// needed by a call whose argument equals the value (or, without `equals`, is `true`).
pub const CONDITIONAL_SCOPES_META_KEY: &str = "dev.scopegate/conditionalScopes";

/// The `_meta` key of the scopes the handler may demand while it runs (`may_require = [..]`).
pub const MAY_REQUIRE_SCOPES_META_KEY: &str = "dev.scopegate/mayRequireScopes";

/// The `_meta` key of the downstream APIs the item may get tokens for by token exchange
/// (`downstream = [..]`): the resource URIs, as declared.
pub const DOWNSTREAM_META_KEY: &str = "dev.scopegate/downstream";

/// The `_meta` key of a tool's quota: `{"calls", "perSeconds"}` per caller.
pub const QUOTA_META_KEY: &str = "dev.scopegate/quota";

/// An entry's `_meta`: the scopes every call needs, and each rule the item has (none of the
/// other keys when it has none).
pub(super) fn scopes_meta(scopes: &[&str], rules: &Rules, quota: Option<ToolQuota>) -> Value {
    let mut meta = Map::new();
    meta.insert(REQUIRED_SCOPES_META_KEY.into(), json!(scopes));
    if !rules.any_scopes.is_empty() {
        meta.insert(ANY_SCOPES_META_KEY.into(), json!(rules.any_scopes));
    }
    if !rules.when.is_empty() {
        let clauses: Vec<Value> = rules.when.iter().map(When::to_json).collect();
        meta.insert(CONDITIONAL_SCOPES_META_KEY.into(), clauses.into());
    }
    if !rules.may_require.is_empty() {
        meta.insert(MAY_REQUIRE_SCOPES_META_KEY.into(), json!(rules.may_require));
    }
    if !rules.downstream.is_empty() {
        meta.insert(DOWNSTREAM_META_KEY.into(), json!(rules.downstream));
    }
    if let Some(quota) = quota {
        meta.insert(
            QUOTA_META_KEY.into(),
            json!({ "calls": quota.calls, "perSeconds": quota.per_seconds }),
        );
    }
    meta.into()
}

pub(super) fn tool_json(
    meta: &ToolMeta,
    input_schema: Value,
    output_schema: Option<Schema>,
) -> Value {
    let mut tool = Map::new();
    tool.insert("name".into(), meta.name.into());
    if let Some(title) = meta.title {
        tool.insert("title".into(), title.into());
    }
    if let Some(description) = meta.description {
        tool.insert("description".into(), description.into());
    }
    tool.insert("inputSchema".into(), input_schema);
    if let Some(schema) = output_schema {
        tool.insert("outputSchema".into(), schema.into());
    }
    let hints = meta.annotations;
    if !hints.is_empty() {
        let mut annotations = Map::new();
        for (key, value) in [
            ("readOnlyHint", hints.read_only),
            ("destructiveHint", hints.destructive),
            ("idempotentHint", hints.idempotent),
            ("openWorldHint", hints.open_world),
        ] {
            if let Some(value) = value {
                annotations.insert(key.into(), value.into());
            }
        }
        tool.insert("annotations".into(), annotations.into());
    }
    tool.insert(
        "_meta".into(),
        scopes_meta(meta.scopes, &meta.rules, meta.quota),
    );
    tool.into()
}

pub(super) fn resource_json(meta: &crate::resource::ResourceMeta) -> Value {
    let mut entry = Map::new();
    let key = if meta.template { "uriTemplate" } else { "uri" };
    entry.insert(key.into(), meta.uri.into());
    entry.insert("name".into(), meta.name.into());
    if let Some(title) = meta.title {
        entry.insert("title".into(), title.into());
    }
    if let Some(description) = meta.description {
        entry.insert("description".into(), description.into());
    }
    if let Some(mime) = meta.mime_type {
        entry.insert("mimeType".into(), mime.into());
    }
    entry.insert("_meta".into(), scopes_meta(meta.scopes, &meta.rules, None));
    entry.into()
}

/// A prompt's `arguments` (its JSON parameters, as MCP prompt arguments) and their names.
pub(super) fn prompt_arguments(params: &[ParamDef]) -> (Vec<Value>, Box<[&'static str]>) {
    let mut generator = schema_generator();
    let mut arguments = Vec::new();
    let mut names = Vec::new();
    for param in params {
        let Some(arg) = (param.schema)(&mut generator) else {
            continue;
        };
        let mut entry = json!({ "name": param.name, "required": arg.required });
        if let Some(description) = param.description {
            entry["description"] = description.into();
        }
        arguments.push(entry);
        names.push(param.name);
    }
    (arguments, names.into_boxed_slice())
}

pub(super) fn prompt_json_entry(meta: &PromptMeta, arguments: Vec<Value>) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), meta.name.into());
    if let Some(title) = meta.title {
        entry.insert("title".into(), title.into());
    }
    if let Some(description) = meta.description {
        entry.insert("description".into(), description.into());
    }
    entry.insert("arguments".into(), arguments.into());
    entry.insert("_meta".into(), scopes_meta(meta.scopes, &meta.rules, None));
    entry.into()
}
