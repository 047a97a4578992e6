//! Procedural macros of [scopegate](https://docs.rs/scopegate). Use them through the `scopegate`
//! crate: the generated code refers to `::scopegate::__private`.
//!
//! Each macro runs parse -> model -> validate -> expand (`expand/mod.rs` holds the two
//! pipelines): `attr` and `params` parse the attribute macros into `model`'s `ToolItem`,
//! `ResourceItem` and `PromptItem`; `server` parses the derive; `check` holds the rules;
//! `expand/` emits one file per kind. `keys`, `doc` and `errors` serve every parser.

mod attr;
mod check;
mod debug;
mod doc;
mod errors;
mod expand;
mod keys;
mod model;
mod params;
mod rules;
mod server;

use proc_macro::TokenStream;

use crate::model::Kind;

/// Makes a function an MCP tool protected by OAuth scopes.
///
/// ```text
/// /// Current weather for a city.
/// #[mcp_tool(scope = "weather:read", read_only)]
/// async fn forecast(city: String, days: Option<u8>) -> Result<Json<Forecast>, ToolError> { ... }
/// ```
///
/// Keys:
///
/// | key | meaning |
/// |---|---|
/// | `scope = "a:b"` | the caller must hold this scope |
/// | `scopes = ["a", "b"]` | the caller must hold all of them |
/// | `public` | anyone may call the tool (said out loud: a tool with no scope key does not compile) |
/// | `downstream = "https://api.example"` (or a list) | the APIs the tool may get a token for by token exchange (RFC 8693), through its `Downstream` parameter: absolute `https` (or `http` to loopback) resource URIs, checked here |
/// | `name = "..."` | the MCP tool name (default: the function's name) |
/// | `title = "..."` | a human-readable title |
/// | `description = "..."` | overrides the doc comment |
/// | `read_only`, `destructive`, `idempotent`, `open_world` (`= bool` optional) | behaviour hints (`readOnlyHint`, …) |
/// | `crate = path` | where `scopegate` is, for crates that re-export it |
///
/// The doc comment is the description. Each parameter is a JSON argument (any
/// `Deserialize + JsonSchema` type; described by `#[arg(description = "...")]` or a `#[doc]`
/// attribute, renamed by `#[arg(rename = "...")]`) or an extractor (`Principal`, `State<T>`,
/// `RequestContext`). `#[arg(header = "Region")]` on a string, integer or boolean argument (or
/// an `Option` of one) marks it `"x-mcp-header": "Region"` in the input schema: 2026-07-28
/// clients mirror it into an `Mcp-Param-Region` header (SEP-2243), which the server checks
/// against the body. The name must be an RFC 9110 token, unique in the tool case-insensitively;
/// all three rules are checked at compile time. The return type is anything implementing `IntoToolResult`: `String`,
/// `Json<T>` (adds `outputSchema` and `structuredContent`), `Content`, `Vec<Content>`, `()`, or a
/// `Result` of those whose error becomes an `isError: true` result.
///
/// The function stays callable as written; the macro adds a hidden item of the same name in the
/// type namespace, which `#[derive(McpServer)]`'s `tools(...)` refers to.
#[proc_macro_attribute]
pub fn mcp_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(args.into(), item.into(), Kind::Tool).into()
}

/// Makes a function an MCP resource (or resource template) protected by OAuth scopes.
///
/// ```text
/// /// One note, as Markdown.
/// #[mcp_resource(uri = "notes://note/{id}", mime_type = "text/markdown", scope = "notes:read")]
/// fn note(store: State<Store>, id: u64) -> Result<String, ResourceError> { ... }
/// ```
///
/// Keys: `uri` (required: a URI, or an RFC 6570 template with `{var}` / `{+var}` whose
/// variables fill the parameters of the same names), `mime_type`, `scope` / `scopes` / `public`,
/// the scope rules and `downstream` of `#[mcp_tool]`, `name` (default: the function's name),
/// `title`, `description`, `crate`. The handler returns
/// `String` (text), `Vec<u8>` (binary), `ResourceContents`, `Vec<ResourceContents>`, or a
/// `Result` of those; `Err(ResourceError::NotFound)` answers "resource not found".
/// List it in the derive's `resources(...)`.
#[proc_macro_attribute]
pub fn mcp_resource(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(args.into(), item.into(), Kind::Resource).into()
}

/// Makes a function an MCP prompt protected by OAuth scopes. Its parameters are the prompt's
/// arguments (strings on the wire; `#[arg(description = "...", complete = f)]` describes one and
/// offers completions from `fn f(&str) -> Vec<String>`).
///
/// ```text
/// /// Summarize the notes about a topic.
/// #[mcp_prompt(scope = "notes:read")]
/// fn summarize(topic: String, style: Option<String>) -> Vec<PromptMessage> { ... }
/// ```
///
/// Keys: `scope` / `scopes` / `public`, the scope rules and `downstream` of `#[mcp_tool]`,
/// `name`, `title`, `description`, `crate`. The handler
/// returns `String` (one user message), `PromptMessage`, `Vec<PromptMessage>`,
/// `GetPromptResult`, or a `Result` of those. List it in the derive's `prompts(...)`.
#[proc_macro_attribute]
pub fn mcp_prompt(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(args.into(), item.into(), Kind::Prompt).into()
}

/// Implements `McpServer` with `const` tables: the tools, and the sorted, de-duplicated scope
/// list that becomes `scopes_supported`.
///
/// ```text
/// #[derive(McpServer, Clone)]
/// #[mcp(
///     name = "files", version = "1.0.0", title = "Files", instructions = "...",
///     tools(read_file, write_file, admin::purge),
///     scopes("files:read", "files:write", "files:admin"),
///     implies("files:admin" => ["files:write", "files:read"]),
/// )]
/// struct Files { #[mcp(state)] root: Root }
/// ```
///
/// - `name` and `version` default to the crate's; `title` and `instructions` are optional.
/// - `scopes(...)` declares the vocabulary: a tool requiring any other scope does not compile.
/// - `implies(broad => [narrow, ...])` is a scope hierarchy: a caller holding the broad scope
///   satisfies the narrow ones everywhere. Cycles and unknown scopes do not compile.
/// - `#[mcp(state)]` on a field implements `FromRef<Server>` for its type, so tools can take it as
///   `State<FieldType>`.
/// - Two tools with one name, or a path in `tools(...)` that is not a tool, do not compile.
#[proc_macro_derive(McpServer, attributes(mcp))]
pub fn derive_mcp_server(input: TokenStream) -> TokenStream {
    expand::derive(input.into()).into()
}
