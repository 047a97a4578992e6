//! What the development authorization server is told at start (`DevAuthConfig`), and why it
//! may refuse to start (`DevAuthError`).

use std::time::Duration;

use crate::metadata;

/// Settings of the development authorization server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevAuthConfig {
    /// Path under the MCP server's origin where it lives; also the issuer's path (default
    /// `/dev-auth`).
    pub path: String,
    /// Approve every authorization request without showing the consent page (for tests).
    pub auto_approve: bool,
    /// Allow an issuer that is not on a loopback address, and requests that arrive on any
    /// local address or through a proxy (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`).
    /// Never do this with real users: anyone who reaches the port can mint
    /// tokens with every scope. Logged as a warning at start.
    pub allow_non_loopback: bool,
    /// The subject every token is issued to (default `developer`).
    pub subject: String,
    /// Access token lifetime (default 5 min: short, so refresh and expiry get exercised).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token family, counted from the authorization code that started it
    /// (default 1 h): rotation does not extend it.
    pub refresh_token_ttl: Duration,
    /// How long a consent page may wait for its decision (default 10 min); a later decision is
    /// refused.
    pub consent_ttl: Duration,
    /// Registrations allowed per owner (client address and `Origin`) per minute, also the
    /// burst (default 20); more get `429` with `Retry-After`.
    pub registrations_per_minute: u32,
    /// Clients one owner (client address and `Origin`, or its absence) may hold registered
    /// (default 100; and at most 256 KiB of their metadata). A client that never completed an
    /// authorization is forgotten after 10 minutes unused, any other after a day. More get
    /// `429`; nobody's client is evicted to make room.
    pub max_clients_per_address: usize,
    /// Scopes granted when a client asks for none (default: every scope some tool requires).
    pub default_scopes: Option<Vec<String>>,
    /// PEM certificates trusted, besides the system's roots, when fetching Client ID Metadata
    /// Documents (default none): for a test that serves a document over `https` with a CA of
    /// its own.
    pub metadata_document_ca: Option<String>,
}

impl Default for DevAuthConfig {
    fn default() -> Self {
        Self {
            path: "/dev-auth".into(),
            auto_approve: false,
            allow_non_loopback: false,
            subject: "developer".into(),
            access_token_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(3600),
            consent_ttl: Duration::from_secs(600),
            registrations_per_minute: 20,
            max_clients_per_address: 100,
            default_scopes: None,
            metadata_document_ca: None,
        }
    }
}

impl DevAuthConfig {
    /// Approves every request without a consent page.
    #[must_use]
    pub fn auto_approve(mut self, auto: bool) -> Self {
        self.auto_approve = auto;
        self
    }

    /// Sets the token subject.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the access token lifetime.
    #[must_use]
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Sets the lifetime of a refresh token family.
    #[must_use]
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// Sets how long a consent page waits for its decision.
    #[must_use]
    pub fn consent_ttl(mut self, ttl: Duration) -> Self {
        self.consent_ttl = ttl;
        self
    }

    /// Sets the registrations allowed per address per minute.
    #[must_use]
    pub fn registrations_per_minute(mut self, per_minute: u32) -> Self {
        self.registrations_per_minute = per_minute;
        self
    }

    /// Sets how many clients one address may hold registered.
    #[must_use]
    pub fn max_clients_per_address(mut self, clients: usize) -> Self {
        self.max_clients_per_address = clients;
        self
    }

    /// Trusts the PEM certificates of `pem` (one or more), besides the system's roots, when
    /// fetching Client ID Metadata Documents.
    #[must_use]
    pub fn metadata_document_ca(mut self, pem: impl Into<String>) -> Self {
        self.metadata_document_ca = Some(pem.into());
        self
    }

    /// Permits a non-loopback issuer and requests on any local address (development on a
    /// shared network, at your own risk).
    #[must_use]
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }
}

/// Why the development authorization server would not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevAuthError {
    /// The resource URI is unusable.
    #[error(transparent)]
    Resource(#[from] metadata::UriError),
    /// The address is not loopback and `allow_non_loopback` is off.
    #[error(
        "the development authorization server refuses to serve `{0}`: not a loopback address (set allow_non_loopback to override, never with real users)"
    )]
    NotLoopback(String),
    /// The signing key could not be generated.
    #[error("could not generate the signing key: {0}")]
    Key(String),
    /// A configured default scope is not a scope of the server.
    #[error("default scope `{0}` is not a scope of this server")]
    Scope(String),
    /// [`DevAuthConfig::metadata_document_ca`] holds no usable PEM certificate.
    #[error("the CA certificates for client ID metadata documents are unusable: {0}")]
    MetadataDocumentCa(String),
}
