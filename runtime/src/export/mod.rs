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
//! Each provider's document is validated, in `tests/export.rs`, against a JSON Schema transcribed
//! from the provider's published schema or types (`tests/fixtures/export/schemas/`): Keycloak's
//! `RealmRepresentation`, `ClientScopeRepresentation` and `ProtocolMapperRepresentation`
//! (`keycloak/keycloak-client`, synced from Keycloak 26.7.0); the Auth0 Management API's
//! `CreateResourceServerRequestContent` (`auth0/node-auth0`); Microsoft Graph's `application`,
//! `apiApplication` and `permissionScope` (`microsoftgraph/msgraph-metadata`); Okta's
//! `AuthorizationServer` and `OAuth2Scope` (`okta/okta-management-openapi-spec`).
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
