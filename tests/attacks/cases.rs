//! Case tables: what a case must produce ([`Expect`]), the check of one answer against it, and
//! the run of a whole table that fails once, listing every failed case.

use std::time::Instant;

use reqwest::{RequestBuilder, StatusCode};

use crate::capture::{AUTH, Event, HTTP};
use crate::harness::{Harness, param};

// ---- cases ---------------------------------------------------------------------------------

/// What a case must produce.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// 401 `error="invalid_token"`; `token_rejected` with one of these `reason`s.
    InvalidToken(&'static [&'static str]),
    /// 400 `error="invalid_request"`; `token_rejected` with `reason="invalid_request"`.
    InvalidRequest,
    /// 401 with a challenge but no `error` code (no credentials); `token_missing`.
    Missing,
    /// 403 `error="insufficient_scope"` whose `scope` holds the missing scopes; `scope_denied`
    /// naming `tool` and `missing` (space-separated, any order).
    ScopeDenied {
        tool: &'static str,
        missing: &'static str,
    },
    /// A refusal outside authentication (transport, protocol, session): this status, no
    /// challenge, no authentication refusal, and `audit` in the events.
    Refused { status: StatusCode, audit: Audit },
    /// A control: 200, the tool ran exactly once, `token_accepted`, no refusal event.
    Accepted,
}

/// The event a non-authentication refusal must leave.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Audit {
    /// An event `event` on target `scopegate::http` (Origin / Host checks), and no
    /// authentication at all (the request was refused before it).
    Http(&'static str),
    /// The token was accepted (`token_accepted`), and no authentication refusal was logged:
    /// the transport or the session layer refused the request after authentication.
    TokenAccepted,
}

pub(crate) const ALGORITHM: &[&str] = &["algorithm"];
pub(crate) const MALFORMED: &[&str] = &["malformed"];
pub(crate) const UNKNOWN_KEY: &[&str] = &["unknown_key"];
pub(crate) const SIGNATURE: &[&str] = &["signature"];
pub(crate) const MALFORMED_OR_SIGNATURE: &[&str] = &["malformed", "signature"];
pub(crate) const CRITICAL: &[&str] = &["critical_header"];
pub(crate) const TYPE: &[&str] = &["type"];
pub(crate) const EXPIRED: &[&str] = &["expired"];
pub(crate) const EXPIRED_OR_CLAIMS: &[&str] = &["expired", "claims"];
pub(crate) const NOT_YET_VALID: &[&str] = &["not_yet_valid"];
pub(crate) const ISSUER: &[&str] = &["issuer"];
pub(crate) const ISSUER_OR_CLAIMS: &[&str] = &["issuer", "claims"];
pub(crate) const AUDIENCE: &[&str] = &["audience"];
pub(crate) const AUDIENCE_OR_CLAIMS: &[&str] = &["audience", "claims"];
pub(crate) const CLAIMS: &[&str] = &["claims"];
pub(crate) const UNAVAILABLE: &[&str] = &["unavailable"];

pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) request: RequestBuilder,
    pub(crate) expect: Expect,
}

pub(crate) fn case(name: impl Into<String>, request: RequestBuilder, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

pub(crate) fn is_refusal(e: &Event) -> bool {
    e.target == AUTH
        && matches!(
            e.field("event"),
            Some("token_rejected" | "token_missing" | "scope_denied")
        )
}

/// Runs one case; returns what went wrong (empty when the case passed).
pub(crate) async fn check(h: &Harness, case: Case) -> Vec<String> {
    let runs_before = h.runs();
    let mark = h.capture.len();
    let started = Instant::now();
    let Some(r) = h.try_send(case.request).await else {
        return vec![format!(
            "[{}] no answer within 15 s (a hang); expected {:?}",
            case.name, case.expect
        )];
    };
    let elapsed = started.elapsed();
    let events = h.capture.since(mark);
    let ran = h.runs() - runs_before;
    let mut problems = Vec::new();
    let metadata_url = h.metadata_url();
    let challenge = r.challenge();
    let any = |target: &str, event: &str| events.iter().any(|e| e.is(target, event));
    let want_status = |status: StatusCode, problems: &mut Vec<String>| {
        if r.status != status {
            problems.push(format!("status {} (expected {status})", r.status));
        }
    };
    let want_challenge = |error: Option<&str>, problems: &mut Vec<String>| match challenge {
        None => problems.push("no WWW-Authenticate challenge".to_owned()),
        Some(c) => {
            if !c.starts_with("Bearer") {
                problems.push(format!("challenge not Bearer: {c}"));
            }
            if param(c, "error") != error {
                problems.push(format!(
                    "challenge error {:?} (expected {error:?})",
                    param(c, "error")
                ));
            }
            if param(c, "resource_metadata") != Some(metadata_url.as_str()) {
                problems.push(format!(
                    "challenge resource_metadata {:?} (expected {metadata_url})",
                    param(c, "resource_metadata")
                ));
            }
        }
    };
    let no_accept = |problems: &mut Vec<String>| {
        if any(AUTH, "token_accepted") {
            problems.push("a token_accepted event was logged".to_owned());
        }
    };
    match &case.expect {
        Expect::InvalidToken(reasons) => {
            want_status(StatusCode::UNAUTHORIZED, &mut problems);
            want_challenge(Some("invalid_token"), &mut problems);
            let logged: Vec<&str> = events
                .iter()
                .filter(|e| e.is(AUTH, "token_rejected"))
                .filter_map(|e| e.field("reason"))
                .collect();
            if !logged.iter().any(|r| reasons.contains(r)) {
                problems.push(format!(
                    "audit: token_rejected reasons {logged:?} (expected one of {reasons:?})"
                ));
            }
            no_accept(&mut problems);
        }
        Expect::InvalidRequest => {
            want_status(StatusCode::BAD_REQUEST, &mut problems);
            want_challenge(Some("invalid_request"), &mut problems);
            if !events.iter().any(|e| {
                e.is(AUTH, "token_rejected") && e.field("reason") == Some("invalid_request")
            }) {
                problems.push("audit: no token_rejected with reason invalid_request".to_owned());
            }
            no_accept(&mut problems);
        }
        Expect::Missing => {
            want_status(StatusCode::UNAUTHORIZED, &mut problems);
            want_challenge(None, &mut problems);
            if !any(AUTH, "token_missing") {
                problems.push("audit: no token_missing event".to_owned());
            }
            no_accept(&mut problems);
        }
        Expect::ScopeDenied { tool, missing } => {
            want_status(StatusCode::FORBIDDEN, &mut problems);
            want_challenge(Some("insufficient_scope"), &mut problems);
            if let Some(scope) = challenge.and_then(|c| param(c, "scope")) {
                let held: Vec<&str> = scope.split(' ').collect();
                for m in missing.split(' ') {
                    if !held.contains(&m) {
                        problems.push(format!("challenge scope {scope:?} lacks {m}"));
                    }
                }
            } else {
                problems.push("challenge has no scope".to_owned());
            }
            if !events.iter().any(|e| {
                e.is(AUTH, "scope_denied")
                    && e.field("tool") == Some(*tool)
                    && e.field("missing").is_some_and(|m| same_scopes(m, missing))
            }) {
                problems.push(format!(
                    "audit: no scope_denied with tool={tool} missing={missing:?}"
                ));
            }
        }
        Expect::Refused { status, audit } => {
            want_status(*status, &mut problems);
            if let Some(c) = challenge {
                problems.push(format!("unexpected challenge {c}"));
            }
            if let Some(e) = events.iter().find(|e| is_refusal(e)) {
                problems.push(format!("unexpected authentication refusal {:?}", e.fields));
            }
            match audit {
                Audit::Http(event) => {
                    if !any(HTTP, event) {
                        problems.push(format!("audit: no {event} event on {HTTP}"));
                    }
                    no_accept(&mut problems);
                }
                Audit::TokenAccepted => {
                    if !any(AUTH, "token_accepted") {
                        problems.push("audit: the token was not accepted".to_owned());
                    }
                }
            }
        }
        Expect::Accepted => {
            want_status(StatusCode::OK, &mut problems);
            if ran != 1 {
                problems.push(format!("{ran} tool runs (expected 1)"));
            }
            if r.body.get("error").is_some() || r.body["result"]["isError"] == true {
                problems.push("the call failed".to_owned());
            }
            if !any(AUTH, "token_accepted") {
                problems.push("audit: no token_accepted".to_owned());
            }
            if let Some(e) = events.iter().find(|e| is_refusal(e)) {
                problems.push(format!("unexpected refusal event {:?}", e.fields));
            }
        }
    }
    if !matches!(case.expect, Expect::Accepted) && ran != 0 {
        problems.push(format!("{ran} tool run(s): a tool ran"));
    }
    if problems.is_empty() {
        return Vec::new();
    }
    let events: Vec<String> = events
        .iter()
        .map(|e| format!("{} {:?}", e.target, e.fields))
        .collect();
    vec![format!(
        "[{}] {}\n    answer: {} in {elapsed:?}, challenge {:?}, body {}\n    events: {events:?}",
        case.name,
        problems.join("; "),
        r.status,
        challenge,
        truncate(&r.body.to_string()),
    )]
}

/// Whether two space-separated scope lists hold the same scopes, in any order.
pub(crate) fn same_scopes(a: &str, b: &str) -> bool {
    let mut a: Vec<&str> = a.split(' ').filter(|s| !s.is_empty()).collect();
    let mut b: Vec<&str> = b.split(' ').filter(|s| !s.is_empty()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

pub(crate) fn truncate(text: &str) -> String {
    if text.len() <= 300 {
        text.to_owned()
    } else {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

/// Runs every case of a table, collecting failures.
pub(crate) async fn run(h: &Harness, cases: Vec<Case>, failures: &mut Vec<String>) -> usize {
    let count = cases.len();
    for case in cases {
        failures.extend(check(h, case).await);
    }
    count
}

pub(crate) fn assert_no_failures(table: &str, count: usize, failures: &[String]) {
    // Seen with `--nocapture`: how many attacks each table ran (the README counts them).
    eprintln!("attack table {table:?}: {count} cases");
    assert!(
        failures.is_empty(),
        "{table}: {} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
