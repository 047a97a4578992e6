//! The tasks extension of 2026-07-28 (SEP-2663) through the dispatcher: which calls become
//! tasks, their lifecycle, their inputs, their owner and scopes, their bounds.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet, ServerOptions};
use serde_json::{Value, json};
use support::who;

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "jobs",
    version = "1.0.0",
    tools(build, quick, always, approve, crash, plain, release, expedite)
)]
struct Jobs {
    /// Handlers of `build` dropped before they finished (a cancelled task's handler is).
    dropped: Arc<AtomicUsize>,
}

/// Counts its drop unless defused.
struct DropGuard(Arc<AtomicUsize>, bool);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Builds for `millis`.
#[mcp_tool(scope = "jobs:run", task)]
async fn build(millis: u64, jobs: State<Jobs>) -> String {
    let mut guard = DropGuard(Arc::clone(&jobs.0.dropped), false);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    guard.1 = true;
    format!("built in {millis} ms")
}

/// Answers at once.
#[mcp_tool(scope = "jobs:run", task)]
fn quick() -> String {
    "quick".into()
}

/// Always a task, even when it finishes at once.
#[mcp_tool(scope = "jobs:run", task = "required")]
fn always() -> String {
    "done".into()
}

/// Asks for approval from the task, then for a reason.
#[mcp_tool(scope = "jobs:run", task)]
async fn approve(ctx: RequestContext) -> Result<String, ToolError> {
    ctx.run_as_task().await;
    let schema = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } });
    let (a, b) = tokio::join!(
        ctx.input("first").elicit("First?", schema.clone()),
        ctx.input("second").elicit("Second?", schema),
    );
    Ok(format!("{} {}", a?["action"], b?["action"]))
}

/// Panics after a moment.
#[mcp_tool(scope = "jobs:run", task)]
async fn crash() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("crash on purpose")
}

/// Never a task.
#[mcp_tool(scope = "jobs:run")]
async fn plain() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    "plain".into()
}

/// Waits, then finds that releasing needs `jobs:release`: a task by then.
#[mcp_tool(scope = "jobs:run", task, may_require = ["jobs:release"])]
async fn release(ctx: RequestContext) -> Result<String, ToolError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    ctx.require_scopes(["jobs:release"])?;
    Ok("released".into())
}

/// Runs a while; an urgent run needs `jobs:urgent`.
#[mcp_tool(scope = "jobs:run", task, when(urgent => "jobs:urgent"))]
async fn expedite(urgent: bool) -> String {
    tokio::time::sleep(Duration::from_millis(50)).await;
    format!("urgent: {urgent}")
}

fn alice() -> Principal {
    who("alice", "jobs:run")
}

const TASKS: &str = "io.modelcontextprotocol/tasks";

/// What the client declares: elicitation, and the tasks extension when `tasks`.
fn capabilities(tasks: bool) -> Value {
    let mut capabilities = json!({ "elicitation": {} });
    if tasks {
        capabilities["extensions"] = json!({ TASKS: {} });
    }
    capabilities
}

/// A 2026-07-28 request; `tasks` says whether its client declares the extension. The result,
/// or `{"error": …}` / `{"denied": …}` / `{"refused": …}` (see [`support::modern_dispatch`]).
async fn send(
    server: &Server<Jobs>,
    principal: &Principal,
    method: &str,
    params: Value,
    tasks: bool,
) -> Value {
    support::modern_dispatch(server, principal, method, params, capabilities(tasks)).await
}

async fn call(server: &Server<Jobs>, tool: &str, arguments: Value) -> Value {
    send(
        server,
        &alice(),
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
        true,
    )
    .await
}

async fn get(server: &Server<Jobs>, principal: &Principal, task: &Value) -> Value {
    let params = json!({ "taskId": task });
    send(server, principal, "tasks/get", params, true).await
}

async fn cancel(server: &Server<Jobs>, principal: &Principal, task: &Value) -> Value {
    let params = json!({ "taskId": task });
    send(server, principal, "tasks/cancel", params, true).await
}

/// Polls until the task is in `status` (or any final one).
async fn until(server: &Server<Jobs>, task: &Value, status: &str) -> Value {
    for _ in 0..200 {
        let now = get(server, &alice(), task).await;
        if now["status"] == status
            || ["completed", "failed", "cancelled"].contains(&now["status"].as_str().unwrap_or(""))
        {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {task} never reached {status}");
}

fn server(options: ServerOptions) -> Server<Jobs> {
    Server::with_options(Jobs::default(), options).unwrap()
}

#[tokio::test]
async fn a_waiting_call_becomes_a_task_and_completes() {
    let server = server(ServerOptions::default());
    let created = call(&server, "build", json!({ "millis": 50 })).await;
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working");
    assert!(created["ttlMs"].as_u64().unwrap() > 0);
    assert!(created["pollIntervalMs"].as_u64().unwrap() > 0);
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    for absent in ["content", "requestState", "inputRequests", "result", "task"] {
        assert!(created.get(absent).is_none(), "{absent} in {created}");
    }
    let id = &created["taskId"];
    // Readable at once (SEP-2663: created durably before it is answered).
    let working = get(&server, &alice(), id).await;
    assert_eq!(working["resultType"], "complete");
    assert_eq!(working["status"], "working");
    let done = until(&server, id, "completed").await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"]["content"][0]["text"], "built in 50 ms");
    assert_eq!(
        done["result"]["resultType"], "complete",
        "the result as tools/call gives it"
    );
    assert!(done.get("error").is_none());
}

#[tokio::test]
async fn what_finishes_at_once_answers_at_once_unless_the_tool_is_always_a_task() {
    let server = server(ServerOptions::default());
    let quick = call(&server, "quick", json!({})).await;
    assert_eq!(quick["resultType"], "complete");
    assert_eq!(quick["content"][0]["text"], "quick");
    let plain = call(&server, "plain", json!({})).await;
    assert_eq!(
        plain["resultType"], "complete",
        "a tool without `task` never becomes one"
    );
    let always = call(&server, "always", json!({})).await;
    assert_eq!(always["resultType"], "task", "{always}");
    let got = get(&server, &alice(), &always["taskId"]).await;
    assert_eq!(got["status"], "completed");
    assert_eq!(got["result"]["content"][0]["text"], "done");
}

#[tokio::test]
async fn a_client_without_the_extension_gets_no_task() {
    let server = server(ServerOptions::default());
    let sync = send(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "build", "arguments": { "millis": 5 } }),
        false,
    )
    .await;
    assert_eq!(sync["resultType"], "complete");
    assert_eq!(sync["content"][0]["text"], "built in 5 ms");
    let refused = send(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "always" }),
        false,
    )
    .await;
    assert_eq!(refused["refused"]["code"], -32021, "{refused}");
    assert_eq!(
        refused["refused"]["data"]["requiredCapabilities"]["extensions"][TASKS],
        json!({})
    );
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        let r = send(
            &server,
            &alice(),
            method,
            json!({ "taskId": "x", "inputResponses": {} }),
            false,
        )
        .await;
        assert_eq!(r["refused"]["code"], -32021, "{method}: {r}");
    }
    // And a legacy request knows no such method.
    let legacy =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": { "taskId": "x" } });
    let Reply::Response(response) = server
        .handle_bytes(legacy.to_string().as_bytes(), &alice())
        .await
    else {
        panic!("a response");
    };
    assert_eq!(
        serde_json::to_value(&response).unwrap()["error"]["code"],
        -32601
    );
}

#[tokio::test]
async fn a_task_is_its_owners_and_needs_its_tools_scopes_every_time() {
    let server = server(ServerOptions::default());
    let created = call(&server, "build", json!({ "millis": 200 })).await;
    let id = &created["taskId"];
    // Another user: as unknown as a task that never was, for every method.
    let mallory = who("mallory", "jobs:run");
    let unknown = get(&server, &mallory, &json!("no-such-task")).await;
    assert_eq!(unknown["error"]["code"], -32602);
    assert_eq!(get(&server, &mallory, id).await, unknown);
    for method in ["tasks/update", "tasks/cancel"] {
        let r = send(
            &server,
            &mallory,
            method,
            json!({ "taskId": id, "inputResponses": {} }),
            true,
        )
        .await;
        assert_eq!(r["error"]["code"], -32602, "{method}");
    }
    // The same user from another issuer is another user.
    let elsewhere = Principal::builder()
        .issuer("https://other.example")
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("jobs:run"))
        .build();
    assert_eq!(get(&server, &elsewhere, id).await["error"]["code"], -32602);
    // The owner without the tool's scope: a step-up, and the task is not cancelled.
    let denied = cancel(&server, &who("alice", ""), id).await;
    assert_eq!(denied["denied"], json!(["jobs:run"]));
    assert_eq!(until(&server, id, "completed").await["status"], "completed");
}

#[tokio::test]
async fn cancelling_drops_the_handler_and_a_second_cancel_is_an_ack() {
    let server = server(ServerOptions::default());
    let created = call(&server, "build", json!({ "millis": 60_000 })).await;
    let id = &created["taskId"];
    let ack = cancel(&server, &alice(), id).await;
    assert_eq!(
        ack,
        json!({ "resultType": "complete", "_meta": ack["_meta"] })
    );
    assert_eq!(get(&server, &alice(), id).await["status"], "cancelled");
    for _ in 0..100 {
        if server.state().dropped.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.state().dropped.load(Ordering::SeqCst),
        1,
        "the handler was dropped"
    );
    let again = cancel(&server, &alice(), id).await;
    assert_eq!(again["resultType"], "complete");
    // A finished task stays finished.
    let done = call(&server, "always", json!({})).await;
    cancel(&server, &alice(), &done["taskId"]).await;
    assert_eq!(
        get(&server, &alice(), &done["taskId"]).await["status"],
        "completed"
    );
}

#[tokio::test]
async fn a_task_asks_the_client_and_resumes_with_partial_answers() {
    let server = server(ServerOptions::default());
    let created = call(&server, "approve", json!({})).await;
    assert_eq!(created["resultType"], "task", "{created}");
    let id = &created["taskId"];
    let asking = until(&server, id, "input_required").await;
    assert_eq!(asking["status"], "input_required");
    let requests = asking["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests["first"]["method"], "elicitation/create");
    let owner = alice();
    let update = |responses: Value| {
        send(
            &server,
            &owner,
            "tasks/update",
            json!({ "taskId": id, "inputResponses": responses }),
            true,
        )
    };
    // A malformed answer is refused and delivers nothing.
    let bad = update(json!({ "first": { "action": "perhaps" } })).await;
    assert_eq!(bad["error"]["code"], -32602);
    // One of two (and a key nobody asked): acknowledged; the other is still asked for.
    let ack = update(json!({ "first": { "action": "accept", "content": {} }, "nope": {} })).await;
    assert_eq!(ack["resultType"], "complete");
    assert!(ack.get("status").is_none());
    let still = get(&server, &alice(), id).await;
    assert_eq!(still["status"], "input_required");
    let keys: Vec<&String> = still["inputRequests"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["second"]);
    update(json!({ "second": { "action": "decline" } })).await;
    let done = until(&server, id, "completed").await;
    assert_eq!(
        done["result"]["content"][0]["text"],
        "\"accept\" \"decline\""
    );
}

#[tokio::test]
async fn a_panic_fails_the_task_with_a_protocol_error() {
    let server = server(ServerOptions::default());
    let created = call(&server, "crash", json!({})).await;
    let failed = until(&server, &created["taskId"], "failed").await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], -32603);
    assert!(
        !failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("on purpose")
    );
    assert!(failed.get("result").is_none());
}

#[tokio::test]
async fn a_scope_demanded_in_a_task_fails_it_with_the_challenge() {
    let server = server(ServerOptions::default());
    let created = call(&server, "release", json!({})).await;
    assert!(created["taskId"].is_string(), "{created}");
    let failed = until(&server, &created["taskId"], "failed").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = &failed["error"];
    assert_eq!(
        error["code"],
        scopegate::protocol::error_code::INSUFFICIENT_SCOPE
    );
    assert_eq!(error["data"]["missingScopes"], json!(["jobs:release"]));
    let challenge = error["data"]["wwwAuthenticate"].as_str().unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="jobs:release jobs:run""#),
        "{challenge}"
    );
    assert!(
        failed.get("result").is_none(),
        "the handler's output is not the task's"
    );
    // With the scope, the same tool completes.
    let holder = who("alice", "jobs:run jobs:release");
    let created = send(
        &server,
        &holder,
        "tools/call",
        json!({"name": "release"}),
        true,
    )
    .await;
    let mut done = Value::Null;
    for _ in 0..200 {
        done = get(&server, &holder, &created["taskId"]).await;
        if done["status"] != "working" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(done["status"], "completed", "{done}");
}

#[tokio::test]
async fn a_tasks_argument_dependent_scopes_are_checked_on_every_request_about_it() {
    let server = server(ServerOptions::default());
    let holder = who("alice", "jobs:run jobs:urgent");
    let params = json!({"name": "expedite", "arguments": {"urgent": true}});
    let created = send(&server, &holder, "tools/call", params, true).await;
    let task = &created["taskId"];
    assert!(task.is_string(), "{created}");
    // The same caller, with a token that no longer grants `jobs:urgent`.
    let denied = get(&server, &alice(), task).await;
    assert_eq!(denied["denied"], json!(["jobs:urgent"]), "{denied}");
    let seen = get(&server, &holder, task).await;
    assert!(seen["status"].is_string(), "{seen}");
}

#[tokio::test]
async fn tasks_are_bounded_and_live_as_long_as_their_ttl() {
    let server = server(
        ServerOptions::default()
            .max_tasks(1)
            .task_ttl(Duration::from_millis(300)),
    );
    let first = call(&server, "build", json!({ "millis": 60_000 })).await;
    assert_eq!(first["ttlMs"], 300);
    // No room: a tool that may answer when done does so; one that must be a task is refused,
    // before its handler runs.
    let second = call(&server, "build", json!({ "millis": 5 })).await;
    assert_eq!(second["resultType"], "complete", "{second}");
    let refused = call(&server, "always", json!({})).await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");
    // Past its time to live the running task fails, then is forgotten, making room.
    let failed = until(&server, &first["taskId"], "failed").await;
    assert_eq!(failed["status"], "failed");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        get(&server, &alice(), &first["taskId"]).await["error"]["code"],
        -32602
    );
    let third = call(&server, "build", json!({ "millis": 1 })).await;
    assert_eq!(third["resultType"], "task", "{third}");
}

#[tokio::test]
async fn a_listen_stream_follows_its_owners_tasks() {
    let server = server(ServerOptions::default());
    let created = call(&server, "approve", json!({})).await;
    let id = created["taskId"].clone();
    let theirs = send(
        &server,
        &who("mallory", "jobs:run"),
        "tools/call",
        json!({ "name": "approve" }),
        true,
    )
    .await;
    // A listener over stdio (the simplest stream), as alice.
    let mut peer = support::StdioPeer::start(server.clone(), alice());
    let listen = |id: u32, tasks: bool| {
        let mut meta = support::modern_meta();
        meta["io.modelcontextprotocol/clientCapabilities"] = capabilities(tasks);
        json!({ "jsonrpc": "2.0", "id": id, "method": "subscriptions/listen", "params": {
            "notifications": { "taskIds": [
                created["taskId"].as_str().unwrap(), theirs["taskId"].as_str().unwrap(), "nope"
            ] },
            "_meta": meta,
        } })
    };
    // Without the extension: refused.
    peer.send(&listen(1, false)).await;
    let refused = peer.next().await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    peer.send(&listen(2, true)).await;
    let ack = peer.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["taskIds"],
        json!([id]),
        "only alice's task"
    );
    // The task asks, is answered, completes: each change arrives as the task itself.
    until(&server, &id, "input_required").await;
    send(
        &server,
        &alice(),
        "tasks/update",
        json!({ "taskId": id, "inputResponses": {
            "first": { "action": "accept", "content": {} },
            "second": { "action": "accept", "content": {} },
        } }),
        true,
    )
    .await;
    let mut statuses = Vec::new();
    loop {
        let message = peer.next().await;
        assert_eq!(message["method"], "notifications/tasks", "{message}");
        assert_eq!(message["params"]["taskId"], id);
        assert_eq!(
            message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            2
        );
        let status = message["params"]["status"].as_str().unwrap().to_owned();
        statuses.push(status.clone());
        if status == "completed" {
            assert_eq!(
                message["params"]["result"]["content"][0]["text"],
                "\"accept\" \"accept\""
            );
            break;
        }
    }
    assert!(statuses.contains(&"completed".to_owned()), "{statuses:?}");
    peer.close_input().await;
    peer.finished().await.unwrap();
}

#[tokio::test]
async fn one_caller_cannot_take_every_task_slot() {
    let server = server(ServerOptions::default().max_tasks_per_principal(1));
    let first = call(&server, "build", json!({ "millis": 60_000 })).await;
    assert_eq!(first["resultType"], "task");
    let alices_second = call(&server, "always", json!({})).await;
    assert_eq!(alices_second["error"]["code"], -32603, "{alices_second}");
    let mallorys = send(
        &server,
        &who("mallory", "jobs:run"),
        "tools/call",
        json!({ "name": "always" }),
        true,
    )
    .await;
    assert_eq!(
        mallorys["resultType"], "task",
        "another caller still has room: {mallorys}"
    );
    cancel(&server, &alice(), &first["taskId"]).await;
}

#[tokio::test]
async fn a_caller_without_a_subject_gets_no_task() {
    // An introspection answer or a custom verifier may give scopes without a subject: such
    // callers of one client could not be told apart, so none of them owns a task.
    let server = server(ServerOptions::default());
    let nobody = Principal::builder()
        .issuer("https://as.example")
        .scopes(ScopeSet::from_space_separated("jobs:run"))
        .build();
    let sync = send(
        &server,
        &nobody,
        "tools/call",
        json!({ "name": "build", "arguments": { "millis": 5 } }),
        true,
    )
    .await;
    assert_eq!(sync["resultType"], "complete", "{sync}");
    let refused = send(
        &server,
        &nobody,
        "tools/call",
        json!({ "name": "always" }),
        true,
    )
    .await;
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
}

#[test]
fn a_task_store_without_an_event_bus_does_not_build() {
    #[derive(Debug)]
    struct NoStore;
    impl scopegate::TaskStore for NoStore {
        fn put<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Duration,
        ) -> scopegate::StoreFuture<'a, bool> {
            Box::pin(async { Ok(true) })
        }
        fn get<'a>(&'a self, _: &'a str) -> scopegate::StoreFuture<'a, Option<String>> {
            Box::pin(async { Ok(None) })
        }
    }
    let built = Server::with_options(
        Jobs::default(),
        ServerOptions::default().task_store(NoStore),
    );
    assert_eq!(
        built.err(),
        Some(scopegate::BuildError::TaskStoreWithoutBus)
    );
}
