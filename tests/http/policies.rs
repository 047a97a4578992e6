//! Scope rules over HTTP: every shape a denial takes. A scope the arguments add, or one a
//! handler demands before it answers, is the 403 `insufficient_scope` step-up of a fixed scope;
//! after the answer began as an event stream, or in a later round of an input request, it is a
//! JSON-RPC error whose `data` carries the same challenge; a tool's quota used up is a 429 with
//! `Retry-After`.

use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::files::Runs;
use crate::harness::{Harness, param, start};
use crate::support::KeyServer;

/// Creates a repository; a private one needs `repo:private` too.
#[mcp_tool(scope = "repo:write", when(private => "repo:private"))]
fn create_repo(name: String, private: bool) -> String {
    format!("created {name} (private: {private})")
}

/// Reads a repository; a secret one needs `repo:private`, known only once it is found.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
async fn get_repo(name: String, ctx: RequestContext) -> Result<String, ToolError> {
    if name.starts_with("secret") {
        ctx.require_scopes(["repo:private"])?;
    }
    Ok(format!("repo {name}"))
}

/// Reports progress, then finds the repository is private: too late for a 403.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
async fn scan_repo(ctx: RequestContext) -> Result<String, ToolError> {
    ctx.progress(0.5, Some(1.0), Some("scanning"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.require_scopes(["repo:private"])?;
    Ok("scanned".into())
}

/// Asks the user, then finds the repository is private: the round's state is spent by then.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
async fn open_secret(ctx: RequestContext) -> Result<String, ToolError> {
    let schema = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } });
    ctx.elicit("Open it?", schema).await?;
    ctx.require_scopes(["repo:private"])?;
    Ok("opened".into())
}

/// Wipes everything, twice a minute at most per caller.
#[mcp_tool(scope = "repo:admin", destructive, quota = "2/min")]
fn wipe() -> String {
    "wiped".into()
}

#[derive(McpServer, Clone)]
#[mcp(
    name = "repos",
    tools(create_repo, get_repo, scan_repo, open_secret, wipe)
)]
struct Repos;

async fn repos() -> Harness {
    let keys = KeyServer::start().await;
    start(Repos, Runs::default(), keys, |config, keys, resource| {
        config.jwt(JwtConfig::new(keys.issuer(), resource))
    })
    .await
}

/// A 2026-07-28 `tools/call` over HTTP, its headers as the revision asks, from a client that
/// can answer elicitations; `extra` params added (a round's state and answers).
async fn modern_call(
    h: &Harness,
    token: &str,
    tool: &str,
    args: Value,
    extra: Value,
) -> crate::harness::Reply {
    let capabilities = json!({ "elicitation": {} });
    let params = crate::support::modern_call_params(tool, args, capabilities, extra);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    let request = h
        .post(Some(token), None, &body)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool);
    h.send(request).await
}

/// The challenge of a step-up to `scope` for `h`: `insufficient_scope`, naming it, pointing at
/// the metadata.
fn assert_step_up(challenge: &str, scope: &str, h: &Harness) {
    assert_eq!(
        param(challenge, "error"),
        Some("insufficient_scope"),
        "{challenge}"
    );
    assert_eq!(param(challenge, "scope"), Some(scope), "{challenge}");
    assert_eq!(
        param(challenge, "resource_metadata"),
        Some(h.metadata_url().as_str()),
        "{challenge}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_the_arguments_add_is_a_403_step_up_in_both_eras() {
    let h = repos().await;
    let token = h.token("repo:write").build();
    let session = h.initialize(&token).await;
    let public = h
        .call(
            &token,
            &session,
            "create_repo",
            json!({"name": "a", "private": false}),
        )
        .await;
    assert_eq!(public.status, StatusCode::OK, "{:?}", public.body);
    let private = json!({"name": "b", "private": true});
    let r = h
        .call(&token, &session, "create_repo", private.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Legacy clients replace their scopes with the challenge's: what they hold, and this call's.
    assert_step_up(r.challenge(), "repo:private repo:write", &h);
    assert_eq!(
        r.body["error"]["data"]["rule"],
        r#"when(private => "repo:private")"#
    );
    // 2026-07-28: the operation's own scopes.
    let r = modern_call(&h, &token, "create_repo", private.clone(), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_step_up(r.challenge(), "repo:private repo:write", &h);
    let stepped = h.token("repo:write repo:private").build();
    let r = modern_call(&h, &stepped, "create_repo", private, json!({})).await;
    assert_eq!(
        r.body["result"]["content"][0]["text"],
        "created b (private: true)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_demanded_before_the_answer_began_is_a_403_step_up() {
    let h = repos().await;
    let reader = h.token("repo:read").build();
    let secret = json!({"name": "secret-plans"});
    let r = modern_call(&h, &reader, "get_repo", secret.clone(), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_step_up(r.challenge(), "repo:private repo:read", &h);
    assert_eq!(r.body["error"]["data"]["rule"], "may_require");
    let stepped = h.token("repo:read repo:private").build();
    let r = modern_call(&h, &stepped, "get_repo", secret, json!({})).await;
    assert_eq!(r.body["result"]["content"][0]["text"], "repo secret-plans");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_demanded_after_progress_is_an_error_in_the_stream_carrying_the_challenge() {
    let h = repos().await;
    let reader = h.token("repo:read").build();
    let session = h.initialize(&reader).await;
    let body = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"scan_repo","arguments":{},"_meta":{"progressToken":"p"}}});
    let response = h
        .post(Some(&reader), Some(&session), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "the progress report opened an event stream"
    );
    let text = response.text().await.unwrap();
    let messages: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(messages[0]["method"], "notifications/progress", "{text}");
    let error = &messages.last().unwrap()["error"];
    assert_eq!(
        error["code"],
        scopegate::protocol::error_code::INSUFFICIENT_SCOPE,
        "{text}"
    );
    assert_eq!(error["data"]["missingScopes"], json!(["repo:private"]));
    assert_step_up(
        error["data"]["wwwAuthenticate"].as_str().unwrap(),
        "repo:private repo:read",
        &h,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_demanded_in_a_later_round_is_an_error_carrying_the_challenge() {
    let h = repos().await;
    let reader = h.token("repo:read").build();
    let first = modern_call(&h, &reader, "open_secret", json!({}), json!({})).await;
    assert_eq!(
        first.body["result"]["resultType"], "input_required",
        "{:?}",
        first.body
    );
    let answers = json!({
        "requestState": first.body["result"]["requestState"],
        "inputResponses": { "input-1": { "action": "accept", "content": { "ok": true } } },
    });
    let r = modern_call(&h, &reader, "open_secret", json!({}), answers).await;
    // Not a 403: repeating this request cannot succeed (its state is spent), so the answer is
    // the error, and the client starts the call again once it has the scope.
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.challenge().is_empty());
    let error = &r.body["error"];
    assert_eq!(
        error["code"],
        scopegate::protocol::error_code::INSUFFICIENT_SCOPE
    );
    assert_step_up(
        error["data"]["wwwAuthenticate"].as_str().unwrap(),
        "repo:private repo:read",
        &h,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_quota_is_a_429_with_retry_after() {
    let h = repos().await;
    let admin = h.token("repo:admin").build();
    for _ in 0..2 {
        let r = modern_call(&h, &admin, "wipe", json!({}), json!({})).await;
        assert_eq!(
            r.body["result"]["content"][0]["text"], "wiped",
            "{:?}",
            r.body
        );
    }
    let r = modern_call(&h, &admin, "wipe", json!({}), json!({})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(
        r.body["error"]["code"],
        scopegate::protocol::error_code::QUOTA_EXCEEDED
    );
    assert_eq!(r.body["error"]["data"]["retryAfterSeconds"], wait);
    // Another caller's quota is its own.
    let other = h.token("repo:admin").sub("bob").build();
    let r = modern_call(&h, &other, "wipe", json!({}), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Records the keys it is asked to count, and allows everything.
#[derive(Debug, Clone, Default)]
struct Recording(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl scopegate::http::RateLimitStore for Recording {
    fn take<'a>(
        &'a self,
        key: &'a str,
        _: scopegate::http::Quota,
    ) -> scopegate::http::StoreFuture<'a, Option<Duration>> {
        self.0.lock().unwrap().push(key.to_owned());
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routers_rate_limit_store_counts_tools_quotas_too() {
    let keys = KeyServer::start().await;
    let store = Recording::default();
    let shared = store.clone();
    let h = start(Repos, Runs::default(), keys, |config, keys, resource| {
        config
            .jwt(JwtConfig::new(keys.issuer(), resource))
            .rate_limit_store(shared)
    })
    .await;
    let admin = h.token("repo:admin").build();
    for _ in 0..3 {
        // Over the quota of 2 in this process, but the shared store allows it.
        let r = modern_call(&h, &admin, "wipe", json!({}), json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let tool_keys = store
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|k| k.starts_with("tool:wipe:"))
        .count();
    assert_eq!(tool_keys, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_challenge_asks_for_fixed_scopes_and_rules_come_by_step_up() {
    let h = repos().await;
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // `repo:private` is asked for only when a call needs it (`when`, `may_require`)...
    assert_eq!(
        param(r.challenge(), "scope"),
        Some("repo:admin repo:read repo:write")
    );
    // ...but it is a scope of this resource, for clients and authorization servers to know.
    let metadata = h.send(h.client.get(h.metadata_url())).await.body;
    assert_eq!(
        metadata["scopes_supported"],
        json!(["repo:admin", "repo:private", "repo:read", "repo:write"])
    );
}
