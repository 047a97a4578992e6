//! # scopegate
//!
//! MCP servers whose tools are protected by OAuth 2.1 scopes, declared once, on the code.
//!
//! ```
//! use scopegate::prelude::*;
//!
//! /// Says hello.
//! #[mcp_tool(public, read_only)]
//! fn hello(name: String) -> String {
//!     format!("Hello, {name}!")
//! }
//!
//! /// Deletes a note.
//! #[mcp_tool(scope = "notes:write", destructive)]
//! async fn delete_note(id: u64, who: Principal) -> Result<String, ToolError> {
//!     Ok(format!("note {id} deleted by {}", who.subject().unwrap_or("someone")))
//! }
//!
//! #[derive(McpServer)]
//! #[mcp(name = "notes", version = "1.0.0", tools(hello, delete_note))]
//! struct Notes;
//!
//! assert_eq!(Notes::SCOPES, ["notes:write"]);
//! let server = Server::new(Notes).expect("schemas build");
//! assert_eq!(server.tools().len(), 2);
//! ```
//!
//! Serving it over stdio is `Notes.serve_stdio().await`; over Streamable HTTP, as an OAuth 2.1
//! protected resource, `Notes.serve_http(config, addr).await` (see [`http`]). The README has the
//! whole picture.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | yes | [`http`] (Streamable HTTP, sessions, limits, CORS), [`auth`] (JWT/JWKS and introspection verifiers, challenges, the token exchange client behind [`Downstream`]), [`metadata`] (Protected Resource Metadata, discovery) |
//! | `dev-auth` | no | `dev_auth`: an embedded development authorization server (never for production) |

#![doc(html_root_url = "https://docs.rs/scopegate/0.1.0")]

pub use scopegate_runtime::*;

/// The items nearly every server uses.
pub mod prelude {
    /// The extractor of downstream APIs' tokens (token exchange, feature `http`).
    #[cfg(feature = "http")]
    pub use scopegate_runtime::Downstream;
    pub use scopegate_runtime::{
        CallToolResult, Content, FromRef, GetPromptResult, IntoToolResult, Json, McpServer,
        McpServerExt, Principal, PromptError, PromptMessage, RequestContext, ResourceContents,
        ResourceError, Server, State, ToolError, mcp_prompt, mcp_resource, mcp_tool,
    };
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
