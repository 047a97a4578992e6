//! [`TokenExchange`]: the client side of OAuth 2.0 Token Exchange (RFC 8693), which gets a
//! token for a downstream API in exchange for the caller's, so the caller's token is never
//! passed through (MCP security best practices, "Token Passthrough").
//!
//! A request (§2.1) carries the caller's token as `subject_token` (of type access token), the
//! API as `resource` (RFC 8707) and/or `audience`, the scopes wanted if any, and this server's
//! client authentication; the answer (§2.2.1) is read by `issued_token.rs`, and an error
//! (§2.2.2) becomes an [`ExchangeError`]. Tokens are cached by `exchange_cache.rs`.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::OnceCell;
use url::form_urlencoded;

use super::client_auth::ClientAuth;
use super::exchange_cache::{CacheKey, ExchangeCache};
use super::exchange_error::{ExchangeError, ExchangeErrorCode, from_issuer};
use super::issued_token::{ACCESS_TOKEN_TYPE, DownstreamToken, jwt_payload, read_issued};
use crate::fetch::{self, FetchError, Fetcher};
use crate::transport_security::UrlRole;

/// RFC 8693 §2.1's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The largest answer read from a token endpoint.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Which parameters name the downstream API in the request (RFC 8693 §2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeTarget {
    /// Both `resource` (RFC 8707, the URI) and `audience` (the same URI): what most issuers
    /// read, one or the other (the default).
    #[default]
    Both,
    /// `resource` alone (oidc-provider's resource indicators, MCP's own parameter).
    Resource,
    /// `audience` alone (Keycloak, Okta: the downstream's client id or audience, which must
    /// then be the URI declared).
    Audience,
}

/// Where the issuer's token endpoint is.
enum Endpoint {
    Given(String),
    /// Found once through the issuer's metadata (RFC 8414 / OpenID discovery).
    Discovered {
        issuer: String,
        found: OnceCell<String>,
    },
}

/// The token exchange client (RFC 8693): an authorization server's token endpoint, this
/// server's client id and authentication there, and a cache of the tokens it got.
///
/// Give it to [`ServerOptions::token_exchange`](crate::ServerOptions::token_exchange); tools
/// declared with `downstream = ".."` then get tokens through their
/// [`Downstream`](crate::Downstream) parameter.
///
/// ```ignore
/// use scopegate::auth::{ClientAuth, TokenExchange};
/// use scopegate::ServerOptions;
///
/// let exchange = TokenExchange::discover(
///     "https://auth.example.com",
///     "mcp-server",
///     ClientAuth::secret_basic(std::env::var("CLIENT_SECRET").unwrap()),
/// );
/// let options = ServerOptions::default().token_exchange(exchange);
/// ```
///
/// Tokens are cached per (caller's token, API, scopes) until `expiry_margin` (30 s) before the
/// earlier of the issued token's expiry (`expires_in`, else its `exp`) and the caller's token's
/// `exp`; a token whose expiry the answer does not tell is not cached. The cache holds at most
/// `cache_capacity` tokens (1024): when full, expired ones go first, then the one due soonest.
/// Concurrent calls for one key may each exchange (the first answer cached wins nothing: both
/// are valid).
pub struct TokenExchange {
    endpoint: Endpoint,
    client_id: String,
    auth: ClientAuth,
    target: ExchangeTarget,
    fetcher: Fetcher,
    timeout: Duration,
    allow_insecure_http: bool,
    cache: ExchangeCache,
    margin: Duration,
}

impl TokenExchange {
    /// Exchanges at `token_endpoint` as `client_id`, authenticated by `auth`.
    pub fn new(
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Self {
        Self::with_endpoint(Endpoint::Given(token_endpoint.into()), client_id, auth)
    }

    /// Exchanges at the token endpoint `issuer`'s metadata names (RFC 8414, then OpenID
    /// discovery; fetched on the first exchange, and again after a failure).
    pub fn discover(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Self {
        let endpoint = Endpoint::Discovered {
            issuer: issuer.into(),
            found: OnceCell::new(),
        };
        Self::with_endpoint(endpoint, client_id, auth)
    }

    fn with_endpoint(endpoint: Endpoint, client_id: impl Into<String>, auth: ClientAuth) -> Self {
        let timeout = Duration::from_secs(10);
        Self {
            endpoint,
            client_id: client_id.into(),
            auth,
            target: ExchangeTarget::default(),
            fetcher: Fetcher::new(timeout, MAX_ANSWER_BYTES),
            timeout,
            allow_insecure_http: false,
            cache: ExchangeCache::new(1024),
            margin: Duration::from_secs(30),
        }
    }

    /// How long an exchange (and the discovery before the first) may take (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.fetcher = self.new_fetcher();
        self
    }

    /// Allows a plain `http` token endpoint on a host that is not loopback (default: refused;
    /// see [`crate::transport_security`]).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self.fetcher = self.new_fetcher();
        self
    }

    fn new_fetcher(&self) -> Fetcher {
        Fetcher::new(self.timeout, MAX_ANSWER_BYTES).allow_insecure_http(self.allow_insecure_http)
    }

    /// The most tokens kept (default 1024; 0: none).
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = ExchangeCache::new(capacity);
        self
    }

    /// How long before its expiry a cached token stops being used (default 30 s), so a token
    /// handed to a tool still lasts through its request.
    #[must_use]
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Which parameters name the API (default both `resource` and `audience`).
    #[must_use]
    pub fn target(mut self, target: ExchangeTarget) -> Self {
        self.target = target;
        self
    }

    /// How many tokens the cache holds now.
    #[must_use]
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// A token for `audience` (a downstream API's resource URI) with `scopes` (none: what the
    /// issuer's policy gives), in exchange for `subject_token`: from the cache, or from the
    /// token endpoint.
    ///
    /// # Errors
    /// When the issuer refuses (`invalid_target`, `invalid_grant`, …), cannot be reached or
    /// does not answer in time, answers with something that is not a Bearer access token, or
    /// issues a JWT for another audience.
    pub async fn exchange(
        &self,
        subject_token: &str,
        audience: &str,
        scopes: &[&str],
    ) -> Result<DownstreamToken, ExchangeError> {
        let key = CacheKey::new(subject_token, audience, scopes);
        if let Some(token) = self.cache.get(&key, Instant::now()) {
            tracing::debug!(target: "scopegate::exchange", event = "token_cached", audience);
            return Ok(token);
        }
        let result = self.request(subject_token, audience, scopes).await;
        match &result {
            Ok((_, lifetime)) => {
                tracing::debug!(target: "scopegate::exchange", event = "token_exchanged", audience, cached_for = lifetime.map(|l| l.as_secs()));
            }
            Err(error) => {
                tracing::warn!(target: "scopegate::exchange", event = "exchange_failed", audience, reason = error.reason(), "{error}");
            }
        }
        let (token, lifetime) = result?;
        if let Some(lifetime) = lifetime {
            let now = Instant::now();
            self.cache.insert(key, token.clone(), now + lifetime, now);
        }
        Ok(token)
    }

    /// One request to the token endpoint: the token, and how long it may be cached.
    async fn request(
        &self,
        subject_token: &str,
        audience: &str,
        scopes: &[&str],
    ) -> Result<(DownstreamToken, Option<Duration>), ExchangeError> {
        let endpoint = self.token_endpoint().await?;
        let now = unix_now();
        let (form, authorization) = self.form(endpoint, subject_token, audience, scopes, now)?;
        let role = UrlRole {
            what: "token endpoint",
            setting: "TokenExchange",
        };
        let answer = self
            .fetcher
            .post_form(endpoint, role, authorization, form)
            .await
            .map_err(|e| match e {
                FetchError::Timeout { url } => ExchangeError::Timeout { url },
                other => ExchangeError::Unreachable(other),
            })?;
        let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
        if answer.status != 200 {
            let error = body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str);
            return Err(match error {
                Some(code) => ExchangeError::Refused {
                    code: ExchangeErrorCode::parse(code),
                    description: body
                        .as_ref()
                        .and_then(|b| b.get("error_description"))
                        .and_then(Value::as_str)
                        .map(|d| from_issuer(d, subject_token)),
                },
                None => ExchangeError::Unreachable(FetchError::Status {
                    url: endpoint.to_owned(),
                    status: answer.status,
                }),
            });
        }
        let body = body.ok_or_else(|| ExchangeError::InvalidResponse("not JSON".into()))?;
        let issued = read_issued(&body, audience)?;
        // The earlier of the issued token's expiry and the caller's: a token got with an
        // expired caller's token is not handed out again.
        let subject_exp =
            jwt_payload(subject_token).and_then(|claims| claims.get("exp").and_then(Value::as_u64));
        let issued_left = issued
            .expires_in
            .or_else(|| issued.exp.map(|exp| exp.saturating_sub(now)));
        let left = match (issued_left, subject_exp.map(|exp| exp.saturating_sub(now))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
            (None, _) => None,
        };
        let lifetime = left
            .map(Duration::from_secs)
            .and_then(|left| left.checked_sub(self.margin))
            .filter(|l| !l.is_zero());
        Ok((issued.token, lifetime))
    }

    /// The request's form (RFC 8693 §2.1, and the client's authentication), and the
    /// `Authorization` header the authentication needs, if any. Not `async`: the form's encoder
    /// may not be held across an await (it is not `Send`).
    fn form(
        &self,
        endpoint: &str,
        subject_token: &str,
        audience: &str,
        scopes: &[&str],
        now: u64,
    ) -> Result<(String, Option<reqwest::header::HeaderValue>), ExchangeError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", TOKEN_EXCHANGE_GRANT)
            .append_pair("subject_token", subject_token)
            .append_pair("subject_token_type", ACCESS_TOKEN_TYPE)
            .append_pair("requested_token_type", ACCESS_TOKEN_TYPE);
        if self.target != ExchangeTarget::Audience {
            form.append_pair("resource", audience);
        }
        if self.target != ExchangeTarget::Resource {
            form.append_pair("audience", audience);
        }
        if !scopes.is_empty() {
            form.append_pair("scope", &scopes.join(" "));
        }
        let authorization = self
            .auth
            .apply(&self.client_id, endpoint, &mut form, now)
            .map_err(ExchangeError::ClientAuth)?
            .map(|value| {
                reqwest::header::HeaderValue::try_from(value).map_err(|_| {
                    ExchangeError::ClientAuth(
                        "the client id or secret cannot be sent in a header".into(),
                    )
                })
            })
            .transpose()?;
        Ok((form.finish(), authorization))
    }

    /// The token endpoint: given, or discovered once.
    async fn token_endpoint(&self) -> Result<&str, ExchangeError> {
        match &self.endpoint {
            Endpoint::Given(url) => Ok(url),
            Endpoint::Discovered { issuer, found } => found
                .get_or_try_init(|| async {
                    let metadata = fetch::discover(&self.fetcher, issuer)
                        .await
                        .map_err(ExchangeError::Unreachable)?;
                    metadata
                        .get("token_endpoint")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            ExchangeError::InvalidResponse(format!(
                                "the metadata of {issuer} names no token_endpoint"
                            ))
                        })
                })
                .await
                .map(String::as_str),
        }
    }
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = match &self.endpoint {
            Endpoint::Given(url) => url.as_str(),
            Endpoint::Discovered { issuer, .. } => issuer.as_str(),
        };
        f.debug_struct("TokenExchange")
            .field("endpoint", &endpoint)
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .field("target", &self.target)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
