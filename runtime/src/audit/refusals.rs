//! What the endpoint answers a client without a valid token: the 401 and its challenge
//! (RFC 6750 §3, RFC 9728 §5.1), a garbage token, a token in the query string, a foreign
//! `Origin` (MCP Streamable HTTP, "Security Warning").

use serde_json::Value;

use super::probe::{Answer, FOREIGN_ORIGIN, GARBAGE_TOKEN, Probe, Request};
use crate::doctor::Report;
use crate::fetch::Fetcher;

pub(super) const UNAUTHORIZED: &str = "401 without a token";
pub(super) const RESOURCE_METADATA: &str = "401 resource_metadata";
pub(super) const SCOPE: &str = "401 scope";
pub(super) const NO_ERROR: &str = "401 no error code";
pub(super) const GARBAGE: &str = "garbage token";
pub(super) const QUERY: &str = "token in query";
pub(super) const ORIGIN: &str = "foreign Origin";

/// A request without a token: 401 with a Bearer challenge that names the metadata. Returns
/// whether the endpoint answered at all.
pub(super) async fn without_token(
    report: &mut Report,
    probe: &Probe,
    fetcher: &Fetcher,
    resource: Option<&str>,
) -> bool {
    let answer = match probe.initialize(Request::default()).await {
        Ok(answer) => answer,
        Err(error) => {
            report.fail(
                UNAUTHORIZED,
                error,
                "give the URL of a running MCP endpoint",
            );
            return false;
        }
    };
    let fix_401 = "answer a request without a token with 401 and `WWW-Authenticate: Bearer resource_metadata=\"…\", scope=\"…\"` (MCP authorization, RFC 6750 §3)";
    let bearer = match (&answer.status, &answer.bearer) {
        (401, Some(bearer)) => {
            report.pass(UNAUTHORIZED, "HTTP 401 with a Bearer challenge");
            bearer
        }
        (401, None) => {
            let detail = if answer.challenged {
                "HTTP 401, but `WWW-Authenticate` holds no Bearer challenge"
            } else {
                "HTTP 401 without `WWW-Authenticate`"
            };
            report.fail(UNAUTHORIZED, detail, fix_401);
            for name in [RESOURCE_METADATA, SCOPE, NO_ERROR] {
                report.skip(name, "no Bearer challenge");
            }
            return true;
        }
        _ => {
            let detail = if answer.success() {
                format!(
                    "{}: the endpoint answers without a token",
                    answer.describe()
                )
            } else {
                format!("{}, not 401", answer.describe())
            };
            report.fail(UNAUTHORIZED, detail, fix_401);
            for name in [RESOURCE_METADATA, SCOPE, NO_ERROR] {
                report.skip(name, "no 401");
            }
            return true;
        }
    };

    match bearer.get("resource_metadata") {
        None => report.fail(
            RESOURCE_METADATA,
            "the challenge has no `resource_metadata`",
            "name the Protected Resource Metadata's URL in the 401's challenge (RFC 9728 §5.1; MCP 2025-06-18 requires it, and clients of that revision find the authorization server no other way)",
        ),
        Some(url) => match fetcher.get_json(url).await {
            Ok(found) => {
                let named = found.body.get("resource").and_then(Value::as_str);
                match (named, resource) {
                    (Some(named), Some(resource)) if named != resource => report.fail(
                        RESOURCE_METADATA,
                        format!("{url} describes `{named}`, not `{resource}`"),
                        "point `resource_metadata` at this endpoint's own document",
                    ),
                    _ => report.pass(RESOURCE_METADATA, format!("{url}, readable")),
                }
            }
            Err(error) => report.fail(
                RESOURCE_METADATA,
                format!("{url} is not readable: {error}"),
                "point `resource_metadata` at the served Protected Resource Metadata",
            ),
        },
    }
    match bearer.get("scope") {
        Some(scope) => report.pass(SCOPE, format!("`{scope}`")),
        None => report.warn(
            SCOPE,
            "the challenge has no `scope`",
            "name the scopes a client should ask for first in `scope` (MCP authorization, scope selection: otherwise clients ask for all of `scopes_supported`, or none)",
        ),
    }
    match bearer.get("error") {
        None => report.pass(NO_ERROR, "no `error` for a request without credentials"),
        Some(error) => report.warn(
            NO_ERROR,
            format!("`error=\"{error}\"` for a request that carried no credentials"),
            "leave `error` out when the request had no token (RFC 6750 §3.1)",
        ),
    }
    true
}

/// A token no one issued: 401 with `invalid_token` (RFC 6750 §3.1; MCP: invalid tokens get 401).
pub(super) async fn garbage(report: &mut Report, probe: &Probe) {
    let request = Request {
        token: Some(GARBAGE_TOKEN),
        ..Request::default()
    };
    match probe.initialize(request).await {
        Err(error) => report.fail(GARBAGE, error, "keep the endpoint reachable"),
        Ok(answer) if answer.success() => report.fail(
            GARBAGE,
            format!("{}: a token no one issued is accepted", answer.describe()),
            "verify every token before serving the request (OAuth 2.1 §5.2)",
        ),
        Ok(answer) if answer.status != 401 => report.fail(
            GARBAGE,
            format!("{}, not 401", answer.describe()),
            "answer an invalid token with 401 (MCP authorization, error handling)",
        ),
        Ok(answer) => match answer.bearer.as_ref().and_then(|b| b.get("error")) {
            Some("invalid_token") => report.pass(GARBAGE, "HTTP 401, `invalid_token`"),
            other => report.warn(
                GARBAGE,
                format!(
                    "HTTP 401 with {}",
                    other.map_or_else(
                        || "no `error`".to_owned(),
                        |e| format!("`error=\"{e}\"`")
                    )
                ),
                "say `error=\"invalid_token\"` in the challenge for a token that fails verification (RFC 6750 §3.1)",
            ),
        },
    }
}

/// A token in `?access_token=`: refused (OAuth 2.1 §5.2.2; MCP: tokens in the header only).
/// With a genuine token the answer is certain; with none, a server that reads the query shows
/// it by calling the garbage token invalid.
pub(super) async fn query(report: &mut Report, probe: &Probe, token: Option<&str>) {
    let request = Request {
        query_token: Some(token.unwrap_or(GARBAGE_TOKEN)),
        ..Request::default()
    };
    let answer = match probe.initialize(request).await {
        Ok(answer) => answer,
        Err(error) => return report.fail(QUERY, error, "keep the endpoint reachable"),
    };
    let fix = "accept access tokens in the Authorization header only, never in the query string (OAuth 2.1 §5.2, MCP authorization: token requirements)";
    let reads_query = answer.bearer.as_ref().and_then(|b| b.get("error")) == Some("invalid_token");
    match token {
        Some(_) if answer.success() => report.fail(
            QUERY,
            format!("{}: the genuine token is accepted in `?access_token=`", answer.describe()),
            fix,
        ),
        Some(_) => report.pass(QUERY, format!("refused: {}", answer.describe())),
        None if reads_query => report.warn(
            QUERY,
            "a garbage token in `?access_token=` is called `invalid_token`: the server reads tokens from the query string",
            format!("{fix}; give --token to see whether it accepts a genuine one"),
        ),
        None => report.pass(
            QUERY,
            format!("refused, and not read ({}); --token tries a genuine one", answer.describe()),
        ),
    }
}

/// A request from a page of another origin: 403 (MCP Streamable HTTP: servers must validate
/// `Origin`, and answer an invalid one with 403), whatever the token.
pub(super) async fn origin(report: &mut Report, probe: &Probe, token: Option<&str>) {
    let request = Request {
        token,
        origin: Some(FOREIGN_ORIGIN),
        ..Request::default()
    };
    let answer: Answer = match probe.initialize(request).await {
        Ok(answer) => answer,
        Err(error) => return report.fail(ORIGIN, error, "keep the endpoint reachable"),
    };
    let fix = "check `Origin` on every request and answer one that is not allowed with 403 (MCP Streamable HTTP, DNS rebinding)";
    match answer.status {
        403 => report.pass(ORIGIN, format!("`Origin: {FOREIGN_ORIGIN}` gets 403")),
        _ if answer.success() => report.fail(
            ORIGIN,
            format!("`Origin: {FOREIGN_ORIGIN}` gets {}", answer.describe()),
            fix,
        ),
        401 if token.is_none() => report.skip(
            ORIGIN,
            "the server asked for a token before judging `Origin`; give --token to see",
        ),
        _ => report.warn(
            ORIGIN,
            format!(
                "`Origin: {FOREIGN_ORIGIN}` gets {}, not 403",
                answer.describe()
            ),
            fix,
        ),
    }
}
