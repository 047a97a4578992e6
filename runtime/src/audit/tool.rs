//! With `--tool NAME`, a tool the token lacks the scope for: the call is refused with 403 and
//! `insufficient_scope` naming a `scope` (RFC 6750 §3.1, MCP authorization: scope challenge).
//! Only a tool the server marks read-only is called, unless the caller allows more.

use serde_json::{Value, json};

use super::probe::{Answer, Probe, Request, negotiated_version};
use crate::doctor::Report;
use crate::protocol::Method;

pub(super) const STEP_UP: &str = "403 insufficient_scope";

/// Most `tools/list` pages read looking for the tool.
const MAX_PAGES: usize = 20;

pub(super) async fn check(
    report: &mut Report,
    probe: &Probe,
    token: &str,
    name: &str,
    allow_writes: bool,
) {
    let auth = Request {
        token: Some(token),
        ..Request::default()
    };
    let init = match probe.initialize_kept(auth).await {
        Ok(init) if init.success() => init,
        Ok(init) => {
            return report.skip(
                STEP_UP,
                format!("`initialize` answered {}", init.describe()),
            );
        }
        Err(error) => return report.skip(STEP_UP, error),
    };
    let version = negotiated_version(&init);
    let session = init.session.as_deref();
    let notify = json!({"jsonrpc": "2.0", "method": Method::Initialized.as_str()});
    let _ = probe.post(auth, session, Some(&version), &notify).await;

    let outcome = call(probe, auth, session, &version, name, allow_writes).await;
    if let Some(session) = session {
        probe.end(token, session).await;
    }
    match outcome {
        Err(why) => report.skip(STEP_UP, why),
        Ok(answer) => grade(report, name, &answer),
    }
}

/// Finds the tool in `tools/list`, and calls it if it may.
async fn call(
    probe: &Probe,
    auth: Request<'_>,
    session: Option<&str>,
    version: &str,
    name: &str,
    allow_writes: bool,
) -> Result<Answer, String> {
    let listed = find(probe, auth, session, version, name).await?;
    let read_only = listed
        .as_ref()
        .and_then(|tool| tool.pointer("/annotations/readOnlyHint"))
        .and_then(Value::as_bool)
        == Some(true);
    if !read_only && !allow_writes {
        let why = if listed.is_some() {
            format!(
                "`{name}` is not marked read-only (`readOnlyHint`), so calling it could change data; allow writes to call it anyway"
            )
        } else {
            format!(
                "`{name}` is not in the token's `tools/list`, so whether it only reads is unknown; allow writes to call it anyway"
            )
        };
        return Err(why);
    }
    let request = json!({"jsonrpc": "2.0", "id": 3, "method": Method::CallTool.as_str(), "params": {"name": name, "arguments": {}}});
    probe.post(auth, session, Some(version), &request).await
}

/// The tool's entry in `tools/list`, if listed.
async fn find(
    probe: &Probe,
    auth: Request<'_>,
    session: Option<&str>,
    version: &str,
    name: &str,
) -> Result<Option<Value>, String> {
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let params = cursor
            .as_ref()
            .map_or_else(|| json!({}), |c| json!({"cursor": c}));
        let request = json!({"jsonrpc": "2.0", "id": page + 10, "method": Method::ListTools.as_str(), "params": params});
        let answer = probe.post(auth, session, Some(version), &request).await?;
        let Some(message) = answer.message.filter(|_| answer.status < 300) else {
            return Err(format!("`tools/list` answered HTTP {}", answer.status));
        };
        let tools = message.pointer("/result/tools").and_then(Value::as_array);
        if let Some(tool) = tools
            .into_iter()
            .flatten()
            .find(|tool| tool.get("name").and_then(Value::as_str) == Some(name))
        {
            return Ok(Some(tool.clone()));
        }
        cursor = message
            .pointer("/result/nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(None)
}

fn grade(report: &mut Report, name: &str, answer: &Answer) {
    let fix = "answer a call the token's scopes do not cover with 403 and `WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"…\"`, so the client can ask for more (MCP authorization: scope challenge, RFC 6750 §3.1)";
    let bearer = answer.bearer.as_ref();
    let error = bearer.and_then(|b| b.get("error"));
    let scope = bearer.and_then(|b| b.get("scope"));
    let ran = answer
        .message
        .as_ref()
        .is_some_and(|m| m.get("result").is_some());
    match (answer.status, error, scope) {
        (403, Some("insufficient_scope"), Some(scope)) => report.pass(
            STEP_UP,
            format!("`{name}`: HTTP 403, insufficient_scope, scope `{scope}`"),
        ),
        (403, Some("insufficient_scope"), None) => report.warn(
            STEP_UP,
            format!("`{name}`: HTTP 403, insufficient_scope, but no `scope`"),
            fix,
        ),
        (_, _, _) if ran => report.fail(
            STEP_UP,
            format!("`{name}` ran ({}): either the token holds its scope or the server does not check it", answer.describe()),
            "name a tool the token lacks the scope for; if it does lack it, check scopes before running tools",
        ),
        _ => report.warn(
            STEP_UP,
            format!("`{name}`: {}, not 403 insufficient_scope", answer.describe()),
            fix,
        ),
    }
}
