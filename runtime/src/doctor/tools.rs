//! Which tools a token's scopes unlock: from the server's `tools/list` (each tool's required
//! scopes in `_meta`) when the token lets the doctor list, else from the scopes the server
//! advertises.

use serde_json::{Value, json};

use super::report::Report;
use crate::protocol::{LATEST_PROTOCOL_VERSION, Method};
use crate::scope::ScopeSet;
use crate::server::{ANY_SCOPES_META_KEY, REQUIRED_SCOPES_META_KEY};

/// The check's name.
pub(super) const TOOLS: &str = "token tools";

/// Most `tools/list` pages read.
const MAX_PAGES: usize = 20;

/// A tool and the scopes it needs: all of `required`, and one of `any` when not empty.
pub(super) struct ToolScopes {
    name: String,
    required: Vec<String>,
    any: Vec<String>,
}

/// Lists the server's tools with `token`: `initialize`, `notifications/initialized`, then
/// `tools/list` page by page, and the session ended.
pub(super) async fn list(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
) -> Result<Vec<ToolScopes>, String> {
    let (init, session) = post(
        client,
        endpoint,
        token,
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": Method::Initialize.as_str(), "params": {
            "protocolVersion": LATEST_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "scopegate-doctor", "version": env!("CARGO_PKG_VERSION")},
        }}),
    )
    .await?;
    if let Some(error) = init.get("error") {
        return Err(format!("initialize failed: {error}"));
    }
    let version = init
        .pointer("/result/protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(LATEST_PROTOCOL_VERSION)
        .to_owned();
    let session = session.as_deref();
    let headers = |builder: reqwest::RequestBuilder| {
        let builder = builder
            .bearer_auth(token)
            .header("mcp-protocol-version", &version);
        match session {
            Some(id) => builder.header("mcp-session-id", id),
            None => builder,
        }
    };
    headers(client.post(endpoint))
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&json!({"jsonrpc": "2.0", "method": Method::Initialized.as_str()}))
        .send()
        .await
        .map_err(|e| format!("notifications/initialized: {}", e.without_url()))?;

    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let request = json!({"jsonrpc": "2.0", "id": page + 2, "method": Method::ListTools.as_str(), "params": params});
        let response = headers(client.post(endpoint))
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .json(&request)
            .send()
            .await
            .map_err(|e| format!("tools/list: {}", e.without_url()))?;
        let reply = reply(response).await?;
        if let Some(error) = reply.get("error") {
            return Err(format!("tools/list failed: {error}"));
        }
        for tool in reply
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let strings = |key: &str| -> Vec<String> {
                tool.pointer(&format!("/_meta/{}", key.replace('/', "~1")))
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            tools.push(ToolScopes {
                name: tool
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                required: strings(REQUIRED_SCOPES_META_KEY),
                any: strings(ANY_SCOPES_META_KEY),
            });
        }
        cursor = reply
            .pointer("/result/nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    if let Some(id) = session {
        // Best effort: the server forgets the session at once instead of at its idle timeout.
        let _ = client
            .delete(endpoint)
            .bearer_auth(token)
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", &version)
            .send()
            .await;
    }
    Ok(tools)
}

/// POSTs one JSON-RPC request; returns the reply and the session id the server gave.
async fn post(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    session: Option<&str>,
    body: &Value,
) -> Result<(Value, Option<String>), String> {
    let mut request = client
        .post(endpoint)
        .bearer_auth(token)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(body);
    if let Some(id) = session {
        request = request.header("mcp-session-id", id);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("initialize: {}", e.without_url()))?;
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((reply(response).await?, session))
}

/// The JSON-RPC response in a 200's body: JSON, or the first `data:` of an event stream that
/// holds a response.
async fn reply(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    if !status.is_success() {
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        return Err(format!(
            "the server answered HTTP {}{challenge}",
            status.as_u16()
        ));
    }
    let stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer: {}", e.without_url()))?;
    if !stream {
        return serde_json::from_str(&text).map_err(|_| "the answer is not JSON".to_owned());
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some() && message.get("method").is_none())
        .ok_or_else(|| "the event stream held no response".to_owned())
}

/// Reports which tools `scopes` unlock (from `listed`), or, when the doctor could not list,
/// which of the advertised scopes the token holds.
pub(super) fn unlocked(
    report: &mut Report,
    scopes: &ScopeSet,
    listed: Result<Vec<ToolScopes>, String>,
    scopes_supported: &[String],
) {
    let held = scopes.iter().collect::<Vec<_>>().join(" ");
    match listed {
        Ok(tools) => {
            let mut yes = Vec::new();
            let mut no = Vec::new();
            for tool in &tools {
                let missing: Vec<&str> = tool
                    .required
                    .iter()
                    .map(String::as_str)
                    .filter(|s| !scopes.contains(s))
                    .collect();
                let any_ok = tool.any.is_empty() || tool.any.iter().any(|s| scopes.contains(s));
                if missing.is_empty() && any_ok {
                    yes.push(tool.name.clone());
                } else {
                    let mut needs = missing.join(" ");
                    if !any_ok {
                        if !needs.is_empty() {
                            needs.push_str(", and ");
                        }
                        needs.push_str(&format!("one of {}", tool.any.join(" ")));
                    }
                    no.push(format!("{} (needs {needs})", tool.name));
                }
            }
            let detail = format!(
                "source: the server's tools/list; scopes `{held}` unlock: {}; not: {} (a scope that implies another on the server is not visible from here)",
                list_or_none(&yes),
                list_or_none(&no)
            );
            if yes.is_empty() && !tools.is_empty() {
                report.warn(
                    TOOLS,
                    detail,
                    "ask for the scopes of the tools the client needs",
                );
            } else {
                report.pass(TOOLS, detail);
            }
        }
        Err(why) => {
            let (has, lacks): (Vec<&String>, Vec<&String>) =
                scopes_supported.iter().partition(|s| scopes.contains(s));
            let has: Vec<String> = has.into_iter().cloned().collect();
            let lacks: Vec<String> = lacks.into_iter().cloned().collect();
            let detail = format!(
                "source: the advertised scopes_supported only (tools/list: {why}); the token holds `{held}`; advertised and held: {}; advertised and not held: {}",
                list_or_none(&has),
                list_or_none(&lacks)
            );
            if has.is_empty() && !scopes_supported.is_empty() {
                report.warn(
                    TOOLS,
                    detail,
                    "the token holds none of the server's scopes: map the provider's scope names to the server's",
                );
            } else {
                report.pass(TOOLS, detail);
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
