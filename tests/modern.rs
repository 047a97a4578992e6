//! The 2026-07-28 revision served beside 2025-06-18 / 2025-11-25 by one server, the era chosen
//! per request: over HTTP (headers, statuses, no sessions) and through the dispatcher.

mod support;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use scopegate::{ListVisibility, ServerOptions};
use serde_json::{Value, json};
use support::KeyServer;

/// Echoes.
#[mcp_tool(public)]
async fn echo(text: String, ctx: RequestContext) -> String {
    ctx.log(scopegate::LogLevel::Info, None, "echoing");
    ctx.progress(1.0, Some(1.0), None);
    text
}

/// Reads a secret.
#[mcp_tool(scopes = ["vault:read", "vault:audit"])]
fn secret() -> String {
    "s3cr3t".into()
}

/// The readme.
#[mcp_resource(uri = "vault://readme", mime_type = "text/plain", public)]
fn readme() -> &'static str {
    "read me"
}

#[derive(McpServer)]
#[mcp(
    name = "vault",
    version = "2.0.0",
    instructions = "Ask nicely.",
    tools(echo, secret),
    resources(readme)
)]
struct Vault;

const V: &str = "2026-07-28";

fn meta() -> Value {
    support::modern_meta()
}

struct Env {
    url: String,
    http: reqwest::Client,
    keys: Option<KeyServer>,
}

async fn start(options: ServerOptions, auth: bool) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (config, keys) = if auth {
        let keys = KeyServer::start().await;
        (
            HttpConfig::new(&url).jwt(JwtConfig::new(keys.issuer(), &url)),
            Some(keys),
        )
    } else {
        (HttpConfig::new(&url).without_authorization(), None)
    };
    let router = Server::with_options(Vault, options)
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Env {
        url,
        http: reqwest::Client::new(),
        keys,
    }
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Env {
    /// A modern POST with the headers taken from the body, then `tweak`.
    async fn modern(
        &self,
        method: &str,
        params: Value,
        tweak: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Answer {
        let mut params = params;
        if params.get("_meta").is_none() {
            params["_meta"] = meta();
        }
        let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params});
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", V)
            .header("mcp-method", method);
        if let Some(name) = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
        {
            request = request.header("mcp-name", name);
        }
        self.send(tweak(request.body(body.to_string()))).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_results_carry_the_modern_fields() {
    let env = start(ServerOptions::default(), false).await;
    let r = env.modern("server/discover", json!({}), |r| r).await;
    assert_eq!(r.status, StatusCode::OK);
    let result = &r.body["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["supportedVersions"], json!([V]));
    assert_eq!(result["instructions"], "Ask nicely.");
    assert_eq!(result["cacheScope"], "public");
    assert!(result["ttlMs"].as_u64().is_some());
    assert_eq!(
        result["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    assert_eq!(
        result["capabilities"]["resources"]["subscribe"], true,
        "resource updates come through subscriptions/listen"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"],
        json!({"name":"vault","version":"2.0.0"})
    );
    assert!(
        r.headers.get("mcp-session-id").is_none(),
        "no sessions in 2026-07-28"
    );

    let r = env.modern("tools/list", json!({}), |r| r).await;
    assert_eq!(r.body["result"]["resultType"], "complete");
    assert_eq!(r.body["result"]["cacheScope"], "public");
    assert_eq!(r.body["result"]["tools"].as_array().unwrap().len(), 2);

    let r = env
        .modern(
            "tools/call",
            json!({"name":"echo","arguments":{"text":"hi"}}),
            |r| r,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let result = &r.body["result"];
    assert_eq!(result["content"][0]["text"], "hi");
    assert_eq!(result["resultType"], "complete");
    assert!(
        result.get("ttlMs").is_none(),
        "tool results are not cacheable"
    );

    let r = env
        .modern("resources/read", json!({"uri":"vault://readme"}), |r| r)
        .await;
    assert_eq!(r.body["result"]["cacheScope"], "private");
    assert_eq!(r.body["result"]["ttlMs"], 0);
    assert_eq!(r.body["result"]["contents"][0]["text"], "read me");
    // 2026-07-28 has no -32002: a missing resource is invalid params.
    let r = env
        .modern("resources/read", json!({"uri":"vault://nothing"}), |r| r)
        .await;
    assert_eq!(r.body["error"]["code"], -32602);
    assert_eq!(r.body["error"]["data"]["uri"], "vault://nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filtered_by_the_caller_are_private() {
    let env = start(
        ServerOptions::default().list_visibility(ListVisibility::Granted),
        false,
    )
    .await;
    let r = env.modern("tools/list", json!({}), |r| r).await;
    assert_eq!(r.body["result"]["cacheScope"], "private");
    assert_eq!(r.body["result"]["tools"].as_array().unwrap().len(), 1);
    // (This server has no prompts: `prompts/list` is not one of its methods.)
    for method in ["resources/list", "resources/templates/list"] {
        let r = env.modern(method, json!({}), |r| r).await;
        assert_eq!(
            r.body["result"]["cacheScope"], "private",
            "{method}: {}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_version_and_method_errors_have_their_statuses() {
    let env = start(ServerOptions::default(), false).await;
    let no_caps = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": V}});
    let r = env.modern("tools/list", no_caps, |r| r).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(-32602))
    );

    let old = json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let request = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2099-01-01")
        .header("mcp-method", "tools/list")
        .body(old.to_string());
    let r = env.send(request).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], -32022);
    assert_eq!(r.body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(r.body["id"], 1, "the error answers the request");
    assert_eq!(r.body["error"]["data"]["supported"][0], V);
    // Through the dispatcher (stdio has no header), the modern versions alone are offered.
    let server = Server::new(Vault).unwrap();
    let scopegate::Reply::Refused(response, scopegate::Refusal::BadRequest) = server
        .handle_bytes(old.to_string().as_bytes(), &Principal::anonymous())
        .await
    else {
        panic!("an unsupported version is refused");
    };
    let response: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(
        response["error"]["data"],
        json!({"supported": [V], "requested": "2099-01-01"})
    );

    for method in [
        "ping",
        "initialize",
        "logging/setLevel",
        "resources/subscribe",
        "no/such",
    ] {
        let r = env.modern(method, json!({}), |r| r).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(r.body["error"]["code"], -32601, "{method}");
    }
}

/// The `-32022` error names exactly the versions `server/discover` announces, whichever check
/// refuses the version (the HTTP header on a modern or a legacy POST, on a GET, or the `_meta`
/// through the dispatcher): a client that retries with any of them is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_version_names_the_versions_discover_announces() {
    let env = start(ServerOptions::default(), false).await;
    let discovered = env.modern("server/discover", json!({}), |r| r).await;
    let supported = discovered.body["result"]["supportedVersions"].clone();
    assert_eq!(supported, json!([V]), "{}", discovered.text);
    let expected = json!({"supported": supported, "requested": "2099-01-01"});

    let modern = json!({"jsonrpc":"2.0","id":7,"method":"server/discover","params":{"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let legacy = json!({"jsonrpc":"2.0","id":7,"method":"tools/list"});
    for body in [modern.clone(), legacy] {
        let request = env
            .http
            .post(&env.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2099-01-01")
            .header("mcp-method", body["method"].as_str().unwrap())
            .body(body.to_string());
        let r = env.send(request).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.body["id"], 7, "{body}: the error answers the request");
        assert_eq!(r.body["error"]["code"], -32022, "{body}");
        assert_eq!(r.body["error"]["data"], expected, "{body}");
    }

    let get = env
        .http
        .get(&env.url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2099-01-01");
    let r = env.send(get).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], -32022);
    assert_eq!(r.body["error"]["data"], expected);

    let server = Server::new(Vault).unwrap();
    let scopegate::Reply::Refused(response, scopegate::Refusal::BadRequest) = server
        .handle_bytes(modern.to_string().as_bytes(), &Principal::anonymous())
        .await
    else {
        panic!("an unsupported version is refused");
    };
    let response: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(response["error"]["data"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_must_match_the_body() {
    let env = start(ServerOptions::default(), false).await;
    let call = json!({"name":"echo","arguments":{"text":"x"}});
    type Tweak = Box<dyn FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "wrong Mcp-Name",
            Box::new(|r| r.header("mcp-name", "secret")),
        ),
        (
            "wrong Mcp-Method",
            Box::new(|r| r.header("mcp-method", "tools/list")),
        ),
        (
            "wrong version header",
            Box::new(|r| r.header("mcp-protocol-version", "2025-11-25")),
        ),
    ];
    for (case, tweak) in cases {
        // reqwest appends: a second value makes the header list differ from the body.
        let r = env.modern("tools/call", call.clone(), tweak).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{case}: {}", r.text);
        assert_eq!(r.body["error"]["code"], -32020, "{case}");
    }
    // Missing headers.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":meta()}});
    let bare = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", V)
        .body(body.to_string());
    let r = env.send(bare).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(-32020))
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mcp-Method")
    );
    // A name that is not plain ASCII travels base64-encoded.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"vault://readme","_meta":meta()}});
    let encoded = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", V)
        .header("mcp-method", "resources/read")
        .header("mcp-name", "=?base64?dmF1bHQ6Ly9yZWFkbWU=?=")
        .body(body.to_string());
    assert_eq!(env.send(encoded).await.status, StatusCode::OK);
    // A legacy body under a modern header is malformed.
    let legacy = env
        .http
        .post(&env.url)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", V)
        .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string());
    assert_eq!(env.send(legacy).await.status, StatusCode::BAD_REQUEST);
    // No standalone stream, no session to delete.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = env
            .send(
                env.http
                    .request(method.clone(), &env.url)
                    .header("mcp-protocol-version", V),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_messages_follow_the_request_log_level() {
    let env = start(ServerOptions::default(), false).await;
    let call = |meta: Value| json!({"name":"echo","arguments":{"text":"x"},"_meta":meta});
    // No level in _meta: no log messages, and no progress token: a plain JSON answer.
    let r = env.modern("tools/call", call(meta()), |r| r).await;
    assert_eq!(r.headers["content-type"], "application/json");
    let mut with_level = meta();
    with_level["io.modelcontextprotocol/logLevel"] = "debug".into();
    with_level["progressToken"] = "p1".into();
    let r = env.modern("tools/call", call(with_level), |r| r).await;
    assert_eq!(r.headers["x-accel-buffering"], "no");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        r.headers
    );
    let events: Vec<Value> = r
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events[0]["method"], "notifications/message");
    assert_eq!(events[1]["method"], "notifications/progress");
    assert_eq!(events[1]["params"]["progressToken"], "p1");
    assert_eq!(events[2]["result"]["resultType"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_eras_on_one_server_and_their_scope_challenges() {
    let env = start(ServerOptions::default(), true).await;
    let keys = env.keys.as_ref().unwrap();
    let token = keys.token(&env.url, "vault:read unrelated:scope").build();
    // Modern: the challenge names the operation's scopes, all of them, and nothing else.
    let r = env
        .modern("tools/call", json!({"name":"secret","arguments":{}}), |r| {
            r.bearer_auth(&token)
        })
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"scope="vault:audit vault:read""#),
        "{challenge}"
    );
    // Legacy, same server, same token: a session and the held-plus-needed challenge.
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = env
        .send(
            env.http
                .post(&env.url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(init.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["protocolVersion"], "2025-11-25");
    let session = r.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret","arguments":{}}});
    let r = env
        .send(
            env.http
                .post(&env.url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("mcp-session-id", session)
                .body(call.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["result"].get("resultType").is_none(),
        "legacy results carry no resultType"
    );
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"scope="vault:audit vault:read""#),
        "{challenge}"
    );
    // A modern request that may call the tool gets a modern result.
    let full = keys.token(&env.url, "vault:read vault:audit").build();
    let r = env
        .modern("tools/call", json!({"name":"secret","arguments":{}}), |r| {
            r.bearer_auth(&full)
        })
        .await;
    assert_eq!(r.body["result"]["content"][0]["text"], "s3cr3t");
    assert_eq!(r.body["result"]["resultType"], "complete");
}

#[tokio::test]
async fn the_dispatcher_chooses_the_era_per_request() {
    let server = Server::new(Vault).unwrap();
    let anyone = Principal::anonymous();
    let ask = |message: Value| {
        let server = server.clone();
        let anyone = anyone.clone();
        async move {
            match server
                .handle_bytes(message.to_string().as_bytes(), &anyone)
                .await
            {
                scopegate::Reply::Response(r) | scopegate::Reply::Refused(r, _) => {
                    serde_json::from_str::<Value>(&r.to_json()).unwrap()
                }
                other => panic!("{other:?}"),
            }
        }
    };
    let legacy = ask(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).await;
    assert!(legacy["result"].get("resultType").is_none());
    let modern =
        ask(json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":meta()}})).await;
    assert_eq!(modern["result"]["resultType"], "complete");
    // initialize never negotiates the modern revision.
    let init = ask(json!({"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":V,"capabilities":{},"clientInfo":{"name":"t","version":"0"}}})).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_sessions_hear_about_resource_updates_on_their_get_stream() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = Server::new(Vault).unwrap();
    let router = server
        .http(HttpConfig::new(&url).without_authorization())
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::new();
    let post = |session: Option<&str>, body: Value| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = post(None, init).await.unwrap();
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let r = post(
        Some(&session),
        json!({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"vault://readme"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["result"], json!({}));
    assert_eq!(
        server.notify_resource_updated("vault://readme"),
        0,
        "no stream open yet"
    );

    let mut stream = http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(server.notify_resource_updated("vault://readme"), 1);
    assert_eq!(server.notify_resource_updated("vault://other"), 0);
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["method"], "notifications/resources/updated");
    assert_eq!(event["params"]["uri"], "vault://readme");

    let r = post(
        Some(&session),
        json!({"jsonrpc":"2.0","id":2,"method":"resources/unsubscribe","params":{"uri":"vault://readme"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["result"], json!({}));
    assert_eq!(server.notify_resource_updated("vault://readme"), 0);
}

/// The tags of the `linger` calls whose handler was dropped.
static DROPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        DROPPED.lock().unwrap().push(std::mem::take(&mut self.0));
    }
}

/// Reports progress, then waits for ever.
#[mcp_tool(public)]
async fn linger(ctx: RequestContext, tag: String) -> String {
    let _guard = Dropped(tag);
    ctx.progress(0.0, None, None);
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    "unreachable".into()
}

#[derive(McpServer)]
#[mcp(name = "lingering", tools(linger))]
struct Lingering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_event_stream_cancels_the_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let router = Server::new(Lingering)
        .unwrap()
        .http(HttpConfig::new(&url).without_authorization())
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut meta = meta();
    meta["progressToken"] = "t".into();
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"linger","arguments":{"tag":"stream"},"_meta":meta}});
    let mut response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", V)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "linger")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("notifications/progress"));
    assert!(!DROPPED.lock().unwrap().iter().any(|t| t == "stream"));
    drop(response);
    let started = std::time::Instant::now();
    while !DROPPED.lock().unwrap().iter().any(|t| t == "stream") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the handler was not stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// ---- parameter headers (SEP-2243) -----------------------------------------------------------

/// How many times `execute_sql` ran.
static SQL_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs a query in a region.
#[mcp_tool(public)]
fn execute_sql(
    #[arg(header = "Region")] region: String,
    #[arg(header = "Shard")] shard: Option<i64>,
    #[arg(header = "Dry-Run")] dry_run: Option<bool>,
    query: String,
) -> String {
    SQL_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{region} {shard:?} {dry_run:?} {query}")
}

#[derive(McpServer)]
#[mcp(name = "sql", version = "1.0.0", tools(execute_sql, echo))]
struct Sql;

/// The `Sql` server on 127.0.0.1, without authorization, admitting browser origin `origin`.
async fn start_sql(origin: &str) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = HttpConfig::new(&url)
        .without_authorization()
        .allow_origin(origin);
    let router = Server::new(Sql).unwrap().http(config).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Env {
        url,
        http: reqwest::Client::new(),
        keys: None,
    }
}

/// Held by the tests that count `execute_sql`'s runs, so one does not see the other's.
static SQL_COUNTED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sql_runs() -> usize {
    SQL_RUNS.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_headers_must_match_the_body() {
    let _counted = SQL_COUNTED.lock().await;
    let env = start_sql("https://app.example").await;
    let call = |arguments: Value| json!({"name": "execute_sql", "arguments": arguments});
    type Tweak = Box<dyn FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder>;

    // Accepted: each header says what the body says (integers numerically, the non-ASCII value
    // base64-encoded, absent and `null` arguments without a header).
    let accepted: Vec<(&str, Value, Tweak)> = vec![
        (
            "plain values",
            json!({"region": "us-west1", "shard": 7, "dry_run": true, "query": "q"}),
            Box::new(|r| {
                r.header("Mcp-Param-Region", "us-west1")
                    .header("mcp-param-shard", "7")
                    .header("MCP-PARAM-DRY-RUN", "true")
            }),
        ),
        (
            "integer compared numerically",
            json!({"region": "eu", "shard": 42, "query": "q"}),
            Box::new(|r| {
                r.header("mcp-param-region", "eu")
                    .header("mcp-param-shard", "42.0")
            }),
        ),
        (
            "non-ASCII value in base64",
            json!({"region": "Zürich", "query": "q"}),
            Box::new(|r| r.header("mcp-param-region", "=?base64?WsO8cmljaA==?=")),
        ),
        (
            "null argument, no header",
            json!({"region": "eu", "shard": null, "query": "q"}),
            Box::new(|r| r.header("mcp-param-region", "eu")),
        ),
    ];
    for (case, arguments, tweak) in accepted {
        let before = sql_runs();
        let r = env.modern("tools/call", call(arguments), tweak).await;
        assert_eq!(r.status, StatusCode::OK, "{case}: {}", r.text);
        assert!(
            r.body["result"]["content"][0]["text"].is_string(),
            "{case}: {}",
            r.text
        );
        assert_eq!(sql_runs(), before + 1, "{case}: the tool ran");
    }

    // Refused with 400 and HeaderMismatch; the tool does not run.
    let refused: Vec<(&str, Value, Tweak, &str)> = vec![
        (
            "value differs",
            json!({"region": "eu", "query": "q"}),
            Box::new(|r| r.header("mcp-param-region", "us")),
            "Mcp-Param-Region header value 'us' does not match body value 'eu'",
        ),
        (
            "header missing",
            json!({"region": "eu", "query": "q"}),
            Box::new(|r| r),
            "Mcp-Param-Region header is required",
        ),
        (
            "header without its argument",
            json!({"region": "eu", "query": "q"}),
            Box::new(|r| {
                r.header("mcp-param-region", "eu")
                    .header("mcp-param-shard", "1")
            }),
            "Mcp-Param-Shard header is given but the body has no value",
        ),
        (
            "bad base64",
            json!({"region": "eu", "query": "q"}),
            Box::new(|r| r.header("mcp-param-region", "=?base64?%%%?=")),
            "not valid base64",
        ),
        (
            "base64 of another value",
            json!({"region": "eu", "query": "q"}),
            // "us"
            Box::new(|r| r.header("mcp-param-region", "=?base64?dXM=?=")),
            "does not match",
        ),
        (
            "boolean not in lowercase",
            json!({"region": "eu", "dry_run": true, "query": "q"}),
            Box::new(|r| {
                r.header("mcp-param-region", "eu")
                    .header("mcp-param-dry-run", "True")
            }),
            "Mcp-Param-Dry-Run header value 'True'",
        ),
        (
            "integer differs",
            json!({"region": "eu", "shard": 7, "query": "q"}),
            Box::new(|r| {
                r.header("mcp-param-region", "eu")
                    .header("mcp-param-shard", "8")
            }),
            "body value '7'",
        ),
        (
            "header given twice",
            json!({"region": "eu", "query": "q"}),
            Box::new(|r| {
                r.header("mcp-param-region", "eu")
                    .header("mcp-param-region", "eu")
            }),
            "more than once",
        ),
    ];
    for (case, arguments, tweak, message) in refused {
        let before = sql_runs();
        let r = env.modern("tools/call", call(arguments), tweak).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{case}: {}", r.text);
        assert_eq!(r.body["error"]["code"], -32020, "{case}: {}", r.text);
        assert_eq!(r.body["id"], 1, "{case}");
        let text = r.body["error"]["message"].as_str().unwrap();
        assert!(text.starts_with("Header mismatch: "), "{case}: {text}");
        assert!(text.contains(message), "{case}: {text}");
        assert_eq!(sql_runs(), before, "{case}: the tool did not run");
    }

    // A tool without header parameters ignores `Mcp-Param-*` headers altogether.
    let r = env
        .modern(
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
            |r| r.header("mcp-param-region", "anything"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["result"]["content"][0]["text"], "hi");

    // The schema carries the annotation.
    let r = env.modern("tools/list", json!({}), |r| r).await;
    let tools = r.body["result"]["tools"].as_array().unwrap();
    let sql = tools.iter().find(|t| t["name"] == "execute_sql").unwrap();
    assert_eq!(
        sql["inputSchema"]["properties"]["region"]["x-mcp-header"],
        "Region"
    );
    assert!(
        sql["inputSchema"]["properties"]["query"]
            .get("x-mcp-header")
            .is_none()
    );
    // An integer header parameter is bounded to JavaScript's safe integers (SEP-2243), in the
    // schema and when called.
    let shard = &sql["inputSchema"]["properties"]["shard"];
    assert_eq!(shard["minimum"], -9_007_199_254_740_991_i64, "{shard}");
    assert_eq!(shard["maximum"], 9_007_199_254_740_991_i64, "{shard}");
    for (shard, header) in [
        (json!(9_007_199_254_740_992_i64), "9007199254740992"),
        (json!(-9_007_199_254_740_992_i64), "-9007199254740992"),
        (json!(u64::MAX), "18446744073709551615"),
    ] {
        let before = sql_runs();
        let r = env
            .modern(
                "tools/call",
                json!({"name": "execute_sql",
                       "arguments": {"region": "eu", "shard": shard, "query": "q"}}),
                |r| {
                    r.header("mcp-param-region", "eu")
                        .header("mcp-param-shard", header)
                },
            )
            .await;
        assert_eq!(r.body["result"]["isError"], true, "{shard}: {}", r.text);
        assert!(
            r.text
                .contains("outside the integers a header parameter may carry"),
            "{}",
            r.text
        );
        assert_eq!(sql_runs(), before, "{shard}: the tool did not run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_requests_are_not_checked_against_parameter_headers() {
    let _counted = SQL_COUNTED.lock().await;
    let env = start_sql("https://app.example").await;
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = env
        .send(
            env.http
                .post(&env.url)
                .header("content-type", "application/json")
                .body(init.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let session = r.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_sql","arguments":{"region":"eu","query":"q"}}});
    let before = sql_runs();
    let r = env
        .send(
            env.http
                .post(&env.url)
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-11-25")
                .header("mcp-session-id", session)
                .header("mcp-param-region", "us")
                .body(call.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["result"]["content"][0]["text"], "eu None None q");
    assert_eq!(sql_runs(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_admits_the_declared_parameter_headers() {
    let env = start_sql("https://app.example").await;
    let preflight = |headers: &'static str| {
        env.http
            .request(reqwest::Method::OPTIONS, &env.url)
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
    };
    let r = env
        .send(preflight(
            "content-type,mcp-method,mcp-name,mcp-param-region,mcp-param-shard,mcp-param-dry-run",
        ))
        .await;
    assert!(r.status.is_success(), "{}", r.status);
    let allowed = r.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["mcp-param-region", "mcp-param-shard", "mcp-param-dry-run"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert!(!allowed.contains("mcp-param-other"), "{allowed}");
}
