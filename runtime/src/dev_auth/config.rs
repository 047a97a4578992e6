//! What the development authorization server is told at start (`DevAuthConfig`), and why it
//! may refuse to start (`DevAuthError`).

use std::fmt;
use std::time::Duration;

use crate::auth::{ClientAuth, TokenExchange};
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
    /// The downstream APIs tokens may be exchanged for (RFC 8693 token exchange). Default
    /// (`None`): those the server declares (`downstream = ..` on its items, `Server::downstream`).
    pub downstream: Option<Vec<String>>,
    /// Whether an exchange may ask for scopes the subject token does not hold (default false:
    /// an exchanged token's scopes are the subject token's, or fewer).
    pub exchange_any_scope: bool,
    /// The confidential client the MCP server exchanges tokens as: the one client the
    /// token-exchange grant accepts (default: `scopegate-resource-server`, a random secret).
    pub exchange_client: ExchangeClient,
}

/// The client the MCP server authenticates as when it exchanges a caller's token at the
/// development server. `Debug` does not show the secret.
#[derive(Clone)]
pub struct ExchangeClient {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: String,
}

impl Default for ExchangeClient {
    fn default() -> Self {
        Self {
            id: "scopegate-resource-server".into(),
            secret: super::random::random_token(32),
        }
    }
}

impl fmt::Debug for ExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
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
            downstream: None,
            exchange_any_scope: false,
            exchange_client: ExchangeClient::default(),
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

    /// Sets the downstream APIs tokens may be exchanged for (default: the server's).
    #[must_use]
    pub fn downstream<I, S>(mut self, apis: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.downstream = Some(apis.into_iter().map(Into::into).collect());
        self
    }

    /// Lets an exchange ask for scopes the subject token does not hold.
    #[must_use]
    pub fn exchange_any_scope(mut self, any: bool) -> Self {
        self.exchange_any_scope = any;
        self
    }

    /// The token exchange client of the MCP server at `resource`, authenticated as
    /// [`DevAuthConfig::exchange_client`] at this development server's token endpoint: give it
    /// to [`crate::ServerOptions::token_exchange`] before building the server, then build the
    /// [`super::DevAuth`] from the same configuration.
    ///
    /// # Errors
    /// When `resource` is not a usable resource URI.
    pub fn token_exchange(&self, resource: &str) -> Result<TokenExchange, DevAuthError> {
        let (issuer, _) = self.issuer(resource)?;
        let client = &self.exchange_client;
        Ok(TokenExchange::new(
            format!("{issuer}/token"),
            client.id.clone(),
            ClientAuth::secret_basic(client.secret.clone()),
        )
        .allow_insecure_http(self.allow_non_loopback))
    }

    /// The issuer for `resource` (its origin and [`Self::path`]) and `path` in normal form.
    pub(super) fn issuer(&self, resource: &str) -> Result<(String, String), DevAuthError> {
        let resource = metadata::canonical_resource(resource)?;
        let (origin, _) = metadata::origin_and_path(&resource);
        let path = format!("/{}", self.path.trim_matches('/'));
        Ok((format!("{origin}{path}"), path))
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
