//! Replicas sharing state through a real Redis (Debian's `redis-server`, started by each test on
//! 127.0.0.1 with a port the system picked): legacy sessions served by any replica, ended
//! everywhere, bound to their principal everywhere; rate limits counted once across replicas;
//! a Redis outage answered with 503 (sessions) or per-replica limits, never a hang. And the
//! graceful drain: `/readyz` turns 503 while the server still serves, then it stops accepting. And
//! DPoP proofs spent once across replicas, refused while Redis is down.
//!
//! The replicas are routers in this process, each on its own listener, as separate processes
//! would be: they share nothing but the Redis URL.

#[path = "support/e2e.rs"]
mod e2e;
mod support;

use std::time::{Duration, Instant};

use e2e::RedisServer;
use reqwest::StatusCode;
use scopegate::LogLevel;
use scopegate::auth::JwtConfig;
use scopegate::http::{
    HttpConfig, Quota, RedisOptions, RedisStore, ServeOptions, serve_on, serve_with,
};
use scopegate::prelude::*;
use serde_json::{Value, json};
use support::KeyServer;

/// The public resource every replica announces (the balancer's URL, as behind nginx).
/// The balancer's URL, which no replica listens on: plain `http://` off loopback, so the
/// replicas opt out with `allow_insecure_http` (a private network, as behind a real balancer).
const RESOURCE: &str = "http://mcp.test/mcp";

/// Sends a warning to the client's log; answers whether it went out (it does not below the
/// client's level), which shows the log level a replica holds for the session.
#[mcp_tool(scope = "x:use")]
fn probe(ctx: RequestContext) -> String {
    ctx.log(LogLevel::Warning, None, "probe").to_string()
}

#[derive(McpServer)]
#[mcp(name = "scale-out", tools(probe))]
struct App;

/// A store on `redis` under its own key prefix, with a short timeout (the outage test waits
/// on it).
fn store(redis: &RedisServer, prefix: &str) -> RedisStore {
    let mut options = RedisOptions::default();
    options.prefix = prefix.into();
    options.timeout = Duration::from_millis(500);
    RedisStore::open_with(&redis.url, options).unwrap()
}

/// One replica: a router on its own listener.
struct Replica {
    url: String,
    http: reqwest::Client,
}

async fn replica(keys: &KeyServer, configure: impl FnOnce(HttpConfig) -> HttpConfig) -> Replica {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = configure(
        HttpConfig::new(RESOURCE)
            .jwt(JwtConfig::new(keys.issuer(), RESOURCE))
            .allow_insecure_http(true)
            .rate_per_address(None),
    );
    let router = Server::new(App).unwrap().http(config).unwrap();
    tokio::spawn(async move { serve_on(listener, router).await.unwrap() });
    Replica {
        url,
        http: reqwest::Client::new(),
    }
}

/// An answer: status, session header, `WWW-Authenticate`, and the JSON-RPC response (the last
/// message of an event stream).
struct Answer {
    status: StatusCode,
    session: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Replica {
    async fn post(&self, token: &str, session: Option<&str>, body: &Value) -> Answer {
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(10))
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (session, retry_after) = (header("mcp-session-id"), header("retry-after"));
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .rfind(|message| message.get("id").is_some())
            .unwrap_or_else(|| serde_json::from_str(&text).unwrap_or(Value::Null));
        Answer {
            status,
            session,
            retry_after,
            body,
        }
    }

    async fn delete(&self, token: &str, session: &str) -> StatusCode {
        self.http
            .delete(&self.url)
            .bearer_auth(token)
            .header("mcp-session-id", session)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Initializes a session here; its id.
    async fn initialize(&self, token: &str) -> String {
        let answer = self
            .post(
                token,
                None,
                &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion":"2025-11-25","capabilities":{},
                    "clientInfo":{"name":"scale-out","version":"1"}}}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.session.expect("a session id")
    }

    /// Calls `probe` on `session`: whether a warning reached the client.
    async fn probe(&self, token: &str, session: &str) -> Answer {
        self.post(
            token,
            Some(session),
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"probe","arguments":{}}}),
        )
        .await
    }
}

fn probe_text(answer: &Answer) -> &str {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", answer.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_in_redis_and_any_replica_serves_it() {
    let keys = KeyServer::start().await;
    let redis = RedisServer::start().await;
    let store = store(&redis, "t1:");
    let a = replica(&keys, |c| c.session_store(store.clone())).await;
    let b = replica(&keys, |c| c.session_store(store.clone())).await;
    let alice = keys.token(RESOURCE, "x:use").build();
    let bob = keys.token(RESOURCE, "x:use").sub("bob").build();

    let session = a.initialize(&alice).await;
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(
        b.post(&alice, Some(&session), &initialized).await.status,
        StatusCode::ACCEPTED
    );
    // The default level (info) lets the warning out, on the replica that did not start it.
    assert_eq!(probe_text(&b.probe(&alice, &session).await), "true");
    // The level set on A reaches B's connection for the session, and a third replica's.
    let set_level =
        json!({"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"error"}});
    assert_eq!(
        a.post(&alice, Some(&session), &set_level).await.status,
        StatusCode::OK
    );
    assert_eq!(probe_text(&b.probe(&alice, &session).await), "false");
    let c = replica(&keys, |c| c.session_store(store.clone())).await;
    assert_eq!(probe_text(&c.probe(&alice, &session).await), "false");

    // Bound to alice on every replica: bob gets the same 404 as for an unknown id.
    for replica in [&a, &b, &c] {
        let hijack = replica.probe(&bob, &session).await;
        assert_eq!(hijack.status, StatusCode::NOT_FOUND, "{}", hijack.body);
        assert_eq!(
            replica.delete(&bob, &session).await,
            StatusCode::NOT_FOUND,
            "bob cannot end it either"
        );
    }
    // Ended on B: 404 on every replica, including A, which started it.
    assert_eq!(b.delete(&alice, &session).await, StatusCode::NO_CONTENT);
    for replica in [&a, &b, &c] {
        assert_eq!(
            replica.probe(&alice, &session).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            replica.delete(&alice, &session).await,
            StatusCode::NOT_FOUND
        );
    }
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_principal_session_cap_holds_across_replicas() {
    let keys = KeyServer::start().await;
    let redis = RedisServer::start().await;
    let store = store(&redis, "t2:");
    let capped = |c: HttpConfig| c.session_store(store.clone()).max_sessions(100, 2);
    let (a, b) = (replica(&keys, capped).await, replica(&keys, capped).await);
    let alice = keys.token(RESOURCE, "x:use").build();
    let first = a.initialize(&alice).await;
    let second = b.initialize(&alice).await;
    let third = a.initialize(&alice).await;
    assert_eq!(
        b.probe(&alice, &first).await.status,
        StatusCode::NOT_FOUND,
        "the oldest ended when the third began"
    );
    for session in [&second, &third] {
        assert_eq!(probe_text(&b.probe(&alice, session).await), "true");
    }
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_counted_once_across_replicas() {
    let keys = KeyServer::start().await;
    let redis = RedisServer::start().await;
    let store = store(&redis, "t3:");
    // 4 at once, then one every 1000 s: nothing refills during the test.
    let limited = |c: HttpConfig| {
        c.stateless(true)
            .rate_limit_store(store.clone())
            .rate_per_principal(Some(Quota::new(4, 0.001)))
    };
    let (a, b) = (replica(&keys, limited).await, replica(&keys, limited).await);
    let alice = keys.token(RESOURCE, "x:use").build();
    let bob = keys.token(RESOURCE, "x:use").sub("bob").build();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    for (i, replica) in [&a, &b, &a, &b].into_iter().enumerate() {
        let answer = replica.post(&alice, None, &ping).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.body
        );
    }
    for replica in [&a, &b] {
        let refused = replica.post(&alice, None, &ping).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.retry_after.unwrap().parse().unwrap();
        assert!(wait > 900, "Retry-After {wait}");
    }
    assert_eq!(
        b.post(&bob, None, &ping).await.status,
        StatusCode::OK,
        "another principal has its own allowance"
    );

    // Per client address too: both replicas see 127.0.0.1, and count it once (its own keys,
    // apart from the principals').
    let per_address = |c: HttpConfig| {
        c.stateless(true)
            .rate_limit_store(store.clone())
            .rate_per_principal(None)
            .rate_per_address(Some(Quota::new(3, 0.001)))
    };
    let (c, d) = (
        replica(&keys, per_address).await,
        replica(&keys, per_address).await,
    );
    for (i, replica) in [&c, &d, &c].into_iter().enumerate() {
        let answer = replica.post(&bob, None, &ping).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.body
        );
    }
    for replica in [&d, &c] {
        let refused = replica.post(&alice, None, &ping).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "the address is spent, whoever asks"
        );
    }
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_a_503_for_sessions_and_a_local_limit_for_rates() {
    let keys = KeyServer::start().await;
    let redis = RedisServer::start().await;
    let store = store(&redis, "t4:");
    let a = replica(&keys, |c| {
        c.session_store(store.clone())
            .rate_limit_store(store.clone())
            .rate_per_principal(Some(Quota::new(3, 0.001)))
    })
    .await;
    let alice = keys.token(RESOURCE, "x:use").build();
    let session = a.initialize(&alice).await;
    assert_eq!(probe_text(&a.probe(&alice, &session).await), "true");
    redis.stop().await;

    let started = Instant::now();
    let unavailable = a.probe(&alice, &session).await;
    assert_eq!(
        unavailable.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        unavailable.body
    );
    assert_eq!(unavailable.retry_after.as_deref(), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the store's timeout, not hung: {:?}",
        started.elapsed()
    );
    // The rate limit falls back to this replica's own count (3 at once). The 2 requests taken
    // while Redis was up were counted there; locally the refused probe took the first, so 2
    // more pass and then the limit holds: an outage does not lift it.
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(a.post(&alice, None, &ping).await.status);
        }
        statuses
    };
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "without a session id the pings are refused (400), after the limit (429)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_while_draining_and_serving_goes_on_until_the_grace_ends() {
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Server::new(App)
        .unwrap()
        .http(
            HttpConfig::new(RESOURCE)
                .jwt(JwtConfig::new(keys.issuer(), RESOURCE))
                .allow_insecure_http(true)
                .stateless(true)
                .health_checks(true),
        )
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions::default()
        .readiness_grace(Duration::from_millis(1500))
        .shutdown_on(async {
            let _ = rx.await;
        });
    let served = tokio::spawn(serve_with(listener, router, options));
    // A new client each time: no kept-alive connection hides whether new ones are accepted.
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            reqwest::Client::new()
                .get(url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
        }
    };
    assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);

    tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let draining = get("/readyz").await.unwrap();
    assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        draining.json::<Value>().await.unwrap()["status"],
        "draining"
    );
    assert_eq!(
        get("/healthz").await.unwrap().status(),
        StatusCode::OK,
        "alive while draining"
    );
    let token = keys.token(RESOURCE, "x:use").build();
    let call = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::OK, "still serving in the grace");

    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the server stops after the grace")
        .unwrap()
        .unwrap();
    assert!(
        get("/healthz").await.is_err(),
        "no connection is accepted after the grace"
    );
}

/// Asks the user for a name (a 2026-07-28 input request).
#[mcp_tool(public)]
async fn ask_name(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx
        .elicit(
            "Name?",
            json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
        )
        .await?;
    Ok(format!(
        "hi {}",
        answer["content"]["name"].as_str().unwrap_or("?")
    ))
}

#[derive(McpServer)]
#[mcp(name = "asker", tools(ask_name))]
struct Asker;

/// A 2026-07-28 `tools/call` of `ask_name` through `server`'s dispatcher, from a client with
/// elicitation, with `params` (a `requestState`, `inputResponses`): its result, or its error
/// under `"error"` (see [`support::modern_dispatch`]).
async fn ask(server: &Server<Asker>, mut params: Value) -> Value {
    params["name"] = "ask_name".into();
    let capabilities = json!({ "elicitation": {} });
    support::modern_dispatch(server, &user("u"), "tools/call", params, capabilities).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_request_state_is_used_once_across_replicas() {
    let redis = RedisServer::start().await;
    let keys = scopegate::StateKeys::new([5; 32]);
    let replica = |prefix: &str| {
        let options = scopegate::ServerOptions::default()
            .state_keys(keys.clone())
            .replay_store(store(&redis, prefix));
        Server::with_options(Asker, options).unwrap()
    };
    let (a, b) = (replica("in:"), replica("in:"));
    let first = ask(&a, json!({})).await;
    assert_eq!(first["resultType"], "input_required", "{first}");
    let retry = json!({
        "requestState": first["requestState"],
        "inputResponses": { "input-1": { "action": "accept", "content": { "name": "Ada" } } },
    });
    // Sealed on one replica, answered on the other.
    let done = ask(&b, retry.clone()).await;
    assert_eq!(done["content"][0]["text"], "hi Ada", "{done}");
    // The same state on the first replica: already used.
    let replayed = ask(&a, retry.clone()).await;
    support::assert_error(&replayed, -32602, "already used");

    // Redis gone: a presented state cannot be checked, so it is refused (fail closed); a first
    // round, which presents none, still asks.
    let second = ask(&a, json!({})).await;
    drop(redis);
    let retry = json!({
        "requestState": second["requestState"],
        "inputResponses": { "input-1": { "action": "accept", "content": { "name": "Bo" } } },
    });
    let refused = ask(&b, retry).await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");
    assert_eq!(ask(&b, json!({})).await["resultType"], "input_required");
}

// ---- tasks and resource updates across replicas (a task store and an event bus in Redis) ----

/// Handlers of `long_job` dropped before they finished, by the `slot` each test gives.
static LONG_JOBS_DROPPED: [std::sync::atomic::AtomicUsize; 4] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 4];

/// Works for `millis`.
#[mcp_tool(scope = "x:use", task)]
async fn long_job(millis: u64, slot: usize) -> String {
    struct Dropped(bool, usize);
    impl Drop for Dropped {
        fn drop(&mut self) {
            if !self.0 {
                LONG_JOBS_DROPPED[self.1 % 4].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
    let mut guard = Dropped(false, slot);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    guard.0 = true;
    format!("worked {millis} ms")
}

/// Asks for approval from the task.
#[mcp_tool(scope = "x:use", task)]
async fn approval_job(ctx: RequestContext) -> Result<String, ToolError> {
    ctx.run_as_task().await;
    let answer = ctx
        .input("approve")
        .elicit("Approve?", json!({ "type": "object", "properties": {} }))
        .await?;
    Ok(format!("approval: {}", answer["action"]))
}

/// A board whose updates listeners hear.
#[mcp_resource(uri = "x://board", mime_type = "text/plain", public)]
fn board() -> &'static str {
    "board"
}

#[derive(McpServer)]
#[mcp(name = "fleet", tools(long_job, approval_job), resources(board))]
struct Fleet;

/// A replica sharing tasks and events through `redis` under `prefix`.
fn fleet(redis_url: &str, prefix: &str, lease: Duration) -> Server<Fleet> {
    let store = || {
        let mut options = RedisOptions::default();
        options.prefix = prefix.into();
        RedisStore::open_with(redis_url, options).unwrap()
    };
    let options = scopegate::ServerOptions::default()
        .task_store(store())
        .event_bus(store())
        .task_lease(lease);
    Server::with_options(Fleet, options).unwrap()
}

fn user(subject: &str) -> Principal {
    support::who(subject, "x:use")
}

/// A 2026-07-28 request from a client with elicitation and the tasks extension: its result,
/// or `{"error": …}` (see [`support::modern_dispatch`]).
async fn modern(server: &Server<Fleet>, who: &Principal, method: &str, params: Value) -> Value {
    let capabilities = json!({
        "elicitation": {},
        "extensions": { "io.modelcontextprotocol/tasks": {} },
    });
    support::modern_dispatch(server, who, method, params, capabilities).await
}

/// Polls `tasks/get` on `server` until `done` holds of the task.
async fn poll(server: &Server<Fleet>, task: &Value, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = modern(server, &user("u"), "tasks/get", json!({ "taskId": task })).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {task} never got there; last seen {last}");
}

/// Two replicas sharing tasks and events through `redis` under `prefix` (leases of 30 s), once
/// their subscriptions to the bus have settled.
async fn two_replicas(redis: &RedisServer, prefix: &str) -> (Server<Fleet>, Server<Fleet>) {
    let lease = Duration::from_secs(30);
    let (a, b) = (
        fleet(&redis.url, prefix, lease),
        fleet(&redis.url, prefix, lease),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    (a, b)
}

/// Starts `long_job` for a minute on `server`, as u, counting its drop in `slot`: the task it
/// created.
async fn start_long_job(server: &Server<Fleet>, slot: usize) -> Value {
    let params = json!({ "name": "long_job", "arguments": { "millis": 60_000, "slot": slot } });
    modern(server, &user("u"), "tools/call", params).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_replica_serves_a_task_and_hands_its_answers_to_the_runner() {
    let redis = RedisServer::start().await;
    let (a, b) = two_replicas(&redis, "t1:").await;
    let created = modern(
        &a,
        &user("u"),
        "tools/call",
        json!({ "name": "approval_job" }),
    )
    .await;
    assert_eq!(created["resultType"], "task", "{created}");
    let id = &created["taskId"];
    // Readable on the other replica at once, then with the runner's question.
    let seen = modern(&b, &user("u"), "tasks/get", json!({ "taskId": id })).await;
    assert_eq!(seen["taskId"], *id, "{seen}");
    let asking = poll(&b, id, |t| t["status"] == "input_required").await;
    assert_eq!(
        asking["inputRequests"]["approve"]["method"],
        "elicitation/create"
    );
    // Someone else sees nothing, on either replica.
    for replica in [&a, &b] {
        let other = modern(replica, &user("v"), "tasks/get", json!({ "taskId": id })).await;
        assert_eq!(other["error"]["code"], -32602);
    }
    // A malformed answer is refused where it lands.
    let bad = modern(
        &b,
        &user("u"),
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "approve": { "action": "maybe" } } }),
    )
    .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let ack = modern(
        &b,
        &user("u"),
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "approve": { "action": "accept", "content": {} } } }),
    )
    .await;
    assert_eq!(ack["resultType"], "complete", "{ack}");
    let done = poll(&b, id, |t| t["status"] == "completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "approval: \"accept\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_on_another_replica_drops_the_handler() {
    let redis = RedisServer::start().await;
    let (a, b) = two_replicas(&redis, "t2:").await;
    let created = start_long_job(&a, 1).await;
    let id = &created["taskId"];
    let ack = modern(&b, &user("u"), "tasks/cancel", json!({ "taskId": id })).await;
    assert_eq!(ack["resultType"], "complete", "{ack}");
    assert_eq!(
        modern(&b, &user("u"), "tasks/get", json!({ "taskId": id })).await["status"],
        "cancelled"
    );
    poll(&a, id, |t| t["status"] == "cancelled").await;
    for _ in 0..100 {
        if LONG_JOBS_DROPPED[1].load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        LONG_JOBS_DROPPED[1].load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the runner dropped the handler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_of_a_replica_that_stops_fail_when_its_lease_runs_out() {
    let redis = RedisServer::start().await;
    let lease = Duration::from_millis(400);
    // Replica A lives in a runtime of its own, which stops with its thread.
    let url = redis.url.clone();
    let id = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let a = fleet(&url, "t3:", lease);
            start_long_job(&a, 3).await["taskId"].clone()
        })
    })
    .join()
    .unwrap();
    let b = fleet(&redis.url, "t3:", lease);
    let failed = poll(&b, &id, |t| t["status"] != "working").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], -32603);
    assert!(failed.get("result").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_updates_reach_listeners_on_every_replica() {
    let redis = RedisServer::start().await;
    let (a, b) = two_replicas(&redis, "t4:").await;
    // A listener on replica B (over stdio, the simplest stream).
    let mut on_b = support::StdioPeer::start(b.clone(), user("u"));
    let listen = json!({ "jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen", "params": {
        "notifications": { "resourceSubscriptions": ["x://board"] },
        "_meta": support::modern_meta(),
    } });
    on_b.send(&listen).await;
    let ack = on_b.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    // Notified on replica A, which has no listener of its own.
    assert_eq!(a.notify_resource_updated("x://board"), 0);
    let update = on_b.next().await;
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(update["params"]["uri"], "x://board");
    on_b.close_input().await;
    on_b.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_status_stands_even_when_the_bus_loses_the_cancellation() {
    let redis = RedisServer::start().await;
    let lease = Duration::from_millis(300);
    let a = fleet(&redis.url, "t5:", lease);
    // B shares the task records but not the bus: its cancellation never reaches A by message.
    let store = |prefix: &str| {
        let mut options = RedisOptions::default();
        options.prefix = prefix.into();
        RedisStore::open_with(&redis.url, options).unwrap()
    };
    let b = Server::with_options(
        Fleet,
        scopegate::ServerOptions::default()
            .task_store(store("t5:"))
            .event_bus(store("elsewhere:"))
            .task_lease(lease),
    )
    .unwrap();
    let created = start_long_job(&a, 2).await;
    let id = &created["taskId"];
    let ack = modern(&b, &user("u"), "tasks/cancel", json!({ "taskId": id })).await;
    assert_eq!(ack["resultType"], "complete", "{ack}");
    // A's next renewal finds the final status, keeps it, and drops its handler.
    poll(&a, id, |t| t["status"] == "cancelled").await;
    tokio::time::sleep(Duration::from_millis(400)).await; // a few renewals later
    assert_eq!(
        modern(&b, &user("u"), "tasks/get", json!({ "taskId": id })).await["status"],
        "cancelled",
        "the runner's renewals do not overwrite it"
    );
    assert_eq!(
        LONG_JOBS_DROPPED[2].load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the runner dropped the handler"
    );
}

/// A replica of [`App`], stateless, accepting DPoP, spending proofs in `store`; its URL.
async fn dpop_replica(keys: &KeyServer, store: RedisStore) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = HttpConfig::new(RESOURCE)
        .jwt(JwtConfig::new(keys.issuer(), RESOURCE))
        .allow_insecure_http(true)
        .rate_per_address(None)
        .stateless(true)
        .dpop(scopegate::auth::DpopConfig::new());
    let options = scopegate::ServerOptions::default().replay_store(store);
    let router = Server::with_options(App, options)
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { serve_on(listener, router).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_proof_is_spent_once_across_replicas_and_refused_while_redis_is_down() {
    let keys = KeyServer::start().await;
    let redis = RedisServer::start().await;
    let a = dpop_replica(&keys, store(&redis, "dpop:")).await;
    let b = dpop_replica(&keys, store(&redis, "dpop:")).await;
    let key = support::TestKey::ec_p256();
    let token = keys
        .token(RESOURCE, "x:use")
        .claim("cnf", json!({ "jkt": support::jkt(&key) }))
        .build();
    let http = reqwest::Client::new();
    // The proof names the balancer's URL, as the client addressed it, whichever replica answers.
    let send = |url: &str, proof: String| {
        http.post(url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(10))
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"probe","arguments":{}}}"#)
            .send()
    };
    let proof = support::dpop_proof(&key, "POST", RESOURCE, Some(&token)).build();
    assert_eq!(
        send(&a, proof.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    let replayed = send(&b, proof).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let challenge = replayed.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");

    redis.stop().await;
    let started = Instant::now();
    let fresh = support::dpop_proof(&key, "POST", RESOURCE, Some(&token)).build();
    let down = send(&b, fresh).await.unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.headers()["retry-after"], "1");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the store's timeout, not hung: {:?}",
        started.elapsed()
    );
}
