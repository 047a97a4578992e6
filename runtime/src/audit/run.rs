//! The audit's entry point: the checks in order.

use std::time::Duration;

use super::forged;
use super::metadata;
use super::probe::Probe;
use super::refusals;
use super::tool;
use crate::doctor::{Report, endpoint};

/// What the audit checks, and how strictly.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The URL of a running MCP endpoint (e.g. `http://127.0.0.1:8080/mcp`).
    pub url: String,
    /// A genuine access token for it: checks that it is accepted and its forgeries refused.
    pub token: Option<String>,
    /// A tool the token lacks the scope for: checks the 403 `insufficient_scope`.
    pub tool: Option<String>,
    /// Whether `tool` may be called though the server does not mark it read-only
    /// (`readOnlyHint`): the call could change data (default false).
    pub allow_writes: bool,
    /// Whether a warning fails too ([`Report::exit_code`]).
    pub strict: bool,
    /// Timeout of each request (default 10 s).
    pub timeout: Duration,
    /// Whether plain `http://` to a host that is not loopback may be fetched (default false;
    /// see [`crate::transport_security`]).
    pub allow_insecure_http: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: None,
            tool: None,
            allow_writes: false,
            strict: false,
            timeout: Duration::from_secs(10),
            allow_insecure_http: false,
        }
    }
}

impl AuditOptions {
    /// Audits the MCP endpoint at `url`, without a token.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Checks this genuine token and forgeries of it too.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Calls this tool, which the token lacks the scope for, expecting a 403.
    #[must_use]
    pub fn tool(mut self, tool: impl Into<String>) -> Self {
        self.tool = Some(tool.into());
        self
    }

    /// Lets the audit call `tool` though it is not marked read-only.
    #[must_use]
    pub fn allow_writes(mut self, allow: bool) -> Self {
        self.allow_writes = allow;
        self
    }

    /// Makes warnings fail.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// Audits the MCP endpoint of `options.url`. Never panics on what it reads, and sends nothing
/// that could change data but a call of `options.tool` that [`AuditOptions::allow_writes`]
/// permits: whatever fails is a line of the report.
pub async fn run(options: AuditOptions) -> Report {
    let mut report = Report::new(options.strict);
    let Some((canonical, fetcher)) = endpoint(
        &mut report,
        &options.url,
        options.timeout,
        options.allow_insecure_http,
    ) else {
        return report;
    };
    let probe = match Probe::new(&canonical, options.timeout) {
        Ok(probe) => probe,
        Err(error) => {
            report.fail("endpoint", error, "report this as a bug");
            return report;
        }
    };
    let token = options
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());

    // Without a token.
    let resource = metadata::read(&mut report, &fetcher, &canonical).await;
    if resource.is_some() {
        metadata::cors(&mut report, probe.client(), &canonical).await;
    } else {
        report.skip(metadata::FIELDS, "no resource metadata");
        report.skip(metadata::CORS, "no resource metadata");
    }
    let named = resource.as_ref().map(|r| r.resource.as_str());
    if !refusals::without_token(&mut report, &probe, &fetcher, named).await {
        return report;
    }
    refusals::garbage(&mut report, &probe).await;
    refusals::query(&mut report, &probe, token).await;
    refusals::origin(&mut report, &probe, token).await;

    // With a token.
    let Some(token) = token else {
        report.skip(
            forged::GENUINE,
            "give a token (--token) to check forgeries of it",
        );
        if options.tool.is_some() {
            report.skip(tool::STEP_UP, "a tool is checked with a token (--token)");
        }
        return report;
    };
    let issuer = resource.as_ref().and_then(|r| r.issuer.as_deref());
    let accepted = forged::check(&mut report, &probe, &fetcher, issuer, token).await;
    match options.tool.as_deref().map(str::trim) {
        Some(name) if accepted => {
            tool::check(&mut report, &probe, token, name, options.allow_writes).await;
        }
        Some(_) => report.skip(tool::STEP_UP, "the token is refused"),
        None => {}
    }
    report
}
