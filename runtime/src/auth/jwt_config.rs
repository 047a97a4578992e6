//! [`JwtConfig`]: the settings of a [`JwtVerifier`](super::JwtVerifier), every default the safe
//! one, and the asymmetric algorithms it may accept.

use std::time::Duration;

use jsonwebtoken::Algorithm;

/// The asymmetric algorithms a JWKS can verify. `none` and the HMAC family are never accepted:
/// a JWKS holds public keys, and an HMAC "verified" with one is forged by anyone.
pub const ASYMMETRIC_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Settings of a [`JwtVerifier`](super::JwtVerifier). Every default is the safe one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwtConfig {
    /// The issuer: `iss` must equal it exactly, and it is where the metadata is discovered.
    pub issuer: String,
    /// This server's canonical URI: `aud` must contain it exactly (RFC 8707, RFC 9068 §4).
    pub audience: String,
    /// The JWKS location; discovered from the issuer's metadata when `None`.
    pub jwks_uri: Option<String>,
    /// Tolerance for clock differences on `exp`, `nbf` and `iat` (default 60 s).
    pub leeway: Duration,
    /// The required `typ` header (default `at+jwt`, RFC 9068 §2.1; `application/at+jwt` is the
    /// same). `None` accepts any `typ`.
    pub token_type: Option<String>,
    /// The algorithms accepted (default: every asymmetric one). HMAC and `none` are ignored.
    pub algorithms: Vec<Algorithm>,
    /// Shortest time keys are cached, whatever `Cache-Control` says (default 60 s).
    pub min_cache: Duration,
    /// Longest time keys are cached (default 24 h).
    pub max_cache: Duration,
    /// Cache time when the JWKS response has no `max-age` (default 10 min).
    pub default_cache: Duration,
    /// Least time between two fetches of the keys (default 30 s): how often a flood of tokens
    /// with unknown `kid`s can make us ask the issuer.
    pub refresh_cooldown: Duration,
    /// Timeout of each request to the authorization server (default 5 s).
    pub http_timeout: Duration,
    /// Largest metadata or JWKS document read (default 1 MiB).
    pub max_document_bytes: usize,
    /// Smallest RSA modulus accepted, in bits (default 2048).
    pub min_rsa_bits: usize,
    /// Most verified tokens remembered (default 10 000; 0: none). A remembered token skips the
    /// signature check until its `exp` (never later), and is forgotten when the key that
    /// verified it is withdrawn. When the table is full, an S3-FIFO-like policy (quick_cache)
    /// chooses what to forget: a token seen once goes before one seen again, so a working set
    /// half again as large as the table still hits about 60 % of the time.
    pub cache_capacity: usize,
    /// Most memory the remembered tokens may take (default 40 MiB), counted as three times each
    /// token's length plus 512 bytes: the token's text, kept to confirm a match, its principal,
    /// which holds its claims decoded, and the entry (8 000 RS256 tokens of 638 bytes, charged
    /// 2 426 bytes each, grew a server's RSS by 2.3 KB each). Tokens carry what their issuer
    /// puts in them, up to 16 KiB each: by count alone, 10 000 of them could take hundreds of
    /// megabytes. The default holds the default 10 000 tokens up to 1.2 KB each (a typical RS256
    /// access token is 600 to 900 bytes); with larger tokens the byte bound is reached first.
    pub cache_max_bytes: usize,
    /// Whether the issuer, its metadata and its JWKS may be fetched over plain `http://` from a
    /// host that is not loopback (default false: refused, see [`crate::transport_security`]).
    /// [`crate::http::HttpConfig::allow_insecure_http`] sets it on the verifier it builds.
    pub allow_insecure_http: bool,
    /// Scope names the authorization server writes differently, as `(granted, scope)` pairs:
    /// a granted `granted` in `scope`/`scp` counts as the server's `scope` (default: none).
    /// For providers whose scope names cannot be the server's (Microsoft Entra ID allows no
    /// `:`, so `notes:read` is granted as `notes.read`; see `scopegate::export`).
    pub scope_aliases: Vec<(String, String)>,
}

impl JwtConfig {
    /// A configuration for tokens from `issuer` meant for the resource `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            leeway: Duration::from_secs(60),
            token_type: Some("at+jwt".into()),
            algorithms: ASYMMETRIC_ALGORITHMS.to_vec(),
            min_cache: Duration::from_secs(60),
            max_cache: Duration::from_secs(24 * 3600),
            default_cache: Duration::from_secs(600),
            refresh_cooldown: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
            max_document_bytes: 1 << 20,
            min_rsa_bits: 2048,
            cache_capacity: 10_000,
            cache_max_bytes: 40 << 20,
            allow_insecure_http: false,
            scope_aliases: Vec::new(),
        }
    }

    /// Allows plain `http://` to an issuer or JWKS that is not on loopback: for a private
    /// network whose path is trusted, never across the internet.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Uses this JWKS location instead of discovering it.
    #[must_use]
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Sets the clock-skew leeway.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets the required `typ` (`None`: any).
    #[must_use]
    pub fn token_type(mut self, token_type: Option<&str>) -> Self {
        self.token_type = token_type.map(str::to_owned);
        self
    }

    /// Reads the granted scope `granted` as the server's `scope`: the principal holds `scope`
    /// (and its `scope`/`scp` claim says so) wherever the token grants `granted`. For a
    /// provider that cannot spell the server's scope names, e.g. Microsoft Entra ID:
    /// `.scope_alias("notes.read", "notes:read")` (`scopegate::export::entra_scope_value`).
    #[must_use]
    pub fn scope_alias(mut self, granted: impl Into<String>, scope: impl Into<String>) -> Self {
        self.scope_aliases.push((granted.into(), scope.into()));
        self
    }

    /// Sets the minimum time between two key fetches.
    #[must_use]
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// Sets the per-request timeout towards the authorization server.
    #[must_use]
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }
}
