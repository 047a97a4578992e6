//! The `McpServer` trait the derive implements, the registry built from its `const` tables, and
//! the transport-free dispatcher where scopes are enforced for every transport.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use futures_util::future::Either;

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::connection::{Connection, LogLevel, Outbound};
use crate::principal::Principal;
use crate::prompt::{PromptDef, PromptFuture, PromptMeta};
use crate::protocol::{
    CallToolResult, ErrorObject, META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION,
    META_SERVER_INFO, MODERN_PROTOCOL_VERSIONS, Message, Request, RequestId, Response, error_code,
    negotiate_version, to_raw,
};
use crate::resource::{ResourceDef, ResourceFuture, ResourceMeta};
use crate::scope::{Implication, ScopeTable};
use crate::tool::{CallParts, Link, ParamDef, RequestContext, ToolDef, ToolFuture, ToolMeta};

mod resource_lookup;

/// The `_meta` key under which `tools/list` advertises the scopes each tool requires, so a client
/// can ask for them before its first call.
pub const REQUIRED_SCOPES_META_KEY: &str = "dev.scopegate/requiredScopes";

/// Name, version and texts the server announces in `initialize`.
#[derive(Debug, Clone, Copy)]
pub struct ServerInfo {
    /// Programmatic name.
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// Instructions for the model.
    pub instructions: Option<&'static str>,
}

/// An MCP server type: implemented by `#[derive(McpServer)]` with `const` tables built at
/// compile time.
pub trait McpServer: Sized + Send + Sync + 'static {
    /// What `initialize` announces.
    const INFO: ServerInfo;
    /// Every tool, in the order of the derive's `tools(...)`.
    const TOOLS: &'static [ToolDef<Self>];
    /// Every resource and resource template, in the order of the derive's `resources(...)`.
    const RESOURCES: &'static [ResourceDef<Self>] = &[];
    /// Every prompt, in the order of the derive's `prompts(...)`.
    const PROMPTS: &'static [PromptDef<Self>] = &[];
    /// Every scope the server knows, sorted and de-duplicated: the source of
    /// `scopes_supported`.
    const SCOPES: &'static [&'static str];
    /// The scope hierarchy, transitively closed.
    const IMPLICATIONS: &'static [Implication];
}

/// Why a server could not be built. Everything the macros can check is checked at compile time;
/// these are the checks that need schemas, which exist only at run time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A `Json<T>` return whose schema is not an object (MCP requires `outputSchema` to be one).
    #[error(
        "tool `{tool}`: the output schema must describe a JSON object (`\"type\": \"object\"`); wrap the returned value in a struct"
    )]
    OutputSchemaNotObject {
        /// The tool.
        tool: &'static str,
    },
    /// Two tools with one name (the derive rejects this at compile time; kept as a guard for
    /// hand-written `McpServer` impls).
    #[error("two tools are named `{tool}`")]
    DuplicateTool {
        /// The name.
        tool: &'static str,
    },
    /// Two static resources with one URI.
    #[error("two resources have the URI `{uri}`")]
    DuplicateResource {
        /// The URI.
        uri: &'static str,
    },
    /// A resource template this server cannot match.
    #[error("`{uri}` is not a supported URI template (RFC 6570 `{{var}}` and `{{+var}}`)")]
    Template {
        /// The template.
        uri: &'static str,
    },
    /// A resource URI or template not in its RFC 3986 normal form, which requests are looked up
    /// by (`resource::normalize_uri`): it could never be matched as written.
    #[error("resource `{uri}` must be declared in its normal form: `{normal}`")]
    UriNotNormal {
        /// The URI as declared.
        uri: &'static str,
        /// Its normal form.
        normal: String,
    },
    /// A resource URI or template with `.` or `..` segments that no request can name: they climb
    /// above its root or sit in a path without one (`resource::normalize_uri`).
    #[error("resource `{uri}` has `.` or `..` segments that name no resource")]
    UriDotSegments {
        /// The URI as declared.
        uri: &'static str,
    },
    /// Two prompts with one name.
    #[error("two prompts are named `{prompt}`")]
    DuplicatePrompt {
        /// The name.
        prompt: &'static str,
    },
    /// The tools/list page size is zero.
    #[error("the tools/list page size must be at least 1")]
    ZeroPageSize,
}

/// A scope, the broader scopes implying it, and the tools it unlocks on its own.
pub(crate) type ScopeRow = (&'static str, Vec<&'static str>, Vec<&'static str>);

/// Which tools, resources, resource templates and prompts the lists show a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListVisibility {
    /// Every entry, each with its required scopes in `_meta`, so a client can ask for the
    /// scopes it will need (the default).
    #[default]
    All,
    /// Only the entries the caller's scopes allow it to use.
    Granted,
}

/// Options of the dispatcher.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Tools per `tools/list` page (default 100).
    pub page_size: usize,
    /// Which entries `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` show (default [`ListVisibility::All`]).
    pub list_visibility: ListVisibility,
    /// Longest a tool, resource or prompt handler may run; past it the handler is dropped and
    /// the call fails. Default: none here; the HTTP transport applies its own (5 minutes, see
    /// `HttpConfig::handler_timeout`). Needs a Tokio runtime with its timer enabled.
    pub handler_timeout: Option<std::time::Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            list_visibility: ListVisibility::All,
            handler_timeout: None,
        }
    }
}

impl ServerOptions {
    /// Sets the `tools/list` page size.
    #[must_use]
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets the handler timeout (`None`: none).
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets which entries the lists show.
    #[must_use]
    pub fn list_visibility(mut self, visibility: ListVisibility) -> Self {
        self.list_visibility = visibility;
        self
    }
}

/// A built server: the user's state, the tool registry and the pre-serialized lists. Cheap to
/// clone; every transport serves one.
///
/// The typed handle is thin: everything a transport runs (dispatch, scope checks, HTTP) lives in
/// a core that does not depend on `S`, compiled once in this crate rather than again in every
/// server's crate (a touched tool rebuilds the tool, not the framework). Only the calls into the
/// user's handlers go through `S`, behind one small trait object.
pub struct Server<S: 'static> {
    pub(crate) core: Core,
    state: Arc<S>,
}

impl<S: 'static> Clone for Server<S> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

/// The server without its type: what every transport serves.
#[derive(Clone)]
pub(crate) struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    /// The user's value, through which handlers are called.
    handlers: Arc<dyn Handlers>,
    info: ServerInfo,
    tools: Box<[RegisteredTool]>,
    by_name: NameIndex,
    /// `tools/list` results over every tool, one per page, serialized once.
    list_pages: Box<[Box<RawValue>]>,
    /// Each resource's description and parameters, in declaration order (the handler's index).
    resources: Box<[(&'static ResourceMeta, &'static [ParamDef])]>,
    /// Static resource URI -> index in `resources`.
    resource_by_uri: NameIndex,
    resource_pages: Box<[Box<RawValue>]>,
    template_pages: Box<[Box<RawValue>]>,
    /// Each static resource's and template's scopes and list entry, for lists filtered by the
    /// caller's scopes.
    resource_entries: Box<[ListEntry]>,
    template_entries: Box<[ListEntry]>,
    /// Each prompt with its parameters and the names of its arguments.
    prompts: Box<[RegisteredPrompt]>,
    prompt_by_name: NameIndex,
    prompt_pages: Box<[Box<RawValue>]>,
    prompt_entries: Box<[ListEntry]>,
    options: ServerOptions,
    scopes: ScopeTable,
    /// Live client connections, for notifications unrelated to a request.
    connections: std::sync::Mutex<Vec<std::sync::Weak<Connection>>>,
}

/// An entry of a list: the scopes it needs, and its JSON, serialized once.
type ListEntry = (&'static [&'static str], Box<RawValue>);

type RegisteredPrompt = (
    &'static PromptMeta,
    &'static [ParamDef],
    Box<[&'static str]>,
);

struct RegisteredTool {
    meta: &'static ToolMeta,
    /// The tool's `tools/list` entry, serialized once.
    json: Box<RawValue>,
    /// Names of the JSON arguments (not extractors), for rejecting unknown keys.
    arguments: Box<[&'static str]>,
}

/// The user's server value, seen from the core: starts the handler at an index of its
/// `TOOLS`, `RESOURCES` or `PROMPTS` with the call's parts. Implemented for every
/// [`McpServer`]; with `Server<S>`'s delegating methods and the building of its tables, the
/// only code of the server compiled per server type.
pub(crate) trait Handlers: Send + Sync + 'static {
    fn call_tool(&self, index: usize, call: Call<'_>) -> ToolFuture;
    fn read_resource(&self, index: usize, call: Call<'_>) -> ResourceFuture;
    fn get_prompt(&self, index: usize, call: Call<'_>) -> PromptFuture;
}

impl<S: McpServer> Handlers for S {
    fn call_tool(&self, index: usize, call: Call<'_>) -> ToolFuture {
        (Self::TOOLS[index].call)(&mut call.with_state(self))
    }

    fn read_resource(&self, index: usize, call: Call<'_>) -> ResourceFuture {
        (Self::RESOURCES[index].read)(&mut call.with_state(self))
    }

    fn get_prompt(&self, index: usize, call: Call<'_>) -> PromptFuture {
        (Self::PROMPTS[index].get)(&mut call.with_state(self))
    }
}

/// What a handler's parameters are extracted from, but the server's value.
pub(crate) struct Call<'a> {
    principal: &'a Principal,
    arguments: Map<String, Value>,
    context: &'a RequestContext,
    problems: Vec<String>,
    kind: &'static str,
    strings: bool,
}

impl<'a> Call<'a> {
    fn with_state<S>(self, state: &'a S) -> CallParts<'a, S> {
        CallParts {
            state,
            principal: self.principal,
            arguments: self.arguments,
            context: self.context,
            problems: self.problems,
            kind: self.kind,
            strings: self.strings,
        }
    }
}

/// A tool without its handler: its description, parameters and output schema.
type ToolTable = (
    &'static ToolMeta,
    &'static [ParamDef],
    fn() -> Option<Schema>,
);

/// A server's tables without their handlers: what [`Core::build`] registers.
struct Tables {
    info: ServerInfo,
    tools: Vec<ToolTable>,
    resources: Vec<(&'static ResourceMeta, &'static [ParamDef])>,
    prompts: Vec<(&'static PromptMeta, &'static [ParamDef])>,
    scopes: &'static [&'static str],
    implications: &'static [Implication],
}

impl<S: McpServer> Server<S> {
    /// Builds the server with default options.
    pub fn new(state: S) -> Result<Self, BuildError> {
        Self::with_options(state, ServerOptions::default())
    }

    /// Builds the server: computes every schema once and serializes the tool lists.
    pub fn with_options(state: S, options: ServerOptions) -> Result<Self, BuildError> {
        let state = Arc::new(state);
        let tables = Tables {
            info: S::INFO,
            tools: S::TOOLS
                .iter()
                .map(|def| (&def.meta, def.params, def.output_schema))
                .collect(),
            resources: S::RESOURCES
                .iter()
                .map(|def| (&def.meta, def.params))
                .collect(),
            prompts: S::PROMPTS
                .iter()
                .map(|def| (&def.meta, def.params))
                .collect(),
            scopes: S::SCOPES,
            implications: S::IMPLICATIONS,
        };
        let handlers: Arc<dyn Handlers> = Arc::clone(&state) as Arc<dyn Handlers>;
        Ok(Self {
            core: Core::build(handlers, tables, options)?,
            state,
        })
    }
}

impl Core {
    fn build(
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
            let (input_schema, arguments) = input_schema(params);
            let output_schema = output_schema();
            if let Some(schema) = &output_schema
                && schema.get("type").and_then(Value::as_str) != Some("object")
            {
                return Err(BuildError::OutputSchemaNotObject { tool: name });
            }
            let json = to_raw(&tool_json(meta, input_schema, output_schema))
                .expect("a serde_json::Value always serializes");
            tools.push(RegisteredTool {
                meta,
                json,
                arguments,
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
                template_entries.push((meta.scopes, raw(&resource_json(meta))));
            } else {
                if resource_by_uri.insert(meta.uri, index).is_some() {
                    return Err(BuildError::DuplicateResource { uri: meta.uri });
                }
                static_entries.push((meta.scopes, raw(&resource_json(meta))));
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
            prompt_entries.push((meta.scopes, raw(&prompt_json_entry(meta, arguments))));
            prompts.push((meta, params, names));
        }
        let prompt_pages = pages("prompts", &json_of(&prompt_entries), options.page_size);

        Ok(Self {
            inner: Arc::new(Inner {
                handlers,
                info: tables.info,
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
                scopes: ScopeTable::new(tables.scopes, tables.implications),
                connections: std::sync::Mutex::default(),
            }),
        })
    }
}

impl<S: McpServer> Server<S> {
    /// The user's server value.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The server's scopes and hierarchy.
    pub fn scopes(&self) -> &ScopeTable {
        &self.core.inner.scopes
    }

    /// What `initialize` announces.
    pub fn info(&self) -> &ServerInfo {
        &self.core.inner.info
    }

    /// The tool descriptors, in declaration order.
    pub fn tools(&self) -> impl ExactSizeIterator<Item = &'static ToolDef<S>> + '_ {
        S::TOOLS.iter()
    }

    /// A new client connection (a stdio process, an HTTP session), registered so that
    /// [`Server::notify_resource_updated`] reaches it.
    pub fn connect(&self) -> Arc<Connection> {
        self.core.connect()
    }

    /// Shutting down: every client's pending requests fail and its standalone stream ends;
    /// requests in flight still finish.
    pub fn hang_up_all(&self) {
        self.core.hang_up_all();
    }

    /// Tells every client subscribed to `uri` that the resource changed
    /// (`notifications/resources/updated`); returns how many were told.
    pub fn notify_resource_updated(&self, uri: &str) -> usize {
        self.core.notify_resource_updated(uri)
    }

    /// The resource descriptors, in declaration order.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = &'static ResourceDef<S>> + '_ {
        S::RESOURCES.iter()
    }

    /// The prompt descriptors, in declaration order.
    pub fn prompts(&self) -> impl ExactSizeIterator<Item = &'static PromptDef<S>> + '_ {
        S::PROMPTS.iter()
    }

    /// Every scope some tool, resource or prompt requires directly, sorted and de-duplicated
    /// (scopes that only imply others are left out: they are what a client asks for when it
    /// wants everything, not the least it needs).
    #[must_use]
    pub fn required_scopes(&self) -> Vec<String> {
        self.core.required_scopes()
    }

    /// The tool a name refers to.
    pub fn tool(&self, name: &str) -> Option<&'static ToolDef<S>> {
        self.core
            .inner
            .by_name
            .get(name)
            .map(|&index| &S::TOOLS[index])
    }

    /// The scope table as JSON: every scope (with the broader scopes that imply it and the tools
    /// it unlocks) and every tool with its required scopes. Paste it into your authorization
    /// server's configuration.
    #[must_use]
    pub fn scope_table_json(&self) -> Value {
        self.core.scope_table_json()
    }

    /// The scope table as Markdown: a table of scopes (what unlocks what) and a table of tools.
    #[must_use]
    pub fn scope_table_markdown(&self) -> String {
        self.core.scope_table_markdown()
    }

    /// Parses one JSON-RPC message and handles it as [`Server::handle`] does.
    pub fn handle_bytes<'a>(
        &'a self,
        bytes: &'a [u8],
        principal: &'a Principal,
    ) -> impl Future<Output = Reply> + Send + 'a {
        self.core.handle_bytes(bytes, principal)
    }

    /// Handles one message on behalf of `principal`.
    ///
    /// Requests get a response or, when the principal lacks a tool's scopes, a [`Denial`] (before
    /// the tool runs); notifications and responses get [`Reply::Nothing`].
    pub fn handle<'a>(
        &'a self,
        message: Message,
        principal: &'a Principal,
    ) -> impl Future<Output = Reply> + Send + 'a {
        self.core.handle(message, principal)
    }

    /// Handles one message on a client connection: `connection` carries the client's
    /// capabilities, log level, cancellations and answers to the server's requests; `outbound`
    /// is where this request's notifications and requests to the client go (none: they are
    /// dropped, and requests to the client fail).
    #[allow(clippy::manual_async_fn)] // the signature promises `Send`; an `async fn` would not
    pub fn handle_in<'a>(
        &'a self,
        message: Message,
        principal: &'a Principal,
        connection: &'a Arc<Connection>,
        outbound: Option<Outbound>,
    ) -> impl Future<Output = Reply> + Send + 'a {
        // Lazily, like an `async fn`: a notification or answer takes effect when the future is
        // first polled, not when it is made (the core's own version acts at once).
        async move {
            self.core
                .handle_in(message, principal, connection, outbound)
                .await
        }
    }
}

impl Core {
    pub(crate) fn connect(&self) -> Arc<Connection> {
        let connection = Connection::new();
        let mut connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        connections.retain(|c| c.strong_count() > 0);
        connections.push(Arc::downgrade(&connection));
        connection
    }

    pub(crate) fn hang_up_all(&self) {
        let connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for connection in connections.iter().filter_map(std::sync::Weak::upgrade) {
            connection.hang_up();
        }
    }

    pub(crate) fn notify_resource_updated(&self, uri: &str) -> usize {
        let connections: Vec<Arc<Connection>> = {
            let connections = self
                .inner
                .connections
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            connections
                .iter()
                .filter_map(std::sync::Weak::upgrade)
                .collect()
        };
        let message = json!({
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": { "uri": uri },
        });
        // Subscriptions are kept in the URI's normal form. An update goes only to a session whose
        // latest request's principal may still read the resource.
        // The resource's scope sets are found once, not once per subscriber.
        let Some(normal) = crate::resource::normalize_uri(uri) else {
            return 0;
        };
        let Some(required) = self
            .find_resource(uri)
            .map(|(_, meta, _)| self.resource_scopes(uri, meta).collect::<Vec<_>>())
        else {
            return 0;
        };
        let may_read = |principal: &Principal| {
            required.iter().all(|scopes| {
                self.inner
                    .scopes
                    .missing(principal.scopes(), scopes)
                    .is_empty()
            })
        };
        connections
            .iter()
            .filter(|c| c.is_subscribed(&normal))
            .filter(|c| c.subscriber().is_some_and(|principal| may_read(&principal)))
            .filter(|c| c.notify(&message))
            .count()
    }

    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn info(&self) -> &ServerInfo {
        &self.inner.info
    }

    pub(crate) fn scopes(&self) -> &ScopeTable {
        &self.inner.scopes
    }

    pub(crate) fn required_scopes(&self) -> Vec<String> {
        let inner = &self.inner;
        let mut required: Vec<String> = inner
            .tools
            .iter()
            .map(|t| t.meta.scopes)
            .chain(inner.resources.iter().map(|(meta, _)| meta.scopes))
            .chain(inner.prompts.iter().map(|(meta, _, _)| meta.scopes))
            .flatten()
            .map(|s| (*s).to_owned())
            .collect();
        required.sort();
        required.dedup();
        required
    }

    /// The tools' descriptions, in declaration order.
    fn tool_metas(&self) -> impl Iterator<Item = &'static ToolMeta> + '_ {
        self.inner.tools.iter().map(|t| t.meta)
    }
}

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

impl Core {
    pub(crate) async fn handle_bytes(&self, bytes: &[u8], principal: &Principal) -> Reply {
        match Message::parse(bytes) {
            Ok(message) => self.handle(message, principal).await,
            Err(response) => Reply::Response(*response),
        }
    }

    pub(crate) async fn handle(&self, message: Message, principal: &Principal) -> Reply {
        self.handle_in(message, principal, &Connection::new(), None)
            .await
    }

    /// Not an `async fn`: notifications and answers are handled at once, and a request's future
    /// is the dispatcher's own, with no wrapper state of its own to carry (each `async fn`
    /// layer keeps a copy of its arguments beside its callee's future, and the transports box
    /// this future for every request).
    pub(crate) fn handle_in<'a>(
        &'a self,
        message: Message,
        principal: &'a Principal,
        connection: &Arc<Connection>,
        outbound: Option<Outbound>,
    ) -> impl Future<Output = Reply> + Send + 'a {
        match message {
            Message::Request(request) => {
                connection.note_principal(principal);
                let link = Link {
                    connection: Arc::clone(connection),
                    outbound,
                };
                // A 2026-07-28 request takes the larger path, boxed, so that a legacy
                // request's future does not carry its room.
                match request.modern_meta() {
                    Some(meta) => Either::Left(Either::Left(Box::pin(
                        self.handle_modern(request, meta, principal, link),
                    ))),
                    None => Either::Left(Either::Right(self.dispatch(request, principal, link))),
                }
            }
            Message::Notification(notification) => {
                if &*notification.method == "notifications/cancelled" {
                    #[derive(Deserialize)]
                    #[serde(rename_all = "camelCase")]
                    struct Cancelled {
                        request_id: Value,
                    }
                    if let Ok(cancelled) = parse_params::<Cancelled>(notification.params.as_deref())
                        && let Some(id) = RequestId::from_value(cancelled.request_id)
                    {
                        connection.cancel(&id);
                    }
                }
                Either::Right(std::future::ready(Reply::Nothing))
            }
            Message::Response { id, result } => {
                match id {
                    Some(id) => connection.complete(&id, result),
                    None => {
                        // Any client can post one per request, with a 4 MiB message: DEBUG, and
                        // only the code and a clipped message (issue 18, item 10).
                        let (code, message) = match &result {
                            Ok(_) => (None, ""),
                            Err(error) => (Some(error.code), &*error.message),
                        };
                        tracing::debug!(target: "scopegate::tool", event = "client_error_response", code, error_message = &*crate::clip::clip(message, crate::clip::NAME_BYTES), "the client could not read a message of the server's");
                    }
                }
                Either::Right(std::future::ready(Reply::Nothing))
            }
        }
    }

    async fn dispatch(&self, request: Request, principal: &Principal, link: Link) -> Reply {
        let Request { id, method, params } = request;
        let result = match &*method {
            "initialize" => self.initialize(params.as_deref(), &link.connection),
            "ping" => Ok(empty_object()),
            "logging/setLevel" => set_level(params.as_deref(), &link.connection),
            "tools/list" => self.list_tools(params.as_deref(), principal),
            "tools/call" => return self.call_tool(id, params.as_deref(), principal, link).await,
            "resources/list" => self.list_for(
                "resources",
                &self.inner.resource_pages,
                self.inner.resource_entries.iter().map(|(s, j)| (*s, &**j)),
                params.as_deref(),
                principal,
            ),
            "resources/templates/list" => self.list_for(
                "resourceTemplates",
                &self.inner.template_pages,
                self.inner.template_entries.iter().map(|(s, j)| (*s, &**j)),
                params.as_deref(),
                principal,
            ),
            "resources/read" => {
                return self
                    .read_resource(id, params.as_deref(), principal, link)
                    .await;
            }
            "resources/subscribe" | "resources/unsubscribe" => {
                return self.subscribe(id, &method, params.as_deref(), principal, &link.connection);
            }
            "prompts/list" => self.list_for(
                "prompts",
                &self.inner.prompt_pages,
                self.inner.prompt_entries.iter().map(|(s, j)| (*s, &**j)),
                params.as_deref(),
                principal,
            ),
            "prompts/get" => {
                return self
                    .get_prompt(id, params.as_deref(), principal, link)
                    .await;
            }
            "completion/complete" => return self.complete(id, params.as_deref(), principal),
            _ => Err(ErrorObject::new(
                error_code::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            )),
        };
        Reply::Response(match result {
            Ok(raw) => Response::result(id, raw),
            Err(error) => Response::error(Some(id), error),
        })
    }

    fn initialize(
        &self,
        params: Option<&RawValue>,
        connection: &Connection,
    ) -> Result<Box<RawValue>, ErrorObject> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct InitializeParams {
            protocol_version: String,
            #[serde(default)]
            capabilities: Value,
        }
        let params: InitializeParams = parse_params(params)?;
        let size = serde_json::to_vec(&params.capabilities).map_or(usize::MAX, |v| v.len());
        if size > crate::connection::MAX_CAPABILITIES_BYTES {
            return Err(ErrorObject::new(
                error_code::INVALID_PARAMS,
                format!(
                    "client capabilities of {size} bytes: at most {} are kept",
                    crate::connection::MAX_CAPABILITIES_BYTES
                ),
            ));
        }
        connection.set_capabilities(params.capabilities);
        let info = &self.inner.info;
        let mut server_info = json!({ "name": info.name, "version": info.version });
        if let Some(title) = info.title {
            server_info["title"] = title.into();
        }
        let capabilities = self.capabilities();
        let mut result = json!({
            "protocolVersion": negotiate_version(&params.protocol_version),
            "capabilities": capabilities,
            "serverInfo": server_info,
        });
        if let Some(instructions) = info.instructions {
            result["instructions"] = instructions.into();
        }
        Ok(to_raw(&result).expect("a serde_json::Value always serializes"))
    }

    /// A 2026-07-28 request: stateless, its version, client capabilities and log level in its
    /// own `_meta` (MCP 2026-07-28, basic/index "Per-request protocol fields").
    async fn handle_modern(
        &self,
        request: Request,
        meta: Map<String, Value>,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        let id = request.id.clone();
        let refuse = |refusal, error: ErrorObject| {
            Reply::Refused(Response::error(Some(id.clone()), error), refusal)
        };
        let Some(version) = meta.get(META_PROTOCOL_VERSION).and_then(Value::as_str) else {
            return refuse(
                Refusal::BadRequest,
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("`_meta[\"{META_PROTOCOL_VERSION}\"]` must be a string"),
                ),
            );
        };
        let Some(capabilities) = meta.get(META_CLIENT_CAPABILITIES).filter(|c| c.is_object())
        else {
            return refuse(
                Refusal::BadRequest,
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("`_meta[\"{META_CLIENT_CAPABILITIES}\"]` is required"),
                ),
            );
        };
        if !MODERN_PROTOCOL_VERSIONS.contains(&version) {
            return refuse(
                Refusal::BadRequest,
                ErrorObject::new(
                    error_code::UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version",
                )
                .with_data(json!({ "supported": MODERN_PROTOCOL_VERSIONS, "requested": version })),
            );
        }
        let log_level = match meta.get(META_LOG_LEVEL) {
            None => None,
            Some(level) => match serde_json::from_value::<LogLevel>(level.clone()) {
                Ok(level) => Some(level),
                Err(_) => {
                    return refuse(
                        Refusal::BadRequest,
                        ErrorObject::new(
                            error_code::INVALID_PARAMS,
                            format!("`_meta[\"{META_LOG_LEVEL}\"]` is not a log level"),
                        ),
                    );
                }
            },
        };
        // Methods of the 2026-07-28 revision this server offers; the handshake, ping, setLevel
        // and subscribe were removed from it.
        let method = request.method.clone();
        let offered = match &*method {
            "server/discover" | "tools/list" | "tools/call" => true,
            "resources/list" | "resources/templates/list" | "resources/read" => {
                !self.inner.resources.is_empty()
            }
            "prompts/list" | "prompts/get" => !self.inner.prompts.is_empty(),
            "completion/complete" => self.capabilities().get("completions").is_some(),
            _ => false,
        };
        if !offered {
            return refuse(
                Refusal::NotFound,
                ErrorObject::new(
                    error_code::METHOD_NOT_FOUND,
                    format!("method not found: {method}"),
                ),
            );
        }
        // Nothing carries over between modern requests: a connection of its own, built from
        // this request's `_meta`.
        let connection = Connection::stateless(
            capabilities.clone(),
            log_level,
            Arc::clone(&link.connection),
        );
        let reply = if &*method == "server/discover" {
            let mut result = json!({
                "supportedVersions": MODERN_PROTOCOL_VERSIONS,
                "capabilities": self.modern_capabilities(),
            });
            if let Some(instructions) = self.inner.info.instructions {
                result["instructions"] = instructions.into();
            }
            Reply::Response(Response::result(id.clone(), raw(&result)))
        } else {
            let link = Link {
                connection,
                outbound: link.outbound,
            };
            self.dispatch(request, principal, link).await
        };
        match reply {
            Reply::Response(response) => Reply::Response(self.modernize(response, &method)),
            other => other,
        }
    }

    /// Adds what every 2026-07-28 result carries: `resultType`, the server's identity in
    /// `_meta`, and caching hints on the cacheable ones.
    fn modernize(&self, response: Response, method: &str) -> Response {
        let Response { id, payload } = response;
        let result = match payload {
            crate::protocol::Payload::Result(result) => result,
            // 2026-07-28 folds "resource not found" into invalid params.
            crate::protocol::Payload::Error(mut error) => {
                if error.code == error_code::RESOURCE_NOT_FOUND {
                    error.code = error_code::INVALID_PARAMS;
                }
                return Response::error(id, error);
            }
        };
        let Ok(Value::Object(mut result)) = serde_json::from_str::<Value>(result.get()) else {
            return Response {
                id,
                payload: crate::protocol::Payload::Result(result),
            };
        };
        result.insert("resultType".into(), "complete".into());
        // Lists are fixed for the server's lifetime; a read may change at any time and may
        // depend on who asks. A list filtered by the caller's scopes is private to them.
        let cache = match method {
            "server/discover" => Some((LIST_TTL_MS, "public")),
            "tools/list" | "resources/list" | "resources/templates/list" | "prompts/list" => {
                Some((
                    LIST_TTL_MS,
                    match self.inner.options.list_visibility {
                        ListVisibility::All => "public",
                        ListVisibility::Granted => "private",
                    },
                ))
            }
            "resources/read" => Some((0, "private")),
            _ => None,
        };
        if let Some((ttl, scope)) = cache {
            result.insert("ttlMs".into(), ttl.into());
            result.insert("cacheScope".into(), scope.into());
        }
        let info = &self.inner.info;
        let meta = result.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                META_SERVER_INFO.into(),
                json!({ "name": info.name, "version": info.version }),
            );
        }
        match id {
            Some(id) => Response::result(id, raw(&result)),
            None => Response::error(
                None,
                ErrorObject::new(error_code::INTERNAL_ERROR, "response without id"),
            ),
        }
    }

    /// What `server/discover` announces: the same, less per-resource subscriptions (2026-07-28
    /// delivers them through `subscriptions/listen`, which this server does not offer).
    fn modern_capabilities(&self) -> Value {
        let mut capabilities = self.capabilities();
        if let Some(resources) = capabilities.get_mut("resources") {
            resources["subscribe"] = false.into();
        }
        capabilities
    }

    /// What this server offers, as `initialize` and `server/discover` announce it.
    fn capabilities(&self) -> Value {
        let mut capabilities = json!({ "tools": { "listChanged": false }, "logging": {} });
        if !self.inner.resources.is_empty() {
            capabilities["resources"] = json!({ "listChanged": false, "subscribe": true });
        }
        if !self.inner.prompts.is_empty() {
            capabilities["prompts"] = json!({ "listChanged": false });
        }
        let completes = self
            .inner
            .prompts
            .iter()
            .flat_map(|&(_, params, _)| params)
            .chain(self.inner.resources.iter().flat_map(|&(_, params)| params))
            .any(|p| p.complete.is_some());
        if completes {
            capabilities["completions"] = json!({});
        }
        capabilities
    }

    fn list_tools(
        &self,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Result<Box<RawValue>, ErrorObject> {
        self.list_for(
            "tools",
            &self.inner.list_pages,
            self.inner.tools.iter().map(|t| (t.meta.scopes, &*t.json)),
            params,
            principal,
        )
    }

    /// The page of a list (`key`: `tools`, `resources`, …) a request's cursor names: from the
    /// pre-built `pages`, or, with [`ListVisibility::Granted`], of only the `entries` the
    /// caller's scopes allow.
    fn list_for<'e>(
        &self,
        key: &str,
        pages: &[Box<RawValue>],
        entries: impl Iterator<Item = (&'static [&'static str], &'e RawValue)>,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Result<Box<RawValue>, ErrorObject> {
        #[derive(Deserialize)]
        struct ListParams {
            cursor: Option<String>,
        }
        let cursor = parse_params::<ListParams>(params)?.cursor;
        let page_size = self.inner.options.page_size;
        let invalid = || ErrorObject::new(error_code::INVALID_PARAMS, "invalid cursor");
        let page = match &cursor {
            None => 0,
            Some(cursor) => decode_cursor(cursor).ok_or_else(invalid)?,
        };
        match self.inner.options.list_visibility {
            ListVisibility::All => pages.get(page).cloned().ok_or_else(invalid),
            ListVisibility::Granted => {
                let visible: Vec<&RawValue> = entries
                    .filter(|(scopes, _)| {
                        self.inner
                            .scopes
                            .missing(principal.scopes(), scopes)
                            .is_empty()
                    })
                    .map(|(_, json)| json)
                    .collect();
                if page >= page_count(visible.len(), page_size) {
                    return Err(invalid());
                }
                Ok(list_page(key, &visible, page, page_size))
            }
        }
    }

    // Not an `async fn`, which would keep its arguments twice (see `http::endpoint`).
    #[allow(clippy::manual_async_fn)]
    fn call_tool(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
        link: Link,
    ) -> impl Future<Output = Reply> {
        async move {
            let (params, index) = match NamedParams::find(params, &self.inner.by_name, "tool", &id)
            {
                Ok(found) => found,
                Err(reply) => return reply,
            };
            let tool = &self.inner.tools[index];
            let meta = tool.meta;

            if let Err(denial) = self.authorize(&id, "tool", meta.name, meta.scopes, principal) {
                return Reply::Denied(denial);
            }

            let arguments = params.arguments.unwrap_or_default();
            let connection = Arc::clone(&link.connection);
            let flight = connection.start(&id);
            let context = RequestContext::new(
                id.clone(),
                meta.name,
                params.meta,
                Some(link),
                Arc::clone(&flight.cancel),
            );
            let problems = arguments
                .keys()
                .filter(|key| !tool.arguments.contains(&key.as_str()))
                .map(|key| format!("`{key}`: unknown argument"))
                .collect();
            let call = Call {
                principal,
                arguments,
                context: &context,
                problems,
                kind: "tool",
                strings: false,
            };
            // The generated `call` extracts every parameter (collecting problems), then starts the
            // tool only if no problem was found, unknown arguments included.
            let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.inner.handlers.call_tool(index, call)
            })) {
                Ok(future) => Ok(future),
                Err(payload) => Err(crate::tool::panic_message(payload.as_ref())),
            };
            let outcome = match future {
                // A cancelled request gets no response (MCP cancellation): the handler is dropped.
                // The handler first: one that finishes at once never arms the timer.
                Ok(future) => {
                    let timeout = self
                        .inner
                        .options
                        .handler_timeout
                        .or_else(|| connection.handler_timeout());
                    match settle(future, &flight.cancel, timeout).await {
                        Settled::Done(outcome) => outcome,
                        Settled::Cancelled => return Reply::Nothing,
                        Settled::TimedOut => {
                            tracing::warn!(target: "scopegate::tool", tool = meta.name, "tool timed out");
                            Ok(CallToolResult::error(format!(
                                "tool `{}` timed out",
                                meta.name
                            )))
                        }
                    }
                }
                Err(panic) => Err(panic),
            };
            let result = outcome.unwrap_or_else(|panic| {
                tracing::error!(target: "scopegate::tool", tool = meta.name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "tool panicked");
                CallToolResult::error(format!("tool `{}` failed with an internal error", meta.name))
            });
            Reply::Response(match to_raw(&result) {
                Ok(raw) => Response::result(id, raw),
                Err(e) => Response::error(
                    Some(id),
                    ErrorObject::new(
                        error_code::INTERNAL_ERROR,
                        format!("tool result could not be serialized: {e}"),
                    ),
                ),
            })
        }
    }
}

impl Core {
    /// The scope check every operation passes before its handler runs.
    fn authorize(
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

    async fn read_resource(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        #[derive(Deserialize)]
        struct ReadParams {
            uri: String,
            #[serde(rename = "_meta")]
            meta: Option<Map<String, Value>>,
        }
        let params: ReadParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let not_found = |id| resource_not_found(id, &params.uri);
        let Some((index, meta, arguments)) = self.find_resource(&params.uri) else {
            return not_found(id);
        };
        if let Err(denial) = self.authorize_resource(&id, &params.uri, meta, principal) {
            return Reply::Denied(denial);
        }
        let handlers = &*self.inner.handlers;
        let Some(output) = self
            .run(
                &id,
                params.meta,
                link,
                meta.name,
                principal,
                arguments,
                "resource",
                |call| handlers.read_resource(index, call),
            )
            .await
        else {
            return Reply::Nothing;
        };
        let result = match output {
            Ok(output) => output.into_result(&params.uri, meta.mime_type),
            Err(panic) => Err(crate::resource::ResourceError::Failed(panic)),
        };
        Reply::Response(match result {
            Ok(contents) => Response::result(id, raw(&json!({ "contents": contents }))),
            Err(crate::resource::ResourceError::NotFound) => return not_found(id),
            Err(crate::resource::ResourceError::InvalidParams(message)) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ),
            Err(crate::resource::ResourceError::Failed(message)) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INTERNAL_ERROR, message),
            ),
        })
    }

    async fn get_prompt(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        let (params, index) =
            match NamedParams::find(params, &self.inner.prompt_by_name, "prompt", &id) {
                Ok(found) => found,
                Err(reply) => return reply,
            };
        let (meta, _, names) = &self.inner.prompts[index];
        if let Err(denial) = self.authorize(&id, "prompt", meta.name, meta.scopes, principal) {
            return Reply::Denied(denial);
        }
        let arguments = params.arguments.unwrap_or_default();
        if let Some(unknown) = arguments.keys().find(|k| !names.contains(&k.as_str())) {
            return Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("prompt `{}` has no argument `{unknown}`", meta.name),
                ),
            ));
        }
        let handlers = &*self.inner.handlers;
        let Some(output) = self
            .run(
                &id,
                params.meta,
                link,
                meta.name,
                principal,
                arguments,
                "prompt",
                |call| handlers.get_prompt(index, call),
            )
            .await
        else {
            return Reply::Nothing;
        };
        Reply::Response(match output {
            Ok(Ok(result)) => Response::result(id, raw(&result)),
            Ok(Err(crate::prompt::PromptError::InvalidParams(message))) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ),
            Ok(Err(crate::prompt::PromptError::Failed(message))) | Err(message) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INTERNAL_ERROR, message),
            ),
        })
    }

    /// Runs a resource or prompt handler: extraction, then the handler's future, with panics
    /// caught at both stages. `None` when the client cancelled the request.
    #[allow(clippy::too_many_arguments)]
    async fn run<T: Send + 'static>(
        &self,
        id: &RequestId,
        meta: Option<Map<String, Value>>,
        link: Link,
        name: &'static str,
        principal: &Principal,
        arguments: Map<String, Value>,
        kind: &'static str,
        handler: impl FnOnce(Call<'_>) -> crate::tool::HandlerFuture<T>,
    ) -> Option<Result<T, String>> {
        let flight = link.connection.start(id);
        let timeout = self
            .inner
            .options
            .handler_timeout
            .or(link.connection.handler_timeout());
        let context = RequestContext::new(
            id.clone(),
            name,
            meta,
            Some(link),
            Arc::clone(&flight.cancel),
        );
        let call = Call {
            principal,
            arguments,
            context: &context,
            problems: Vec::new(),
            kind,
            strings: true,
        };
        let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(call)))
        {
            Ok(future) => future,
            // Logged, and answered as a handler's panic is: its text is the server's, not the
            // client's to read.
            Err(payload) => {
                let panic = crate::tool::panic_message(payload.as_ref());
                tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "extraction panicked");
                return Some(Err(format!(
                    "{kind} `{name}` failed with an internal error"
                )));
            }
        };
        let result = match settle(future, &flight.cancel, timeout).await {
            Settled::Done(result) => result,
            Settled::Cancelled => return None,
            Settled::TimedOut => return Some(Err(format!("{kind} `{name}` timed out"))),
        };
        if let Err(panic) = &result {
            tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(panic, crate::clip::TEXT_BYTES), "handler panicked");
        }
        Some(result.map_err(|_| format!("{kind} `{name}` failed with an internal error")))
    }

    /// `resources/subscribe` and `resources/unsubscribe`: the resource must exist and the caller
    /// must hold its scopes (updates reveal it as much as reading does).
    fn subscribe(
        &self,
        id: RequestId,
        method: &str,
        params: Option<&RawValue>,
        principal: &Principal,
        connection: &Connection,
    ) -> Reply {
        #[derive(Deserialize)]
        struct SubscribeParams {
            uri: String,
        }
        let params: SubscribeParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let Some((_, meta, _)) = self.find_resource(&params.uri) else {
            return resource_not_found(id, &params.uri);
        };
        // Anyone may stop listening, also after losing the scopes that let it start.
        let subscribing = method == "resources/subscribe";
        if subscribing
            && let Err(denial) = self.authorize_resource(&id, &params.uri, meta, principal)
        {
            return Reply::Denied(denial);
        }
        // Kept in the form the resource was found by: updates name it that way.
        let Some(uri) = crate::resource::normalize_uri(&params.uri) else {
            return resource_not_found(id, &params.uri);
        };
        if !connection.set_subscribed(&uri, subscribing, principal) {
            return Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!(
                        "too many subscriptions: at most {} URIs of {} KiB in all per session",
                        crate::connection::MAX_SUBSCRIPTIONS,
                        crate::connection::MAX_SUBSCRIPTION_BYTES / 1024
                    ),
                ),
            ));
        }
        Reply::Response(Response::result(id, empty_object()))
    }

    /// `completion/complete`: suggestions for a prompt argument or a resource template variable,
    /// from `#[arg(complete = f)]`. Completing reveals values, so it needs the target's scopes.
    fn complete(&self, id: RequestId, params: Option<&RawValue>, principal: &Principal) -> Reply {
        #[derive(Deserialize)]
        struct Reference {
            #[serde(rename = "type")]
            kind: String,
            name: Option<String>,
            uri: Option<String>,
        }
        #[derive(Deserialize)]
        struct Argument {
            name: String,
            value: String,
        }
        #[derive(Deserialize)]
        struct CompleteParams {
            #[serde(rename = "ref")]
            reference: Reference,
            argument: Argument,
        }
        let invalid = |id, message: String| {
            Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ))
        };
        let params: CompleteParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let (kind, name, scopes, param_defs): (
            &'static str,
            String,
            &'static [&'static str],
            &'static [ParamDef],
        ) = match (
            params.reference.kind.as_str(),
            params.reference.name,
            params.reference.uri,
        ) {
            ("ref/prompt", Some(name), _) => match self.inner.prompt_by_name.get(name.as_str()) {
                Some(&index) => {
                    let (meta, params, _) = &self.inner.prompts[index];
                    ("prompt", name, meta.scopes, params)
                }
                None => return invalid(id, format!("unknown prompt: {name}")),
            },
            ("ref/resource", _, Some(uri)) => {
                match self
                    .inner
                    .resources
                    .iter()
                    .find(|(meta, _)| meta.uri == uri)
                {
                    Some(&(meta, params)) => ("resource", uri, meta.scopes, params),
                    None => return invalid(id, format!("unknown resource template: {uri}")),
                }
            }
            _ => {
                return invalid(
                    id,
                    "ref must be ref/prompt with a name or ref/resource with a uri".into(),
                );
            }
        };
        if let Err(denial) = self.authorize(&id, kind, &name, scopes, principal) {
            return Reply::Denied(denial);
        }
        let values: Vec<String> = param_defs
            .iter()
            .find(|p| p.name == params.argument.name)
            .and_then(|p| p.complete)
            .map(|complete| complete(&params.argument.value))
            .unwrap_or_default();
        // MCP caps a completion at 100 values; the rest is signalled with hasMore.
        let total = values.len();
        let values: Vec<String> = values.into_iter().take(100).collect();
        let completion = json!({
            "completion": { "values": values, "total": total, "hasMore": total > 100 }
        });
        Reply::Response(Response::result(id, raw(&completion)))
    }
}

impl<S: 'static> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.core.inner.info)
            .field("tools", &self.core.inner.tools.len())
            .finish_non_exhaustive()
    }
}

/// What the dispatcher gives back for one message.
#[derive(Debug)]
#[must_use]
pub enum Reply {
    /// A JSON-RPC response to send.
    Response(Response),
    /// The principal lacks scopes the operation requires; the transport answers in its own way
    /// (HTTP 403 with a challenge, a JSON-RPC error on stdio).
    Denied(Denial),
    /// Nothing to send (the message was a notification or a response).
    Nothing,
    /// A request refused before dispatch (2026-07-28: malformed `_meta`, unsupported version,
    /// unknown method); HTTP answers with the given status, other transports send the response.
    Refused(Response, Refusal),
}

/// The HTTP status class of a [`Reply::Refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400 Bad Request.
    BadRequest,
    /// 404 Not Found (an unknown method, 2026-07-28).
    NotFound,
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

/// The schema settings every tool schema is made with: JSON Schema 2020-12, `$defs`, no
/// `$schema` keyword (2020-12 is MCP's default dialect since 2025-11-25), and no schemars-specific
/// integer formats.
#[must_use]
pub fn schema_generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| settings.meta_schema = None)
        .with_transform(schemars::transform::RecursiveTransform(drop_numeric_format))
        .into_generator()
}

/// `format: "uint64"` and its kin are not JSON Schema formats: validators in the field (Ajv, in
/// the TypeScript SDK and the Inspector) warn about each one on every `tools/list`. The range
/// they imply stays in `minimum`/`maximum`.
fn drop_numeric_format(schema: &mut Schema) {
    let numeric = schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| {
            matches!(
                f,
                "int"
                    | "int8"
                    | "int16"
                    | "int32"
                    | "int64"
                    | "int128"
                    | "uint"
                    | "uint8"
                    | "uint16"
                    | "uint32"
                    | "uint64"
                    | "uint128"
                    | "float"
                    | "double"
            )
        });
    if numeric {
        schema.remove("format");
    }
}

/// The input schema of a tool and the names of its JSON arguments.
fn input_schema(params: &[ParamDef]) -> (Value, Box<[&'static str]>) {
    let mut generator = schema_generator();
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut names = Vec::new();
    for param in params {
        let Some(arg) = (param.schema)(&mut generator) else {
            continue;
        };
        let mut schema: Schema = arg.schema;
        // Inline subschemas do not pass through the generator's transforms; definitions do.
        schemars::transform::Transform::transform(
            &mut schemars::transform::RecursiveTransform(drop_numeric_format),
            &mut schema,
        );
        if let Some(description) = param.description {
            schema
                .ensure_object()
                .insert("description".into(), description.into());
        }
        properties.insert(param.name.into(), schema.into());
        if arg.required {
            required.push(Value::from(param.name));
        }
        names.push(param.name);
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    if !properties.is_empty() {
        schema.insert("properties".into(), properties.into());
    }
    if !required.is_empty() {
        schema.insert("required".into(), required.into());
    }
    schema.insert("additionalProperties".into(), false.into());
    let definitions = generator.take_definitions(true);
    if !definitions.is_empty() {
        schema.insert("$defs".into(), definitions.into());
    }
    (schema.into(), names.into_boxed_slice())
}

fn tool_json(meta: &ToolMeta, input_schema: Value, output_schema: Option<Schema>) -> Value {
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

fn parse_params<'a, T: Deserialize<'a>>(params: Option<&'a RawValue>) -> Result<T, ErrorObject> {
    let text = params.map_or("{}", RawValue::get);
    serde_json::from_str(text)
        .map_err(|e| ErrorObject::new(error_code::INVALID_PARAMS, format!("invalid params: {e}")))
}

/// `logging/setLevel`: the least severe level the client wants to receive.
fn set_level(
    params: Option<&RawValue>,
    connection: &Connection,
) -> Result<Box<RawValue>, ErrorObject> {
    #[derive(Deserialize)]
    struct SetLevel {
        level: LogLevel,
    }
    let params: SetLevel = parse_params(params)?;
    connection.set_log_level(params.level);
    Ok(empty_object())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}

/// How long clients may cache the server's lists (2026-07-28 `ttlMs`): they are fixed for the
/// server's lifetime, and five minutes bounds how stale a client is after a redeploy.
const LIST_TTL_MS: u64 = 300_000;

/// How a handler's run ended.
enum Settled<T> {
    /// It finished (`Err`: it panicked, with the message).
    Done(Result<T, String>),
    /// Its request was cancelled first: it was dropped.
    Cancelled,
    /// It ran past the timeout: it was dropped.
    TimedOut,
}

/// Runs a handler until it finishes, its request is cancelled, or `timeout` passes. The handler
/// is polled once before anything else is built: one that finishes at once (most do) never
/// arms the timer, and the cancellation and timeout futures are boxed, built only for a
/// handler that waits, so that a call's future does not carry their room.
async fn settle<T: Send + 'static>(
    mut future: crate::tool::HandlerFuture<T>,
    cancel: &crate::connection::Cancel,
    timeout: Option<std::time::Duration>,
) -> Settled<T> {
    let first =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx)))
            .await;
    if let std::task::Poll::Ready(outcome) = first {
        return Settled::Done(outcome);
    }
    // The handler was just polled, and its waker is this task's: it is not polled again until
    // the task wakes (a handler that yields once must not run on at once).
    let mut guards = Box::pin(async move {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Settled::Cancelled,
            () = deadline(timeout) => Settled::TimedOut,
        }
    });
    let mut polled = true;
    std::future::poll_fn(|cx| {
        if !std::mem::take(&mut polled)
            && let std::task::Poll::Ready(outcome) = std::pin::Pin::new(&mut future).poll(cx)
        {
            return std::task::Poll::Ready(Settled::Done(outcome));
        }
        guards.as_mut().poll(cx)
    })
    .await
}

/// Completes after `timeout`, or never.
async fn deadline(timeout: Option<std::time::Duration>) {
    match timeout {
        Some(timeout) => tokio::time::sleep(timeout).await,
        None => std::future::pending().await,
    }
}

/// The params of `tools/call` and `prompts/get`.
#[derive(Deserialize)]
struct NamedParams<'a> {
    /// Borrowed from the message unless it has escapes: the name is only looked up.
    #[serde(borrow)]
    name: Cow<'a, str>,
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta")]
    meta: Option<Map<String, Value>>,
}

impl<'a> NamedParams<'a> {
    /// The params of request `id`, and the index `name` has in `by_name`; or the error reply
    /// (bad params, or an unknown `kind`).
    fn find(
        params: Option<&'a RawValue>,
        by_name: &NameIndex,
        kind: &str,
        id: &RequestId,
    ) -> Result<(Self, usize), Reply> {
        let params: Self = parse_params(params)
            .map_err(|error| Reply::Response(Response::error(Some(id.clone()), error)))?;
        match by_name.get(&*params.name) {
            Some(&index) => Ok((params, index)),
            None => Err(Reply::Response(Response::error(
                Some(id.clone()),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("unknown {kind}: {}", params.name),
                ),
            ))),
        }
    }
}

/// Names the code declares (tools, prompts, static resource URIs) -> their index.
type NameIndex = HashMap<&'static str, usize, BuildHasherDefault<NameHash>>;

/// FNV-1a, for [`NameIndex`]. Its keys are fixed when the server is built, from the code, so a
/// client choosing the name looked up cannot lengthen a probe and there is no flooding for
/// SipHash to defend against; a short name hashes in a few instructions instead of ~100.
struct NameHash(u64);

impl Default for NameHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHash {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The error for a URI that names no resource (MCP `-32002`; 2026-07-28 turns it into
/// `-32602`).
fn resource_not_found(id: RequestId, uri: &str) -> Reply {
    Reply::Response(Response::error(
        Some(id),
        ErrorObject::new(error_code::RESOURCE_NOT_FOUND, "resource not found")
            .with_data(json!({ "uri": uri })),
    ))
}

fn raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    to_raw(value).expect("protocol values always serialize")
}

/// The JSON of a list's entries.
fn json_of(entries: &[ListEntry]) -> Vec<&RawValue> {
    entries.iter().map(|(_, json)| &**json).collect()
}

/// The pre-built pages of a list, keyed by `key` (`resources`, `prompts`, …).
fn pages(key: &str, entries: &[&RawValue], page_size: usize) -> Box<[Box<RawValue>]> {
    (0..page_count(entries.len(), page_size))
        .map(|page| list_page(key, entries, page, page_size))
        .collect()
}

fn required_scopes_meta(scopes: &[&str]) -> Value {
    json!({ REQUIRED_SCOPES_META_KEY: scopes })
}

fn resource_json(meta: &crate::resource::ResourceMeta) -> Value {
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
fn prompt_arguments(params: &[ParamDef]) -> (Vec<Value>, Box<[&'static str]>) {
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

fn prompt_json_entry(meta: &PromptMeta, arguments: Vec<Value>) -> Value {
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

fn page_count(tools: usize, page_size: usize) -> usize {
    tools.div_ceil(page_size).max(1)
}

/// One `tools/list` result: a page of pre-serialized tool entries and, unless it is the last,
/// the cursor of the next page.
fn list_page(key: &str, tools: &[&RawValue], page: usize, page_size: usize) -> Box<RawValue> {
    let start = (page * page_size).min(tools.len());
    let end = (start + page_size).min(tools.len());
    let mut out = format!(r#"{{"{key}":["#);
    for (i, tool) in tools[start..end].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(tool.get());
    }
    out.push(']');
    if end < tools.len() {
        out.push_str(r#","nextCursor":""#);
        out.push_str(&encode_cursor(page + 1));
        out.push('"');
    }
    out.push('}');
    RawValue::from_string(out).expect("concatenated JSON values form JSON")
}

// Cursors are opaque to clients; ours name a page of the list.
const CURSOR_PREFIX: &str = "sgpage-";

fn encode_cursor(page: usize) -> String {
    format!("{CURSOR_PREFIX}{page}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let digits = cursor.strip_prefix(CURSOR_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use super::*;
    use crate::connection::Cancel;
    use crate::tool::HandlerFuture;

    /// A future that counts its polls.
    struct Counted<F> {
        inner: Pin<Box<F>>,
        polls: Arc<AtomicUsize>,
    }

    #[test]
    fn name_index_hashes_with_fnv_1a_and_finds_exactly_its_names() {
        // The published FNV-1a 64-bit test vectors.
        for (input, expected) in [
            ("", 0xcbf2_9ce4_8422_2325_u64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            let mut hash = NameHash::default();
            hash.write(input.as_bytes());
            assert_eq!(hash.finish(), expected, "{input:?}");
        }
        let names: Vec<&'static str> = (0..100)
            .map(|i| &*Box::leak(format!("tool_{i}").into_boxed_str()))
            .collect();
        let mut index = NameIndex::default();
        for (i, name) in names.iter().enumerate() {
            assert!(index.insert(name, i).is_none());
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(name), Some(&i));
        }
        for absent in ["", "tool_", "tool_100", "Tool_1", "tool_1\0"] {
            assert_eq!(index.get(absent), None, "{absent:?}");
        }
    }

    impl<F: Future> Future for Counted<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.inner.as_mut().poll(cx)
        }
    }

    #[tokio::test]
    async fn a_waiting_handler_is_polled_again_only_once_woken() {
        let polls = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(tokio::sync::Notify::new());
        let handler = HandlerFuture::new(Counted {
            inner: Box::pin({
                let go = Arc::clone(&go);
                async move {
                    go.notified().await;
                    7_u8
                }
            }),
            polls: Arc::clone(&polls),
        });
        let cancel = Cancel::default();
        let mut settling = std::pin::pin!(settle(handler, &cancel, Some(Duration::from_secs(60))));
        let first = std::future::poll_fn(|cx| Poll::Ready(settling.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "polled again before it woke"
        );
        go.notify_one();
        assert!(matches!(settling.await, Settled::Done(Ok(7))));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn handlers_settle_as_cancelled_timed_out_or_done_handler_first() {
        let cancelled = Cancel::default();
        cancelled.cancel();
        let waits = || HandlerFuture::new(std::future::pending::<u8>());
        assert!(matches!(
            settle(waits(), &cancelled, None).await,
            Settled::Cancelled
        ));
        assert!(matches!(
            settle(waits(), &Cancel::default(), Some(Duration::from_millis(20))).await,
            Settled::TimedOut
        ));
        // A handler that finishes at once is answered even on a request already cancelled.
        let at_once = HandlerFuture::new(async { 1_u8 });
        assert!(matches!(
            settle(at_once, &cancelled, None).await,
            Settled::Done(Ok(1))
        ));
        // A panic is an outcome, not an unwinding server.
        let panics = HandlerFuture::new(async {
            if true {
                panic!("boom");
            }
            0_u8
        });
        assert!(matches!(
            settle(panics, &Cancel::default(), None).await,
            Settled::Done(Err(message)) if message.contains("boom")
        ));
    }
}
