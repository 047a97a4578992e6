//! The untyped core every transport serves, and its building from a server's tables: every
//! schema computed once, names indexed, the lists serialized once.

use std::hash::BuildHasherDefault;
use std::sync::Arc;

use schemars::Schema;
use serde_json::Value;
use serde_json::value::RawValue;

use super::build_error::BuildError;
use super::call::Handlers;
use super::entries::{
    ListEntry, json_of, prompt_arguments, prompt_json_entry, resource_json, tool_json,
};
use super::info::ServerInfo;
use super::json::raw;
use super::listeners::Listeners;
use super::name_index::NameIndex;
use super::options::ServerOptions;
use super::paging::pages;
use super::rate_limit::ToolQuotas;
use crate::connection::Connection;
use crate::handler::ParamDef;
use crate::prompt::PromptMeta;
use crate::protocol::to_raw;
use crate::resource::ResourceMeta;
use crate::schema::input_schema;
use crate::scope::{Implication, ScopeTable};
use crate::tool::ToolMeta;

/// The server without its type: what every transport serves.
#[derive(Clone)]
pub(crate) struct Core {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// The user's value, through which handlers are called.
    pub(super) handlers: Arc<dyn Handlers>,
    pub(super) info: ServerInfo,
    /// The `_meta` naming this server that every 2026-07-28 result carries (`modern.rs`),
    /// serialized once.
    pub(super) server_info_meta: Box<RawValue>,
    pub(super) tools: Box<[RegisteredTool]>,
    pub(super) by_name: NameIndex,
    /// `tools/list` results over every tool, one per page, serialized once.
    pub(super) list_pages: Box<[Box<RawValue>]>,
    /// Each resource's description and parameters, in declaration order (the handler's index).
    pub(super) resources: Box<[(&'static ResourceMeta, &'static [ParamDef])]>,
    /// Static resource URI -> index in `resources`.
    pub(super) resource_by_uri: NameIndex,
    pub(super) resource_pages: Box<[Box<RawValue>]>,
    pub(super) template_pages: Box<[Box<RawValue>]>,
    /// Each static resource's and template's scopes and list entry, for lists filtered by the
    /// caller's scopes.
    pub(super) resource_entries: Box<[ListEntry]>,
    pub(super) template_entries: Box<[ListEntry]>,
    /// Each prompt with its parameters and the names of its arguments.
    pub(super) prompts: Box<[RegisteredPrompt]>,
    pub(super) prompt_by_name: NameIndex,
    pub(super) prompt_pages: Box<[Box<RawValue>]>,
    pub(super) prompt_entries: Box<[ListEntry]>,
    pub(super) options: ServerOptions,
    /// The tasks of this process (2026-07-28 tasks extension).
    pub(super) tasks: super::task_registry::Tasks,
    /// This process's name on the event bus: it skips its own events.
    pub(super) origin: String,
    /// Whether any tool mirrors an argument into a header: when none does, a `tools/call`
    /// skips the header check without looking the tool up.
    pub(super) param_headers: bool,
    pub(super) scopes: ScopeTable,
    /// Every downstream API an item may get a token for (token exchange), sorted, each once:
    /// when there is none, no request carries the caller's token past authentication.
    pub(super) downstream: &'static [&'static str],
    /// Live client connections, for notifications unrelated to a request.
    pub(super) connections: std::sync::Mutex<Vec<std::sync::Weak<Connection>>>,
    /// Open `subscriptions/listen` streams (2026-07-28), for resource updates.
    pub(super) listeners: Listeners,
    /// The Protected Resource Metadata URL, once an HTTP transport serves it: the challenge a
    /// denial answered in a JSON-RPC error (a task's) points at it.
    pub(super) resource_metadata: std::sync::OnceLock<String>,
    /// Tools' quotas.
    pub(super) quotas: ToolQuotas,
}

pub(super) type RegisteredPrompt = (
    &'static PromptMeta,
    &'static [ParamDef],
    Box<[&'static str]>,
);

pub(super) struct RegisteredTool {
    pub(super) meta: &'static ToolMeta,
    /// The tool's `tools/list` entry, serialized once.
    pub(super) json: Box<RawValue>,
    /// Names of the JSON arguments (not extractors), for rejecting unknown keys.
    pub(super) arguments: Box<[&'static str]>,
    /// The arguments mirrored into `Mcp-Param-{Name}` headers (2026-07-28, SEP-2243).
    pub(super) headers: Box<[&'static ParamDef]>,
}

/// A tool without its handler: its description, parameters and output schema.
pub(super) type ToolTable = (
    &'static ToolMeta,
    &'static [ParamDef],
    fn() -> Option<Schema>,
);

/// A server's tables without their handlers: what [`Core::build`] registers.
pub(super) struct Tables {
    pub(super) info: ServerInfo,
    pub(super) tools: Vec<ToolTable>,
    pub(super) resources: Vec<(&'static ResourceMeta, &'static [ParamDef])>,
    pub(super) prompts: Vec<(&'static PromptMeta, &'static [ParamDef])>,
    pub(super) scopes: &'static [&'static str],
    pub(super) implications: &'static [Implication],
    /// Every downstream API, sorted, each once.
    pub(super) downstream: &'static [&'static str],
}

impl Core {
    pub(super) fn build(
        handlers: Arc<dyn Handlers>,
        tables: Tables,
        options: ServerOptions,
    ) -> Result<Self, BuildError> {
        if options.page_size == 0 {
            return Err(BuildError::ZeroPageSize);
        }
        let mut by_name =
            NameIndex::with_capacity_and_hasher(tables.tools.len(), BuildHasherDefault::default());
        let mut tools = Vec::with_capacity(tables.tools.len());
        for (index, &(meta, params, output_schema)) in tables.tools.iter().enumerate() {
            let name = meta.name;
            if by_name.insert(name, index).is_some() {
                return Err(BuildError::DuplicateTool { tool: name });
            }
            let (mut input_schema, arguments) = input_schema(params);
            if let Some(extend) = meta.extend_schema {
                extend_root(&mut input_schema, extend()).map_err(|problem| {
                    BuildError::SchemaExtension {
                        tool: name,
                        problem,
                    }
                })?;
            }
            let output_schema = output_schema();
            if let Some(schema) = &output_schema
                && schema.get("type").and_then(Value::as_str) != Some("object")
            {
                return Err(BuildError::OutputSchemaNotObject { tool: name });
            }
            let json = to_raw(&tool_json(meta, input_schema, output_schema))
                .expect("a serde_json::Value always serializes");
            let headers: Box<[&'static ParamDef]> =
                params.iter().filter(|p| p.header.is_some()).collect();
            tools.push(RegisteredTool {
                meta,
                json,
                arguments,
                headers,
            });
        }
        let all: Vec<&RawValue> = tools.iter().map(|t| &*t.json).collect();
        let list_pages = pages("tools", &all, options.page_size);

        let mut resource_by_uri = NameIndex::default();
        let mut static_entries: Vec<ListEntry> = Vec::new();
        let mut template_entries: Vec<ListEntry> = Vec::new();
        for (index, &(meta, _)) in tables.resources.iter().enumerate() {
            let normal = crate::resource::normalize_uri(meta.uri)
                .ok_or(BuildError::UriDotSegments { uri: meta.uri })?;
            if normal != meta.uri {
                return Err(BuildError::UriNotNormal {
                    uri: meta.uri,
                    normal: normal.into_owned(),
                });
            }
            if meta.template {
                if crate::resource::template_variables(meta.uri).is_none() {
                    return Err(BuildError::Template { uri: meta.uri });
                }
                template_entries.push((
                    (meta.scopes, meta.rules.any_scopes),
                    raw(&resource_json(meta)),
                ));
            } else {
                if resource_by_uri.insert(meta.uri, index).is_some() {
                    return Err(BuildError::DuplicateResource { uri: meta.uri });
                }
                static_entries.push((
                    (meta.scopes, meta.rules.any_scopes),
                    raw(&resource_json(meta)),
                ));
            }
        }
        let resource_pages = pages("resources", &json_of(&static_entries), options.page_size);
        let template_pages = pages(
            "resourceTemplates",
            &json_of(&template_entries),
            options.page_size,
        );

        let mut prompt_by_name = NameIndex::default();
        let mut prompts = Vec::new();
        let mut prompt_entries: Vec<ListEntry> = Vec::new();
        for (index, &(meta, params)) in tables.prompts.iter().enumerate() {
            if prompt_by_name.insert(meta.name, index).is_some() {
                return Err(BuildError::DuplicatePrompt { prompt: meta.name });
            }
            let (arguments, names) = prompt_arguments(params);
            prompt_entries.push((
                (meta.scopes, meta.rules.any_scopes),
                raw(&prompt_json_entry(meta, arguments)),
            ));
            prompts.push((meta, params, names));
        }
        let prompt_pages = pages("prompts", &json_of(&prompt_entries), options.page_size);

        let rules = tools
            .iter()
            .map(|t| (t.meta.name, &t.meta.rules))
            .chain(tables.resources.iter().map(|(m, _)| (m.uri, &m.rules)))
            .chain(tables.prompts.iter().map(|(m, _)| (m.name, &m.rules)));
        for (item, rules) in rules {
            for clause in rules.when {
                if let Some(literal) = &clause.equals
                    && !(clause.fits)(literal)
                {
                    return Err(BuildError::WhenLiteral {
                        item,
                        clause: clause.to_string(),
                    });
                }
            }
        }
        check_downstream(&tools, &tables, &options)?;
        let param_headers = tools.iter().any(|t| !t.headers.is_empty());
        if options.task_store.is_some() && options.event_bus.is_none() {
            return Err(BuildError::TaskStoreWithoutBus);
        }
        if options.event_bus.is_some() && tokio::runtime::Handle::try_current().is_err() {
            return Err(BuildError::BusWithoutRuntime);
        }
        let quotas = ToolQuotas::new(
            tools.iter().map(|t| t.meta),
            options.rate_limit_store.clone(),
        );
        let core = Self {
            inner: Arc::new(Inner {
                handlers,
                info: tables.info,
                server_info_meta: super::json::raw(&serde_json::json!({
                    crate::protocol::META_SERVER_INFO: {
                        "name": tables.info.name,
                        "version": tables.info.version,
                    }
                })),
                tools: tools.into_boxed_slice(),
                by_name,
                list_pages,
                resources: tables.resources.into_boxed_slice(),
                resource_by_uri,
                resource_pages,
                template_pages,
                resource_entries: static_entries.into_boxed_slice(),
                template_entries: template_entries.into_boxed_slice(),
                prompts: prompts.into_boxed_slice(),
                prompt_by_name,
                prompt_pages,
                prompt_entries: prompt_entries.into_boxed_slice(),
                options,
                tasks: super::task_registry::Tasks::default(),
                origin: super::task::random_id(),
                param_headers,
                scopes: ScopeTable::new(tables.scopes, tables.implications),
                downstream: tables.downstream,
                connections: std::sync::Mutex::default(),
                listeners: Listeners::default(),
                resource_metadata: std::sync::OnceLock::new(),
                quotas,
            }),
        };
        core.listen_to_replicas();
        Ok(core)
    }
}

impl Core {
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn info(&self) -> &ServerInfo {
        &self.inner.info
    }

    pub(crate) fn scopes(&self) -> &ScopeTable {
        &self.inner.scopes
    }

    /// The store of spent request states, where an HTTP transport spends DPoP proofs too.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn replay_store(&self) -> Arc<dyn super::replay::ReplayStore> {
        Arc::clone(&self.inner.options.replay_store)
    }

    /// Records the Protected Resource Metadata URL an HTTP transport serves (the first one).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn set_resource_metadata(&self, url: String) {
        let _ = self.inner.resource_metadata.set(url);
    }

    /// The scopes every item requires (the first of an any-of rule), sorted, each once: the
    /// scopes a client is asked for up front.
    pub(crate) fn required_scopes(&self) -> Vec<String> {
        let inner = &self.inner;
        let mut required: Vec<String> = inner
            .tools
            .iter()
            .map(|t| (t.meta.scopes, &t.meta.rules))
            .chain(
                inner
                    .resources
                    .iter()
                    .map(|(meta, _)| (meta.scopes, &meta.rules)),
            )
            .chain(
                inner
                    .prompts
                    .iter()
                    .map(|(meta, _, _)| (meta.scopes, &meta.rules)),
            )
            // The first of an any-of rule, as a denial asks; scopes that depend on the
            // arguments or the run are asked for when a call needs them.
            .flat_map(|(scopes, rules)| scopes.iter().chain(rules.any_scopes.first()))
            .map(|s| (*s).to_owned())
            .collect();
        required.sort();
        required.dedup();
        required
    }

    /// Every downstream API an item may get a token for, sorted, each once.
    pub(crate) fn downstream(&self) -> &'static [&'static str] {
        self.inner.downstream
    }

    /// `principal`, carrying the token it was authenticated with when some item may exchange
    /// it for a downstream API's (token exchange); as it is otherwise, so that a server
    /// without downstream APIs pays nothing for them.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn carry_subject_token(
        &self,
        principal: crate::principal::Principal,
        token: &[u8],
    ) -> crate::principal::Principal {
        if self.inner.downstream.is_empty() {
            return principal;
        }
        // Accepted tokens are token68 text: ASCII.
        match std::str::from_utf8(token) {
            Ok(token) => principal.with_subject_token(token),
            Err(_) => principal,
        }
    }

    /// Whether any tool mirrors an argument into an `Mcp-Param-{Name}` header.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn any_param_headers(&self) -> bool {
        self.inner.param_headers
    }

    /// The arguments of tool `name` that clients mirror into `Mcp-Param-{Name}` headers
    /// (2026-07-28, SEP-2243): empty for an unknown tool.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn param_headers(&self, name: &str) -> &[&'static ParamDef] {
        let inner = &*self.inner;
        inner
            .by_name
            .get(name)
            .map_or(&[], |&index| &inner.tools[index].headers)
    }

    /// Every `{Name}` some tool mirrors into an `Mcp-Param-{Name}` header, lowercased, each once
    /// (for CORS).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn param_header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .tools
            .iter()
            .flat_map(|t| t.headers.iter())
            .filter_map(|p| p.header)
            .map(str::to_ascii_lowercase)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The tools' descriptions, in declaration order.
    pub(super) fn tool_metas(&self) -> impl Iterator<Item = &'static ToolMeta> + '_ {
        self.inner.tools.iter().map(|t| t.meta)
    }
}

/// Every downstream API an item names is in the server's table (the derive's is; a hand-written
/// `McpServer` may forget one), and a server with any has a token exchange to get their tokens.
fn check_downstream(
    tools: &[RegisteredTool],
    tables: &Tables,
    options: &ServerOptions,
) -> Result<(), BuildError> {
    let items = tools
        .iter()
        .map(|t| (t.meta.name, &t.meta.rules))
        .chain(tables.resources.iter().map(|(m, _)| (m.uri, &m.rules)))
        .chain(tables.prompts.iter().map(|(m, _)| (m.name, &m.rules)));
    for (item, rules) in items {
        if let Some(&api) = rules
            .downstream
            .iter()
            .find(|api| !tables.downstream.contains(api))
        {
            return Err(BuildError::DownstreamNotInTable { item, api });
        }
    }
    #[cfg(feature = "http")]
    let configured = options.token_exchange.is_some();
    #[cfg(not(feature = "http"))]
    let configured = {
        let _ = options;
        false
    };
    match tables.downstream.first() {
        Some(&api) if !configured => Err(BuildError::NoTokenExchange { api }),
        _ => Ok(()),
    }
}

/// Adds `extension`'s keywords to the root of an input schema; refuses anything but an object,
/// and any keyword the schema already has (the parameters' `type`, `properties`, `required`,
/// `additionalProperties`, `$defs`).
fn extend_root(schema: &mut Value, extension: Value) -> Result<(), String> {
    let Value::Object(extension) = extension else {
        return Err("not an object".into());
    };
    let Some(root) = schema.as_object_mut() else {
        return Err("the input schema is not an object".into());
    };
    if let Some(taken) = extension.keys().find(|key| root.contains_key(*key)) {
        return Err(format!("`{taken}` is the parameters'"));
    }
    root.extend(extension);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::extend_root;

    /// The caller's token rides past authentication only on a server with downstream APIs: on
    /// any other, the principal is handed on as it came (no allocation on the hot path).
    #[cfg(feature = "http")]
    #[test]
    fn only_a_server_with_downstream_apis_carries_the_callers_token() {
        use std::sync::Arc;

        use super::super::call::{Call, Handlers};
        use super::{Core, ServerInfo, ServerOptions, Tables};
        use crate::auth::{ClientAuth, TokenExchange};
        use crate::principal::Principal;

        struct NoHandlers;
        impl Handlers for NoHandlers {
            fn call_tool(&self, _: usize, _: Call<'_>) -> crate::tool::ToolFuture {
                unreachable!("no tools")
            }
            fn read_resource(&self, _: usize, _: Call<'_>) -> crate::resource::ResourceFuture {
                unreachable!("no resources")
            }
            fn get_prompt(&self, _: usize, _: Call<'_>) -> crate::prompt::PromptFuture {
                unreachable!("no prompts")
            }
        }
        let core = |downstream: &'static [&'static str], options: ServerOptions| {
            let tables = Tables {
                info: ServerInfo {
                    name: "t",
                    version: "0",
                    title: None,
                    instructions: None,
                },
                tools: Vec::new(),
                resources: Vec::new(),
                prompts: Vec::new(),
                scopes: &[],
                implications: &[],
                downstream,
            };
            Core::build(Arc::new(NoHandlers), tables, options).unwrap()
        };
        let plain = core(&[], ServerOptions::default());
        let carried = plain.carry_subject_token(Principal::anonymous(), b"the-token");
        assert!(carried.subject_token().is_none());
        let exchange = TokenExchange::new(
            "https://as.example/token",
            "c",
            ClientAuth::secret_basic("s"),
        );
        let with = core(
            &["https://api.example"],
            ServerOptions::default().token_exchange(exchange),
        );
        let carried = with.carry_subject_token(Principal::anonymous(), b"the-token");
        assert_eq!(carried.subject_token().map(|t| &**t), Some("the-token"));
    }

    #[test]
    fn an_extension_adds_root_keywords_and_replaces_none() {
        let mut schema = json!({ "type": "object", "properties": { "a": {} } });
        extend_root(&mut schema, json!({ "anyOf": [{ "required": ["a"] }] })).unwrap();
        assert_eq!(schema["anyOf"][0]["required"][0], "a");
        assert_eq!(schema["type"], "object");
        let taken = extend_root(&mut schema, json!({ "properties": {} })).unwrap_err();
        assert!(taken.contains("`properties`"), "{taken}");
        assert!(extend_root(&mut schema, json!(["allOf"])).is_err());
        assert!(schema["properties"]["a"].is_object(), "nothing replaced");
    }
}
