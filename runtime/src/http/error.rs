//! [`HttpError`]: why the transport cannot serve a configuration.

use std::net::SocketAddr;

use crate::metadata::UriError;

/// A configuration the transport cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The resource URI is unusable.
    #[error(transparent)]
    Resource(#[from] UriError),
    /// Neither a verifier nor `without_authorization` was configured.
    #[error(
        "no token verifier configured: call .jwt_issuer(..), .jwt(..) or .verifier(..), or .without_authorization() to serve public tools only"
    )]
    NoAuth,
    /// Authorization is on, but no authorization server is listed for clients to find.
    #[error("no authorization server listed: call .authorization_server(..)")]
    NoAuthorizationServer,
    /// An extra scope is not an RFC 6749 scope token.
    #[error("`{0}` is not a valid OAuth scope")]
    Scope(String),
    /// The server's tables could not be built.
    #[error(transparent)]
    Build(#[from] crate::server::BuildError),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
    /// A plain `http://` URL to a host that is not loopback (see
    /// [`HttpConfig::allow_insecure_http`](super::HttpConfig::allow_insecure_http)).
    #[error(transparent)]
    InsecureHttp(#[from] crate::transport_security::InsecureHttp),
    /// The resource URI's path is also a health check's.
    #[error(
        "the MCP endpoint's path `{0}` is also a health check's: serve MCP at another path or turn health checks off"
    )]
    PathTaken(String),
}
