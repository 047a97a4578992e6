//! The doctor's entry point: the checks in order, each feeding the next.

use std::time::Duration;

use super::keys;
use super::metadata;
use super::report::Report;
use super::token;
use super::tools;
use crate::auth::{JwtConfig, JwtVerifier};
use crate::fetch::Fetcher;
use crate::metadata::canonical_resource;

/// What the doctor checks, and how strictly.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The URL of a running MCP endpoint (e.g. `http://127.0.0.1:8080/mcp`).
    pub url: String,
    /// An access token to explain against that server.
    pub token: Option<String>,
    /// Whether a warning fails too ([`Report::exit_code`]).
    pub strict: bool,
    /// Timeout of each request (default 10 s).
    pub timeout: Duration,
    /// Whether plain `http://` to a host that is not loopback may be fetched (default false;
    /// see [`crate::transport_security`]).
    pub allow_insecure_http: bool,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: None,
            strict: false,
            timeout: Duration::from_secs(10),
            allow_insecure_http: false,
        }
    }
}

impl DoctorOptions {
    /// Checks the MCP endpoint at `url`, without a token.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Explains this access token against the server too.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Makes warnings fail.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// Largest document read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The canonical URI of the MCP endpoint at `url` and the fetcher that reads documents about
/// it, as the doctor and the audit start; `None` (the failure reported) for a URL that names no
/// endpoint.
pub(crate) fn endpoint(
    report: &mut Report,
    url: &str,
    timeout: Duration,
    allow_insecure_http: bool,
) -> Option<(String, Fetcher)> {
    match canonical_resource(url.trim()) {
        Ok(canonical) => Some((
            canonical,
            Fetcher::new(timeout, MAX_DOCUMENT_BYTES).allow_insecure_http(allow_insecure_http),
        )),
        Err(error) => {
            report.fail(
                "endpoint",
                error.to_string(),
                "give the URL of the MCP endpoint, e.g. http://127.0.0.1:8080/mcp",
            );
            None
        }
    }
}

/// Checks the MCP endpoint of `options.url`, its authorization server and key set, and
/// explains `options.token` against them. Never panics on what it reads: whatever fails is a
/// line of the report.
pub async fn run(options: DoctorOptions) -> Report {
    let mut report = Report::new(options.strict);
    let Some((canonical, fetcher)) = endpoint(
        &mut report,
        &options.url,
        options.timeout,
        options.allow_insecure_http,
    ) else {
        return report;
    };

    let Some(resource) = metadata::resource_metadata(&mut report, &fetcher, &canonical).await
    else {
        return report;
    };
    let Some(issuer) = resource.issuer.clone() else {
        return report;
    };
    let config = JwtConfig::new(&issuer, &resource.resource)
        .allow_insecure_http(options.allow_insecure_http)
        .http_timeout(options.timeout);
    let mut jwks = None;
    match metadata::issuer_metadata(&mut report, &fetcher, &issuer).await {
        Some(found) => {
            metadata::issuer_features(&mut report, &issuer, &found);
            let judge = JwtVerifier::new(config.clone());
            jwks = keys::key_set(&mut report, &fetcher, &found, &judge).await;
        }
        None => {
            for name in [
                "S256",
                "registration",
                "token endpoint auth methods",
                "jwks reachable",
            ] {
                report.skip(name, "no issuer metadata");
            }
        }
    }

    let Some(token) = options.token.as_deref().map(str::trim) else {
        report.skip(
            token::RESOURCE_INDICATORS,
            "give a token (--token) to see whether its `aud` is this resource",
        );
        return report;
    };
    // The server's own checks, with scopegate's default settings, against the keys found.
    let verifier = jwks
        .as_ref()
        .and_then(|set| JwtVerifier::with_jwks(config.clone(), set).ok())
        .unwrap_or_else(|| JwtVerifier::without_keys(config.clone()));
    let Some(scopes) = token::explain(&mut report, &verifier, token).await else {
        report.skip(tools::TOOLS, "the token's scopes could not be read");
        return report;
    };
    let listed = match reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => tools::list(&client, &canonical, token).await,
        Err(error) => Err(format!("no HTTP client: {error}")),
    };
    tools::unlocked(&mut report, &scopes, listed, &resource.scopes_supported);
    report
}
