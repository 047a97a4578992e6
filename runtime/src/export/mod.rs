//! The scope table as an authorization server's configuration: one document per provider
//! (Keycloak, Auth0, Microsoft Entra ID, Okta), besides the table itself as JSON or Markdown.
//!
//! ```rust,ignore
//! use scopegate::export::Format;
//!
//! let server = MyServer::default().into_server()?;
//! print!("{}", server.export(Format::Keycloak, "https://mcp.example.com/mcp"));
//! ```
//!
//! Every document is built from the compile-time scope table: one entry per scope, described by
//! the tools it unlocks and the rules that ask for it. No provider has a scope hierarchy, so a
//! server's `implies(...)` is explained in the descriptions and in [`Export::notes`]: scopegate
//! enforces it itself, and the provider only has to grant the broad scope.
//!
//! - `format.rs`: [`Format`], parsed from its name;
//! - `table.rs`: the provider-neutral model of the scope table the documents are made from;
//! - `keycloak.rs`, `auth0.rs`, `entra.rs` (with the GUIDs and the scope-name mapping),
//!   `okta.rs`: one document each;
//! - `document.rs`: [`Export`] and `Server::export`.

mod auth0;
mod document;
mod entra;
mod format;
mod keycloak;
mod okta;
mod table;

pub use document::Export;
pub use entra::{entra_scope_id, entra_scope_value};
pub use format::{Format, UnknownFormat};
