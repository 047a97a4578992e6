//! The list entries of tools, resources and prompts, serialized once when the server is built,
//! each with the scopes it requires in `_meta`.

use schemars::Schema;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::handler::ParamDef;
use crate::prompt::PromptMeta;
use crate::schema::schema_generator;
use crate::tool::ToolMeta;

/// The `_meta` key under which `tools/list` advertises the scopes each tool requires, so a client
/// can ask for them before its first call.
pub const REQUIRED_SCOPES_META_KEY: &str = "dev.scopegate/requiredScopes";

/// An entry of a list: the scopes it needs, and its JSON, serialized once.
pub(super) type ListEntry = (&'static [&'static str], Box<RawValue>);

/// The JSON of a list's entries.
pub(super) fn json_of(entries: &[ListEntry]) -> Vec<&RawValue> {
    entries.iter().map(|(_, json)| &**json).collect()
}

pub(super) fn required_scopes_meta(scopes: &[&str]) -> Value {
    json!({ REQUIRED_SCOPES_META_KEY: scopes })
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
    tool.insert("_meta".into(), required_scopes_meta(meta.scopes));
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
    entry.insert("_meta".into(), required_scopes_meta(meta.scopes));
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
    entry.insert("_meta".into(), required_scopes_meta(meta.scopes));
    entry.into()
}
