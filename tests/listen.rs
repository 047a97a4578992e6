//! `subscriptions/listen` (2026-07-28): over HTTP a long-lived event stream per request — the
//! acknowledgement first, then the updates the client asked for and may read, each tagged with
//! the subscription id — bounded per principal, freed when closed, ended by the server's
//! shutdown with a closing result and by the token's expiry without one; over stdio the same
//! messages on stdout. Legacy subscriptions are left as they were.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::{HttpConfig, ServeOptions};
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};
use support::KeyServer;

/// Anyone may read the readme.
#[mcp_resource(uri = "vault://readme", mime_type = "text/plain", public)]
fn readme() -> &'static str {
    "read me"
}

/// Only readers of the vault may read the ledger.
#[mcp_resource(uri = "vault://ledger", mime_type = "text/plain", scopes = ["vault:read"])]
fn ledger() -> &'static str {
    "1 + 1 = 2"
}

/// Echoes.
#[mcp_tool(public)]
fn echo(text: String) -> String {
    text
}

#[derive(McpServer)]
#[mcp(
    name = "vault",
    version = "2.0.0",
    tools(echo),
    resources(readme, ledger)
)]
struct Vault;

const V: &str = "2026-07-28";
const README: &str = "vault://readme";
const LEDGER: &str = "vault://ledger";
/// How long a test waits for something that must happen.
const PATIENCE: Duration = Duration::from_secs(5);

struct Env {
    url: String,
    http: reqwest::Client,
    keys: KeyServer,
    server: Server<Vault>,
}

/// A protected server (tokens from a local issuer), its configuration tweaked by `config`.
async fn start(config: impl FnOnce(HttpConfig) -> HttpConfig) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let keys = KeyServer::start().await;
    let server = Server::new(Vault).unwrap();
    let router = server
        .http(config(
            HttpConfig::new(&url).jwt(JwtConfig::new(keys.issuer(), &url)),
        ))
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Env {
        url,
        http: reqwest::Client::new(),
        keys,
        server,
    }
}

impl Env {
    /// A token for subject `sub` holding `scopes`.
    fn token(&self, sub: &str, scopes: &str) -> String {
        self.keys.token(&self.url, scopes).sub(sub).build()
    }

    /// POSTs `subscriptions/listen` with request id `id` and `notifications` as the filter.
    async fn listen(&self, token: &str, id: Value, notifications: Value) -> reqwest::Response {
        listen_on(&self.http, &self.url, token, id, notifications).await
    }
}

fn listen_body(id: Value, notifications: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "subscriptions/listen",
        "params": { "_meta": support::modern_meta(), "notifications": notifications },
    })
}

async fn listen_on(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: Value,
    notifications: Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", V)
        .header("mcp-method", "subscriptions/listen")
        .body(listen_body(id, notifications).to_string())
        .send()
        .await
        .unwrap()
}

/// The messages of an open event stream, one at a time.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens the stream of a listen request answered 200 with an event stream.
    fn of(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message, or `None` when the stream ended; fails the test past [`PATIENCE`].
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(PATIENCE, self.read())
            .await
            .expect("the stream went quiet")
    }

    async fn read(&mut self) -> Option<Value> {
        loop {
            // One event per blank line; comments (keep-alives) and the event name are skipped.
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() {
                    return Some(serde_json::from_str(&data).unwrap());
                }
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Waits until `condition` holds, failing the test past [`PATIENCE`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_ack(message: &Value, id: &Value, notifications: &Value) {
    assert_eq!(
        message["method"],
        "notifications/subscriptions/acknowledged"
    );
    assert_eq!(
        message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], *id,
        "{message}"
    );
    assert_eq!(
        message["params"]["notifications"], *notifications,
        "{message}"
    );
    assert!(message.get("id").is_none(), "a notification: {message}");
}

fn assert_updated(message: &Value, id: &Value, uri: &str) {
    assert_eq!(
        message["method"], "notifications/resources/updated",
        "{message}"
    );
    assert_eq!(message["params"]["uri"], uri, "{message}");
    assert_eq!(
        message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], *id,
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_reach_only_listeners_that_asked_and_may_read_each_tagged_after_the_ack() {
    let env = start(|c| c).await;
    let reader = env.token("reader", "vault:read");
    let stranger = env.token("stranger", "unrelated:scope");
    let everything = json!({
        "toolsListChanged": true,
        "promptsListChanged": true,
        "resourcesListChanged": true,
        "resourceSubscriptions": [README, LEDGER, "vault://nothing-here"],
    });

    let (a, b) = (json!("reader-1"), json!(7));
    let mut reader_events = Events::of(env.listen(&reader, a.clone(), everything.clone()).await);
    let mut stranger_events = Events::of(env.listen(&stranger, b.clone(), everything).await);
    // The acknowledgements come first, and agree to what the server can honour: the resources
    // each caller may read (an unknown URI and an unreadable one are left out alike), and no
    // list changes (the lists are fixed for the server's lifetime).
    assert_ack(
        &reader_events.next().await.unwrap(),
        &a,
        &json!({"resourceSubscriptions": [README, LEDGER]}),
    );
    assert_ack(
        &stranger_events.next().await.unwrap(),
        &b,
        &json!({"resourceSubscriptions": [README]}),
    );

    assert_eq!(
        env.server.notify_resource_updated(LEDGER),
        1,
        "only the reader hears of the ledger"
    );
    assert_updated(&reader_events.next().await.unwrap(), &a, LEDGER);
    assert_eq!(env.server.notify_resource_updated(README), 2);
    assert_updated(&reader_events.next().await.unwrap(), &a, README);
    // The stranger's first update is the readme's: the ledger's never reached its stream.
    assert_updated(&stranger_events.next().await.unwrap(), &b, README);
    assert_eq!(
        env.server.notify_resource_updated("vault://nothing-here"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_is_honoured() {
    let env = start(|c| c).await;
    let reader = env.token("reader", "vault:read");
    // List changes only: nothing this server sends, so nothing is agreed to.
    let mut lists = Events::of(
        env.listen(
            &reader,
            json!(1),
            json!({"toolsListChanged": true, "promptsListChanged": true}),
        )
        .await,
    );
    assert_ack(&lists.next().await.unwrap(), &json!(1), &json!({}));
    assert_eq!(
        env.server.notify_resource_updated(README),
        0,
        "a stream that asked for no resource hears of none"
    );

    // The readme only (spelt in capitals: it is matched in its normal form, and
    // acknowledged as the client spelt it), though the caller may read the ledger too.
    let spelt = "VAULT://README";
    let mut readme = Events::of(
        env.listen(
            &reader,
            json!(2),
            json!({"resourceSubscriptions": [spelt, README]}),
        )
        .await,
    );
    assert_ack(
        &readme.next().await.unwrap(),
        &json!(2),
        &json!({"resourceSubscriptions": [spelt]}),
    );
    assert_eq!(env.server.notify_resource_updated(LEDGER), 0);
    assert_eq!(env.server.notify_resource_updated(README), 1);
    let update = readme.next().await.unwrap();
    assert_updated(&update, &json!(2), README);
    drop(lists);

    // The filter is required, and a listen request that is refused is answered as plain JSON.
    let refused = env.listen(&reader, json!(3), Value::Null).await;
    assert_eq!(refused.status(), StatusCode::OK);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32602, "{body}");
    // A client that cannot take an event stream is told so.
    let no_stream = env
        .http
        .post(&env.url)
        .bearer_auth(&reader)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", V)
        .header("mcp-method", "subscriptions/listen")
        .body(listen_body(json!(4), json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(no_stream.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_bounded_per_principal_and_closing_one_frees_it() {
    let env = start(|c| c.max_listen_streams(100, 1)).await;
    let reader = env.token("reader", "vault:read");
    let readme = json!({"resourceSubscriptions": [README]});
    let mut first = Events::of(env.listen(&reader, json!(1), readme.clone()).await);
    first.next().await.unwrap();
    assert_eq!(env.server.notify_resource_updated(README), 1);

    let second = env.listen(&reader, json!(2), readme.clone()).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().contains_key("retry-after"));
    // Another principal has its own bound.
    let other = env.token("other", "vault:read");
    let mut others = Events::of(env.listen(&other, json!(1), readme.clone()).await);
    others.next().await.unwrap();
    assert_eq!(env.server.notify_resource_updated(README), 2);
    drop(others);

    // Closed by the client: the subscription is gone, and its place is free again.
    drop(first);
    let server = env.server.clone();
    eventually("the closed streams are unregistered", || {
        server.notify_resource_updated(README) == 0
    })
    .await;
    let mut again = Events::of(env.listen(&reader, json!(3), readme).await);
    again.next().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_open_subscriptions_and_does_not_hang() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let keys = KeyServer::start().await;
    let config = HttpConfig::new(&url).jwt(JwtConfig::new(keys.issuer(), &url));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The drain would wait this long for a stream that never ends.
    let options = ServeOptions::default()
        .drain_timeout(Duration::from_secs(60))
        .shutdown_on(async {
            let _ = stopped.await;
        });
    let serving = tokio::spawn(Vault.serve_http_with(listener, config, options));
    let token = keys.token(&url, "vault:read").sub("reader").build();
    let http = reqwest::Client::new();
    let mut events = Events::of(
        listen_on(
            &http,
            &url,
            &token,
            json!(42),
            json!({"resourceSubscriptions": [README]}),
        )
        .await,
    );
    events.next().await.unwrap();

    let began = std::time::Instant::now();
    stop.send(()).unwrap();
    // A graceful end: the listen request is answered, tagged, and the stream ends.
    let closing = events.next().await.unwrap();
    assert_eq!(closing["id"], 42, "{closing}");
    assert_eq!(closing["result"]["resultType"], "complete", "{closing}");
    assert_eq!(
        closing["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        42
    );
    assert!(events.next().await.is_none(), "the stream ended");
    tokio::time::timeout(PATIENCE, serving)
        .await
        .expect("the shutdown waited on the stream")
        .unwrap()
        .unwrap();
    assert!(began.elapsed() < PATIENCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_with_its_token_without_a_closing_result() {
    let env = start(|c| c).await;
    let short = env
        .keys
        .token(&env.url, "vault:read")
        .sub("reader")
        .exp(support::now() + 2)
        .build();
    let mut events = Events::of(
        env.listen(&short, json!(1), json!({"resourceSubscriptions": [README]}))
            .await,
    );
    events.next().await.unwrap();
    // Ended abruptly, so that the client opens another with a fresh token.
    assert!(events.next().await.is_none());
    let server = env.server.clone();
    eventually("the expired stream is unregistered", || {
        server.notify_resource_updated(README) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_notifications_go_to_stdout_until_cancelled_or_stdin_closes() {
    let server = Server::new(Vault).unwrap();
    let principal = Principal::builder()
        .scopes(["vault:read"].into_iter().collect::<ScopeSet>())
        .build();
    let mut peer = support::StdioPeer::start(server.clone(), principal);

    peer.send(&listen_body(
        json!(1),
        json!({"resourceSubscriptions": [LEDGER]}),
    ))
    .await;
    assert_ack(
        &peer.next().await,
        &json!(1),
        &json!({"resourceSubscriptions": [LEDGER]}),
    );
    peer.send(&listen_body(
        json!("two"),
        json!({"resourceSubscriptions": [README]}),
    ))
    .await;
    assert_ack(
        &peer.next().await,
        &json!("two"),
        &json!({"resourceSubscriptions": [README]}),
    );
    assert_eq!(server.notify_resource_updated(LEDGER), 1);
    assert_updated(&peer.next().await, &json!(1), LEDGER);

    // Cancelled by the client: no more updates, and no answer.
    let cancel =
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}});
    peer.send(&cancel).await;
    // Until the cancellation is read, updates still go out: each is counted, and must arrive.
    let (watched, mut before) = (server.clone(), 0);
    eventually("the cancelled subscription is unregistered", || {
        let told = watched.notify_resource_updated(LEDGER);
        before += told;
        told == 0
    })
    .await;
    assert_eq!(server.notify_resource_updated(README), 1);
    for _ in 0..before {
        assert_updated(&peer.next().await, &json!(1), LEDGER);
    }
    assert_updated(&peer.next().await, &json!("two"), README);

    // stdin closed: the subscription still open is answered, and the transport returns.
    peer.close_input().await;
    let closing = peer.next().await;
    assert_eq!(closing["id"], "two", "{closing}");
    assert_eq!(closing["result"]["resultType"], "complete", "{closing}");
    assert!(peer.read().await.is_none(), "nothing for the cancelled one");
    peer.finished().await.unwrap();
}

#[tokio::test]
async fn legacy_requests_do_not_listen_and_keep_their_subscriptions() {
    let server = Server::new(Vault).unwrap();
    let anyone = Principal::anonymous();
    let ask = async |message: Value| match server
        .handle_bytes(message.to_string().as_bytes(), &anyone)
        .await
    {
        Reply::Response(r) => serde_json::from_str::<Value>(&r.to_json()).unwrap(),
        other => panic!("{other:?}"),
    };
    let listen = ask(json!({"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{}}})).await;
    assert_eq!(listen["error"]["code"], -32601, "{listen}");
    let init = ask(json!({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})).await;
    assert_eq!(
        init["result"]["capabilities"]["resources"],
        json!({"listChanged": false, "subscribe": true})
    );
    // 2026-07-28 announces the same: resource updates through `subscriptions/listen`, no list
    // changes.
    let discover = ask(json!({"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta": support::modern_meta()}})).await;
    let capabilities = &discover["result"]["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"listChanged": false, "subscribe": true})
    );
    assert_eq!(capabilities["tools"], json!({"listChanged": false}));
    // Without a transport to carry its stream, a listen request is refused at once.
    let direct = ask(json!({"jsonrpc":"2.0","id":4,"method":"subscriptions/listen","params":{"_meta": support::modern_meta(),"notifications":{}}})).await;
    assert_eq!(direct["error"]["code"], -32600, "{direct}");
}
