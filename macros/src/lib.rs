//! Procedural macros of [scopegate](https://docs.rs/scopegate). Use them through the `scopegate`
//! crate: the generated code refers to `::scopegate::__private`.

mod attr;
mod check;
mod server;
mod tool;

use proc_macro::TokenStream;

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
/// | `name = "..."` | the MCP tool name (default: the function's name) |
/// | `title = "..."` | a human-readable title |
/// | `description = "..."` | overrides the doc comment |
/// | `read_only`, `destructive`, `idempotent`, `open_world` (`= bool` optional) | behaviour hints (`readOnlyHint`, …) |
/// | `crate = path` | where `scopegate` is, for crates that re-export it |
///
/// The doc comment is the description. Each parameter is a JSON argument (any
/// `Deserialize + JsonSchema` type; described by `#[arg(description = "...")]` or a `#[doc]`
/// attribute, renamed by `#[arg(rename = "...")]`) or an extractor (`Principal`, `State<T>`,
/// `RequestContext`). The return type is anything implementing `IntoToolResult`: `String`,
/// `Json<T>` (adds `outputSchema` and `structuredContent`), `Content`, `Vec<Content>`, `()`, or a
/// `Result` of those whose error becomes an `isError: true` result.
///
/// The function stays callable as written; the macro adds a hidden item of the same name in the
/// type namespace, which `#[derive(McpServer)]`'s `tools(...)` refers to.
#[proc_macro_attribute]
pub fn mcp_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    tool::expand(args.into(), item.into()).into()
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
    server::expand(input.into()).into()
}
