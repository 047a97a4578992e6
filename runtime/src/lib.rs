//! The runtime of [scopegate](https://docs.rs/scopegate): scopes, tools, the MCP dispatcher and
//! its transports. Depend on the `scopegate` crate, which re-exports all of this.
//!
//! The modules, top layer first. A module uses its own layer and those below it, never one
//! above, and no two files depend on each other; the layers are written once, in the
//! repository's `docs/ARCHITECTURE.md`, which `tests/layering.rs` checks the code against.
//!
//! | layer | module | owns |
//! |---|---|---|
//! | transports | `http` | (feature `http`) Streamable HTTP: the router, sessions, limits, Origin/Host, CORS, serving |
//! | | [`stdio`] | the stdio transport, credentials from the environment |
//! | | `dev_auth` | (feature `dev-auth`) the embedded development authorization server |
//! | | `audit` | (feature `http`) checks any MCP server's authorization from outside: metadata, challenges, refusals, forged tokens |
//! | | `doctor` | (feature `http`) checks a running server's metadata, issuer and keys, and explains a token against it |
//! | | [`export`] | the scope table as a provider's configuration (Keycloak, Auth0, Entra, Okta, JSON, Markdown) |
//! | server | [`server`] | the [`McpServer`] trait, the registry and the dispatcher (scope enforcement, both protocol eras) |
//! | handlers | `handler` | what every handler is built from: parameters, extraction, [`RequestContext`], `Downstream` |
//! | | [`tool`] | the tool descriptor and the values a tool returns |
//! | | [`resource`] | resources: descriptors, URI templates, contents |
//! | | [`prompt`] | prompts: descriptors, messages |
//! | | `schema` | the settings of every JSON Schema, a tool's input schema |
//! | services | `auth` | (feature `http`) token verifiers (JWT/JWKS, introspection), bearer parsing, challenges, the token exchange client (RFC 8693) |
//! | | [`principal`] | [`Principal`], the caller a transport hands to the dispatcher |
//! | | [`scope`] | scope tokens, the set a principal holds, the server's scope table and hierarchy |
//! | | [`connection`] | the client's connection: progress, logging, sampling, elicitation, cancellation |
//! | | `fetch` | (feature `http`) the HTTP client of the authorization side: documents, keys, AS discovery |
//! | | `metadata` | (feature `http`) Protected Resource Metadata, canonical URIs |
//! | | `transport_security` | (feature `http`) plain `http://` to anything but loopback refused, with its opt-out |
//! | foundation | [`protocol`] | JSON-RPC 2.0 framing, protocol versions, MCP content and results |
//! | | `challenge` | `WWW-Authenticate: Bearer` challenges (re-exported as `auth::Challenge`) |

#[cfg(feature = "http")]
pub mod audit;
#[cfg(feature = "http")]
pub mod auth;
mod challenge;
mod clip;
pub mod connection;
#[cfg(feature = "dev-auth")]
pub mod dev_auth;
#[cfg(feature = "http")]
pub mod doctor;
pub mod export;
#[cfg(feature = "http")]
pub mod fetch;
mod handler;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod metadata;
pub mod principal;
pub mod prompt;
pub mod protocol;
pub mod resource;
mod schema;
pub mod scope;
pub mod server;
pub mod stdio;
pub mod tool;
#[cfg(feature = "http")]
pub mod transport_security;
mod uri;

pub use connection::{ClientError, Connection, LogLevel, Outbound, OutboundReceiver};
#[cfg(feature = "http")]
pub use handler::{Downstream, DownstreamError, DownstreamReason};
pub use principal::{KeyBinding, Principal};
pub use prompt::{GetPromptResult, PromptError, PromptMessage, Role};
pub use protocol::{CallToolResult, Content, ResourceContents};
pub use resource::ResourceError;
pub use scope::{ScopeSet, ScopeTable};
pub use scopegate_macros::{McpServer, mcp_prompt, mcp_resource, mcp_tool};
pub use server::{
    BuildError, Denial, DenialRule, EventBus, ListVisibility, McpServer, MemoryReplayStore,
    Refusal, ReplayStore, Reply, Server, ServerInfo, ServerOptions, StateKeyError, StateKeys,
    StoreError, StoreFuture, TaskStore,
};
pub use stdio::StdioError;
pub use tool::{
    FromRef, Input, IntoToolResult, Json, RequestContext, State, TaskSupport, ToolError,
};

#[doc(hidden)]
pub mod __private;

// The crates users' argument and result types derive from, for those who would rather not
// depend on them directly (`#[serde(crate = "scopegate::serde")]`,
// `#[schemars(crate = "scopegate::schemars")]`).
pub use schemars;
pub use serde;
pub use serde_json;

/// Building and serving, as methods on the user's server type.
pub trait McpServerExt: McpServer {
    /// Builds the server: every schema computed once, the lists pre-serialized.
    fn into_server(self) -> Result<Server<Self>, BuildError> {
        Server::new(self)
    }

    /// Serves MCP on stdin/stdout until stdin closes, with the caller's scopes from
    /// `SCOPEGATE_SCOPES` (see [`stdio`]).
    fn serve_stdio(
        self,
    ) -> impl std::future::Future<Output = Result<(), stdio::StdioError>> + Send {
        // The future is the transport's own, not one built per server type.
        stdio::serve_core(Server::new(self).map(|server| server.core))
    }

    /// Serves MCP over Streamable HTTP on `addr` (bind `127.0.0.1` unless it must be reachable
    /// from elsewhere; see [`http::DEFAULT_BIND`]).
    #[cfg(feature = "http")]
    fn serve_http(
        self,
        config: http::HttpConfig,
        addr: std::net::SocketAddr,
    ) -> impl std::future::Future<Output = Result<(), http::HttpError>> + Send {
        // The future is the transport's own, not one built per server type.
        http::serve_core(Server::new(self).map(|server| server.core), config, addr)
    }

    /// Serves MCP over Streamable HTTP on a listener already bound, with [`http::ServeOptions`]
    /// (connection limits, the shutdown signal). Requests for the MCP endpoint go to it
    /// directly, not through axum's router; to add routes of your own, build the router with
    /// [`Server::http`] and serve it with [`http::serve_with`].
    #[cfg(feature = "http")]
    fn serve_http_with(
        self,
        listener: tokio::net::TcpListener,
        config: http::HttpConfig,
        options: http::ServeOptions,
    ) -> impl std::future::Future<Output = Result<(), http::HttpError>> + Send {
        http::serve_core_on(
            Server::new(self).map(|server| server.core),
            config,
            listener,
            options,
        )
    }
}

impl<T: McpServer> McpServerExt for T {}
