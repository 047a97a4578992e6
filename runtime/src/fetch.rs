//! The HTTP client of the authorization side: small JSON documents fetched with a timeout, a
//! size limit, no redirects and `https` only (or `http` to loopback: see
//! [`crate::transport_security`]), and discovery of an authorization server's metadata (RFC
//! 8414, then OpenID Connect Discovery) with the checks MCP asks of it.

use std::time::Duration;

use serde_json::Value;

use crate::transport_security::{self, InsecureHttp, UrlRole};
use crate::uri::origin_and_path;

/// Why a document could not be fetched or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request failed (connection, timeout).
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("request to {url} timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// Not a 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Larger than allowed.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("{0}")]
    Invalid(String),
    /// The metadata's `issuer` is not the issuer it was fetched for (RFC 8414 §3.3).
    #[error("the metadata at {url} names issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// Where it came from.
        url: String,
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// No discovery location answered.
    #[error("no authorization server metadata found for `{0}`")]
    NotFound(String),
    /// A plain `http://` URL to a host that is not loopback, not fetched (see
    /// [`crate::transport_security`]).
    #[error(transparent)]
    InsecureHttp(#[from] InsecureHttp),
}

/// A JSON document and how long it may be cached.
#[derive(Debug)]
pub struct Document {
    /// The parsed body.
    pub body: Value,
    /// `Cache-Control: max-age` (`no-store` and `no-cache` read as zero).
    pub max_age: Option<Duration>,
}

/// Fetches small JSON documents with a timeout, a size limit and no redirects, over `https`
/// (or `http` to loopback: see [`crate::transport_security`]).
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Built on the first fetch: a verifier with fixed keys never needs one.
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
    timeout: Duration,
    max_bytes: usize,
    allow_insecure_http: bool,
    /// Certificates trusted besides the system's roots (a test's own CA).
    extra_roots: Vec<reqwest::Certificate>,
    /// Resolves host names in place of the system's resolver.
    resolver: Option<Resolver>,
}

/// A host name resolver for the [`Fetcher`].
#[derive(Clone)]
pub(crate) struct Resolver(pub(crate) std::sync::Arc<dyn reqwest::dns::Resolve>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Fetcher {
    /// A fetcher with this per-request timeout and body limit.
    #[must_use]
    pub fn new(timeout: Duration, max_bytes: usize) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            timeout,
            max_bytes,
            allow_insecure_http: false,
            extra_roots: Vec::new(),
            resolver: None,
        }
    }

    /// Trusts these certificates besides the system's roots.
    #[must_use]
    // Only the development server's document fetcher uses it so far.
    #[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
    pub(crate) fn extra_roots(mut self, roots: Vec<reqwest::Certificate>) -> Self {
        self.extra_roots = roots;
        self
    }

    /// Resolves host names with `resolver` instead of the system's resolver, and goes through
    /// no proxy (which would resolve them itself).
    #[must_use]
    #[cfg_attr(not(feature = "dev-auth"), allow(dead_code))]
    pub(crate) fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Whether plain `http://` URLs to hosts that are not loopback may be fetched (default
    /// false: they fail with [`FetchError::InsecureHttp`] before any request is sent).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                let mut builder = reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::none());
                if !self.extra_roots.is_empty() {
                    builder = builder.tls_certs_merge(self.extra_roots.iter().cloned());
                }
                if let Some(Resolver(resolver)) = &self.resolver {
                    // A proxy would resolve the names itself, past the resolver's checks.
                    builder = builder
                        .dns_resolver(std::sync::Arc::clone(resolver))
                        .no_proxy();
                }
                builder
                    .build()
                    .map_err(|e| format!("the HTTP client could not be built: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// GETs `url` and parses the body as JSON.
    pub async fn get_json(&self, url: &str) -> Result<Document, FetchError> {
        // Checked here, on every URL, so that one found in a document (a discovered
        // `jwks_uri`) is held to the same rule as one configured.
        let role = UrlRole {
            what: "authorization server URL",
            setting: "HttpConfig or JwtConfig",
        };
        transport_security::check_url(url, role, self.allow_insecure_http)?;
        let failed = |e: reqwest::Error| request_failed(url, e);
        let client = self.client().map_err(|reason| FetchError::Request {
            url: url.to_owned(),
            reason,
        })?;
        let mut response = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let body = body_within(&mut response, self.max_bytes)
            .await
            .map_err(failed)?
            .ok_or_else(|| FetchError::TooLarge {
                url: url.to_owned(),
                limit: self.max_bytes,
            })?;
        let body = serde_json::from_slice(&body)
            .map_err(|_| FetchError::Invalid(format!("{url} did not answer with JSON")))?;
        Ok(Document { body, max_age })
    }
}

impl Fetcher {
    /// POSTs `form` (`application/x-www-form-urlencoded`, already encoded) to `url` with an
    /// optional `Authorization` value, under the same rules as [`Fetcher::get_json`]: the URL
    /// checked, the timeout, no redirects, the body limit. Any status is an answer: the caller
    /// reads OAuth errors from 400 and 401 bodies.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) async fn post_form(
        &self,
        url: &str,
        role: UrlRole,
        authorization: Option<reqwest::header::HeaderValue>,
        form: String,
    ) -> Result<Posted, FetchError> {
        transport_security::check_url(url, role, self.allow_insecure_http)?;
        let client = self.client().map_err(|reason| FetchError::Request {
            url: url.to_owned(),
            reason,
        })?;
        let mut request = client
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        if let Some(mut value) = authorization {
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let mut response = request.send().await.map_err(|e| request_failed(url, e))?;
        let status = response.status().as_u16();
        let body = body_within(&mut response, self.max_bytes)
            .await
            .map_err(|e| request_failed(url, e))?
            .ok_or_else(|| FetchError::TooLarge {
                url: url.to_owned(),
                limit: self.max_bytes,
            })?;
        Ok(Posted { status, body })
    }
}

/// The answer to [`Fetcher::post_form`]: its status and its body, within the size limit.
#[derive(Debug)]
pub(crate) struct Posted {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// A request that got no answer: timed out, or failed (the URL left out of the reason, which
/// names it already).
fn request_failed(url: &str, error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout {
            url: url.to_owned(),
        }
    } else {
        FetchError::Request {
            url: url.to_owned(),
            reason: error.without_url().to_string(),
        }
    }
}

/// A response's body, or `None` when it is over `max` bytes: refused on its `Content-Length`
/// before anything is read, or as soon as the bytes read pass the limit.
pub(crate) async fn body_within(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Reads `max-age` from a `Cache-Control` value; `no-store` / `no-cache` mean zero.
pub(crate) fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

/// The locations to try for an issuer's metadata, in order (RFC 8414 §3.1, then OpenID Connect
/// Discovery, path-inserted and path-appended).
#[must_use]
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let (origin, path) = origin_and_path(trimmed);
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// A warning when the metadata of `issuer` does not list `S256` in
/// `code_challenge_methods_supported`: MCP clients must refuse such an authorization server
/// (MCP authorization, "Authorization Code Protection": PKCE, and its support checked in the
/// metadata). Only a warning, because some providers (Microsoft Entra ID) support PKCE without
/// listing it.
#[must_use]
pub fn pkce_warning(issuer: &str, metadata: &Value) -> Option<String> {
    let listed = metadata
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        .is_some_and(|methods| methods.iter().any(|m| m.as_str() == Some("S256")));
    (!listed).then(|| {
        format!(
            "the authorization server `{issuer}` does not list S256 in code_challenge_methods_supported: MCP clients must refuse to authorize with it unless it supports PKCE without saying so (Microsoft Entra ID does)"
        )
    })
}

/// Fetches the authorization server metadata of `issuer`; its `issuer` must equal `issuer`.
pub async fn discover(fetcher: &Fetcher, issuer: &str) -> Result<Value, FetchError> {
    let mut last_error = None;
    for url in discovery_urls(issuer) {
        match fetcher.get_json(&url).await {
            Ok(document) => {
                let found = document
                    .body
                    .get("issuer")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if found != issuer {
                    return Err(FetchError::IssuerMismatch {
                        url,
                        expected: issuer.to_owned(),
                        found: found.to_owned(),
                    });
                }
                return Ok(document.body);
            }
            Err(error @ FetchError::Status { .. }) => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.map_or_else(
        || FetchError::NotFound(issuer.to_owned()),
        |e| match e {
            FetchError::Status { .. } => FetchError::NotFound(issuer.to_owned()),
            other => other,
        },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn discovery_order_follows_the_mcp_specification() {
        assert_eq!(
            discovery_urls("https://as.example/t"),
            [
                "https://as.example/.well-known/oauth-authorization-server/t",
                "https://as.example/.well-known/openid-configuration/t",
                "https://as.example/t/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            discovery_urls("https://as.example"),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn an_issuer_without_s256_is_warned_about() {
        let warning = |metadata: Value| pkce_warning("https://as.example", &metadata);
        assert_eq!(
            warning(json!({"code_challenge_methods_supported": ["plain", "S256"]})),
            None
        );
        for lacking in [
            json!({}),
            json!({"code_challenge_methods_supported": ["plain"]}),
            json!({"code_challenge_methods_supported": "S256"}),
            json!({"code_challenge_methods_supported": ["s256"]}),
        ] {
            let text = warning(lacking.clone()).expect("a warning");
            assert!(
                text.contains("`https://as.example`") && text.contains("must refuse"),
                "{lacking}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn a_plain_http_url_elsewhere_than_loopback_is_not_fetched() {
        let fetcher = Fetcher::new(Duration::from_secs(1), 1024);
        // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is asked.
        let refused = fetcher.get_json("http://192.0.2.1/jwks").await;
        assert!(
            matches!(&refused, Err(FetchError::InsecureHttp(e)) if e.url() == "http://192.0.2.1/jwks"),
            "{refused:?}"
        );
        assert!(
            fetcher.client.get().is_none(),
            "no request was even prepared"
        );
    }

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }
}
