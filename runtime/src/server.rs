//! The `McpServer` trait the derive implements, the registry built from its `const` tables, and
//! the transport-free dispatcher where scopes are enforced for every transport.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::principal::Principal;
use crate::protocol::{
    CallToolResult, ErrorObject, Message, Request, RequestId, Response, error_code,
    negotiate_version, to_raw,
};
use crate::scope::{Implication, ScopeTable};
use crate::tool::{CallParts, ParamDef, RequestContext, ToolDef};

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
    /// The tools/list page size is zero.
    #[error("the tools/list page size must be at least 1")]
    ZeroPageSize,
}

/// A scope, the broader scopes implying it, and the tools it unlocks on its own.
pub(crate) type ScopeRow = (&'static str, Vec<&'static str>, Vec<&'static str>);

/// Which tools `tools/list` shows a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListVisibility {
    /// Every tool, each with its required scopes in `_meta`, so a client can ask for the scopes
    /// it will need (the default).
    #[default]
    All,
    /// Only the tools the caller's scopes allow it to call.
    Granted,
}

/// Options of the dispatcher.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Tools per `tools/list` page (default 100).
    pub page_size: usize,
    /// Which tools `tools/list` shows (default [`ListVisibility::All`]).
    pub list_visibility: ListVisibility,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            list_visibility: ListVisibility::All,
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

    /// Sets which tools `tools/list` shows.
    #[must_use]
    pub fn list_visibility(mut self, visibility: ListVisibility) -> Self {
        self.list_visibility = visibility;
        self
    }
}

/// A built server: the user's state, the tool registry and the pre-serialized lists. Cheap to
/// clone; every transport serves one.
pub struct Server<S: 'static> {
    inner: Arc<Inner<S>>,
}

impl<S: 'static> Clone for Server<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S: 'static> {
    state: S,
    info: ServerInfo,
    tools: Box<[RegisteredTool<S>]>,
    by_name: HashMap<&'static str, usize>,
    /// `tools/list` results over every tool, one per page, serialized once.
    list_pages: Box<[Box<RawValue>]>,
    options: ServerOptions,
    scopes: ScopeTable,
}

struct RegisteredTool<S: 'static> {
    def: &'static ToolDef<S>,
    /// The tool's `tools/list` entry, serialized once.
    json: Box<RawValue>,
    /// Names of the JSON arguments (not extractors), for rejecting unknown keys.
    arguments: Box<[&'static str]>,
}

impl<S: McpServer> Server<S> {
    /// Builds the server with default options.
    pub fn new(state: S) -> Result<Self, BuildError> {
        Self::with_options(state, ServerOptions::default())
    }

    /// Builds the server: computes every schema once and serializes the tool lists.
    pub fn with_options(state: S, options: ServerOptions) -> Result<Self, BuildError> {
        if options.page_size == 0 {
            return Err(BuildError::ZeroPageSize);
        }
        let mut by_name = HashMap::with_capacity(S::TOOLS.len());
        let mut tools = Vec::with_capacity(S::TOOLS.len());
        for (index, def) in S::TOOLS.iter().enumerate() {
            let name = def.meta.name;
            if by_name.insert(name, index).is_some() {
                return Err(BuildError::DuplicateTool { tool: name });
            }
            let (input_schema, arguments) = input_schema(def.params);
            let output_schema = (def.output_schema)();
            if let Some(schema) = &output_schema
                && schema.get("type").and_then(Value::as_str) != Some("object")
            {
                return Err(BuildError::OutputSchemaNotObject { tool: name });
            }
            let json = to_raw(&tool_json(def, input_schema, output_schema))
                .expect("a serde_json::Value always serializes");
            tools.push(RegisteredTool {
                def,
                json,
                arguments,
            });
        }
        let all: Vec<&RawValue> = tools.iter().map(|t| &*t.json).collect();
        let list_pages = (0..page_count(all.len(), options.page_size))
            .map(|page| list_page(&all, page, options.page_size))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                state,
                info: S::INFO,
                tools: tools.into_boxed_slice(),
                by_name,
                list_pages,
                options,
                scopes: ScopeTable::new(S::SCOPES, S::IMPLICATIONS),
            }),
        })
    }
}

impl<S: 'static> Server<S> {
    /// The user's server value.
    pub fn state(&self) -> &S {
        &self.inner.state
    }

    /// The server's scopes and hierarchy.
    pub fn scopes(&self) -> &ScopeTable {
        &self.inner.scopes
    }

    /// What `initialize` announces.
    pub fn info(&self) -> &ServerInfo {
        &self.inner.info
    }

    /// The tool descriptors, in declaration order.
    pub fn tools(&self) -> impl ExactSizeIterator<Item = &'static ToolDef<S>> + '_ {
        self.inner.tools.iter().map(|t| t.def)
    }

    /// The tool a name refers to.
    pub fn tool(&self, name: &str) -> Option<&'static ToolDef<S>> {
        self.inner
            .by_name
            .get(name)
            .map(|&index| self.inner.tools[index].def)
    }
}

impl<S: 'static> Server<S> {
    /// The scope table as JSON: every scope (with the broader scopes that imply it and the tools
    /// it unlocks) and every tool with its required scopes. Paste it into your authorization
    /// server's configuration.
    #[must_use]
    pub fn scope_table_json(&self) -> Value {
        let scopes: Vec<Value> = self
            .scope_rows()
            .into_iter()
            .map(|(scope, implied_by, tools)| json!({ "scope": scope, "implied_by": implied_by, "tools": tools }))
            .collect();
        let tools: Vec<Value> = self
            .tools()
            .map(|t| json!({ "tool": t.meta.name, "scopes": t.meta.scopes, "public": t.meta.scopes.is_empty() }))
            .collect();
        json!({ "server": self.inner.info.name, "scopes": scopes, "tools": tools })
    }

    /// The scope table as Markdown: a table of scopes (what unlocks what) and a table of tools.
    #[must_use]
    pub fn scope_table_markdown(&self) -> String {
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
        for tool in self.tools() {
            let scopes = if tool.meta.scopes.is_empty() {
                "public".to_owned()
            } else {
                code(tool.meta.scopes)
            };
            out.push_str(&format!("| `{}` | {scopes} |\n", tool.meta.name));
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
                    .tools()
                    .filter(|t| {
                        !t.meta.scopes.is_empty() && table.missing(&held, t.meta.scopes).is_empty()
                    })
                    .map(|t| t.meta.name)
                    .collect();
                (scope, implied_by, tools)
            })
            .collect()
    }
}

impl<S: Send + Sync + 'static> Server<S> {
    /// Parses one JSON-RPC message and handles it as [`Server::handle`] does.
    pub async fn handle_bytes(&self, bytes: &[u8], principal: &Principal) -> Reply {
        match Message::parse(bytes) {
            Ok(message) => self.handle(message, principal).await,
            Err(response) => Reply::Response(*response),
        }
    }

    /// Handles one message on behalf of `principal`.
    ///
    /// Requests get a response or, when the principal lacks a tool's scopes, a [`Denial`] (before
    /// the tool runs); notifications and responses get [`Reply::Nothing`].
    pub async fn handle(&self, message: Message, principal: &Principal) -> Reply {
        match message {
            Message::Request(request) => self.handle_request(request, principal).await,
            Message::Notification(_) | Message::Response { .. } => Reply::Nothing,
        }
    }

    async fn handle_request(&self, request: Request, principal: &Principal) -> Reply {
        let Request { id, method, params } = request;
        let result = match &*method {
            "initialize" => self.initialize(params.as_deref()),
            "ping" => Ok(empty_object()),
            "tools/list" => self.list_tools(params.as_deref(), principal),
            "tools/call" => return self.call_tool(id, params.as_deref(), principal).await,
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

    fn initialize(&self, params: Option<&RawValue>) -> Result<Box<RawValue>, ErrorObject> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct InitializeParams {
            protocol_version: String,
        }
        let params: InitializeParams = parse_params(params)?;
        let info = &self.inner.info;
        let mut server_info = json!({ "name": info.name, "version": info.version });
        if let Some(title) = info.title {
            server_info["title"] = title.into();
        }
        let mut result = json!({
            "protocolVersion": negotiate_version(&params.protocol_version),
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": server_info,
        });
        if let Some(instructions) = info.instructions {
            result["instructions"] = instructions.into();
        }
        Ok(to_raw(&result).expect("a serde_json::Value always serializes"))
    }

    fn list_tools(
        &self,
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
            ListVisibility::All => self.inner.list_pages.get(page).cloned().ok_or_else(invalid),
            ListVisibility::Granted => {
                let visible: Vec<&RawValue> = self
                    .inner
                    .tools
                    .iter()
                    .filter(|t| {
                        self.inner
                            .scopes
                            .missing(principal.scopes(), t.def.meta.scopes)
                            .is_empty()
                    })
                    .map(|t| &*t.json)
                    .collect();
                if page >= page_count(visible.len(), page_size) {
                    return Err(invalid());
                }
                Ok(list_page(&visible, page, page_size))
            }
        }
    }

    async fn call_tool(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Reply {
        #[derive(Deserialize)]
        struct CallParams {
            name: String,
            arguments: Option<Map<String, Value>>,
            #[serde(rename = "_meta")]
            meta: Option<Map<String, Value>>,
        }
        let params: CallParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let Some(&index) = self.inner.by_name.get(params.name.as_str()) else {
            return Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("unknown tool: {}", params.name),
                ),
            ));
        };
        let tool = &self.inner.tools[index];
        let meta = &tool.def.meta;

        let missing = self.inner.scopes.missing(principal.scopes(), meta.scopes);
        if !missing.is_empty() {
            tracing::info!(
                target: "scopegate::auth",
                event = "scope_denied",
                tool = meta.name,
                subject = principal.subject(),
                missing = %missing.join(" "),
                "tool call denied: missing scopes"
            );
            return Reply::Denied(Denial {
                id,
                tool: meta.name,
                required: meta.scopes,
                missing,
            });
        }

        let arguments = params.arguments.unwrap_or_default();
        let context = RequestContext::new(id.clone(), meta.name, params.meta);
        let mut parts = CallParts {
            state: &self.inner.state,
            principal,
            arguments: &arguments,
            context: &context,
            problems: Vec::new(),
        };
        for key in arguments.keys() {
            if !tool.arguments.contains(&key.as_str()) {
                parts.problem(format!("`{key}`: unknown argument"));
            }
        }
        // The generated `call` extracts every parameter (collecting problems), then starts the
        // tool only if no problem was found, unknown arguments included.
        let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (tool.def.call)(&mut parts)
        })) {
            Ok(future) => Ok(future),
            Err(payload) => Err(crate::tool::panic_message(payload.as_ref())),
        };
        let outcome = match future {
            Ok(future) => future.await,
            Err(panic) => Err(panic),
        };
        let result = outcome.unwrap_or_else(|panic| {
            tracing::error!(target: "scopegate::tool", tool = meta.name, panic = %panic, "tool panicked");
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

impl<S: 'static> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.inner.info)
            .field("tools", &self.inner.tools.len())
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
}

/// A refused operation: the caller lacks some of the scopes it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The id of the refused request.
    pub id: RequestId,
    /// The tool called.
    pub tool: &'static str,
    /// Every scope the tool requires.
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
            "insufficient scope: tool `{}` requires `{}`; missing `{}`",
            self.tool,
            self.required.join(" "),
            self.missing.join(" ")
        );
        if let Some(hint) = hint {
            message.push_str(". ");
            message.push_str(hint);
        }
        let data = json!({
            "tool": self.tool,
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
    /// The denial as a successful `tools/call` response whose result is an error the model can
    /// read (for clients that cannot step up their authorization).
    #[must_use]
    pub fn to_tool_error(&self) -> Response {
        let result = CallToolResult::error(format!(
            "permission denied: tool `{}` requires the OAuth scope(s) `{}`, which this client's authorization does not grant; missing `{}`",
            self.tool,
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

fn tool_json<S>(def: &ToolDef<S>, input_schema: Value, output_schema: Option<Schema>) -> Value {
    let meta = &def.meta;
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
        json!({ REQUIRED_SCOPES_META_KEY: meta.scopes }),
    );
    tool.into()
}

fn parse_params<'a, T: Deserialize<'a>>(params: Option<&'a RawValue>) -> Result<T, ErrorObject> {
    let text = params.map_or("{}", RawValue::get);
    serde_json::from_str(text)
        .map_err(|e| ErrorObject::new(error_code::INVALID_PARAMS, format!("invalid params: {e}")))
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}

fn page_count(tools: usize, page_size: usize) -> usize {
    tools.div_ceil(page_size).max(1)
}

/// One `tools/list` result: a page of pre-serialized tool entries and, unless it is the last,
/// the cursor of the next page.
fn list_page(tools: &[&RawValue], page: usize, page_size: usize) -> Box<RawValue> {
    let start = (page * page_size).min(tools.len());
    let end = (start + page_size).min(tools.len());
    let mut out = String::from(r#"{"tools":["#);
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
