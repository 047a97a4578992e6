//! [`BuildError`]: why a server's tables could not be built.

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
    /// A `when(argument == literal => ..)` clause whose literal is no value of the argument's
    /// type (a misspelt enum variant): the clause could never match, and the scope it guards
    /// would never be asked for.
    #[error(
        "`{item}`: `{clause}` compares with a value the argument can never have; use the argument's serialized form (its serde name)"
    )]
    WhenLiteral {
        /// The tool or prompt name, or the resource URI.
        item: &'static str,
        /// The clause, as written.
        clause: String,
    },
    /// An item names a downstream API the server's table does not hold (a hand-written
    /// `McpServer` whose `DOWNSTREAM` forgets one; the derive's never does).
    #[error("`{item}` names the downstream API `{api}`, which is not in the server's `DOWNSTREAM`")]
    DownstreamNotInTable {
        /// The tool or prompt name, or the resource URI.
        item: &'static str,
        /// The API.
        api: &'static str,
    },
    /// Items get tokens for downstream APIs (`downstream = ..`), but no token exchange is
    /// configured to get them (`ServerOptions::token_exchange`, feature `http`).
    #[error(
        "items may get tokens for downstream APIs (`{api}`, …) but no token exchange is configured: set `ServerOptions::token_exchange` (feature `http`)"
    )]
    NoTokenExchange {
        /// The first of the APIs.
        api: &'static str,
    },
    /// The tools/list page size is zero.
    #[error("the tools/list page size must be at least 1")]
    ZeroPageSize,
    /// A tool's `extend_schema` did not give an object, or gave a keyword its parameters define.
    #[error(
        "tool `{tool}`: `extend_schema` must give an object of keywords the parameters do not define ({problem})"
    )]
    SchemaExtension {
        /// The tool.
        tool: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A task store without an event bus: `tasks/update` and `tasks/cancel` landing on a replica
    /// that does not run the task could not reach the one that does.
    #[error(
        "a task store needs an event bus (`ServerOptions::event_bus`): replicas must reach the one running a task"
    )]
    TaskStoreWithoutBus,
    /// An event bus was configured outside a Tokio runtime: its subscription could not start.
    #[error("a server with an event bus must be built inside a Tokio runtime")]
    BusWithoutRuntime,
}
