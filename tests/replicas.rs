//! Replicas behind a load balancer (issue #8), with real clients: three `notes` replicas
//! (`--resource` naming the balancer's URL) run behind nginx (round robin, an `X-Upstream`
//! response header naming the replica that answered), with oidc-provider as the authorization
//! server; the clients go through nginx (`tests/e2e/replicas.mjs`).
//!
//! - Stateless (`--stateless`): stateless mode and the 2026-07-28 protocol keep no state between
//!   requests, so any replica can answer any request. The TypeScript SDK 1.32 with OAuth, then
//!   the SDK v2 pinned to 2026-07-28 with the same token: every call succeeds whichever replica
//!   answers it, and every denial is the same 403 challenge whichever replica answers it.
//! - Sessions in Redis (`--redis URL`, one redis-server started by the test): the SDK 1.32 keeps
//!   the `Mcp-Session-Id` one replica issued and every replica serves it; the session stays its
//!   owner's (subject and client) on every replica, and once ended it is 404 on every replica.
//!
//! Needs nginx (`apt-get install nginx-light`; `$SCOPEGATE_E2E_NGINX` names another binary),
//! redis-server for the second test (`apt-get install redis-server`; `$SCOPEGATE_E2E_REDIS`) and
//! the Node packages of `tests/e2e` (`npm ci --prefix tests/e2e`). Without them the tests fail,
//! saying so; they never skip. `tests/e2e/README.md` tells how to run each piece by hand.
//!
//! Every process binds 127.0.0.1, is killed when its handle drops, and every wait has a timeout.

#[path = "support/e2e.rs"]
mod e2e;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use e2e::{
    AuthorizationServer, McpServer, OIDC_TEST_USER, PORT_ATTEMPTS, Process, RedisServer,
    START_TIMEOUT, free_port, node_script,
};

/// How many replicas run behind nginx.
const REPLICAS: usize = 3;
/// The response header nginx names the answering replica in (`$upstream_addr`).
const UPSTREAM_HEADER: &str = "x-upstream";
/// The second subject of the session test (oidc.mjs logs in whom `login_hint` names).
const OTHER_USER: &str = "e2e-other-user";

// ---- nginx --------------------------------------------------------------------------------------

/// The nginx binary: `$SCOPEGATE_E2E_NGINX`, else Debian's `/usr/sbin/nginx`, else `nginx` on
/// PATH; it must run, or the test fails saying how to install it.
fn nginx_binary() -> &'static Path {
    static NGINX: OnceLock<PathBuf> = OnceLock::new();
    NGINX.get_or_init(|| {
        e2e::system_binary(
            "SCOPEGATE_E2E_NGINX",
            "/usr/sbin/nginx",
            "nginx",
            "-v",
            "nginx-light",
            "the replica test needs nginx as its load balancer",
        )
    })
}

/// nginx.conf: nginx unprivileged, in the foreground, every file under its prefix directory,
/// round robin over `upstreams` on `127.0.0.1:port`.
fn nginx_conf(port: u16, upstreams: &[String]) -> String {
    let servers: String = upstreams
        .iter()
        .map(|addr| format!("        server {addr};\n"))
        .collect();
    format!(
        r#"# The load balancer of tests/replicas.rs. Paths are relative to the prefix (nginx -p).
daemon off;
master_process off;  # one process, killed with the test's handle
worker_processes 1;
pid nginx.pid;
error_log error.log notice;

events {{
    worker_connections 128;
}}

http {{
    # Temporary files under the prefix (the package's are in /var/lib/nginx, root's).
    client_body_temp_path body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    log_format upstream '$remote_addr "$request" $status from $upstream_addr';
    access_log access.log upstream;

    # Round robin (nginx's default) over the replicas, keeping connections to them open.
    upstream replicas {{
{servers}        keepalive 8;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;            # upstream keepalive needs HTTP/1.1
            proxy_set_header Connection "";    # and no `Connection: close`
            proxy_set_header Host $http_host;  # the client's Host (a loopback one, accepted)
            # The client's address for the replicas' per-address limit (`--trusted-proxy`).
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;               # event streams pass as they are written
            # Which replica answered, for the client to record.
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"#
    )
}

/// nginx in front of the replicas. Dropping it kills it and removes its directory.
struct Nginx {
    process: Process,
    prefix: PathBuf,
}

impl Nginx {
    /// Starts nginx on `127.0.0.1:port` in front of `upstreams` and waits until a request
    /// through it reaches a replica. `Err` (with the logs) when the port was taken meanwhile;
    /// any other failure panics.
    async fn start(port: u16, upstreams: &[String]) -> Result<Self, String> {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let mut command = Command::new(nginx_binary());
        let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "replicas-nginx-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&prefix).expect("nginx prefix directory");
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(port, upstreams)).expect("nginx.conf written");
        command
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(prefix.join("error.log"));
        let mut nginx = Self {
            process: Process::spawn("nginx", command),
            prefix,
        };

        let probe = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            // Our nginx answers with the header; anything else on the port does not.
            let probed = http().get(&probe).timeout(Duration::from_secs(2)).send();
            if let Ok(response) = probed.await
                && response.headers().contains_key(UPSTREAM_HEADER)
            {
                return Ok(nginx);
            }
            if let Some(status) = nginx.process.exited().await {
                let log = nginx.log();
                if log.contains("Address already in use") {
                    return Err(log);
                }
                panic!("nginx exited ({status})\n{log}");
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "nginx did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}\n{}",
                    nginx.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its output and its error and access logs, for failure messages.
    fn log(&self) -> String {
        let mut log = self.process.log();
        for file in ["error.log", "access.log"] {
            let text = std::fs::read_to_string(self.prefix.join(file)).unwrap_or_default();
            log.push_str(&format!("---- nginx {file}\n{text}"));
        }
        log
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.process.kill_group();
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// An HTTP client for loopback: no proxy from the environment, short timeouts.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

// ---- the stack: oidc-provider, the replicas, nginx ----------------------------------------------

/// How the replicas serve a client wherever nginx sends its requests.
enum Sharing {
    /// `--stateless`: no sessions, nothing to share.
    Stateless,
    /// `--redis URL`: legacy sessions (and rate limits) in one redis-server.
    Redis,
}

/// One `notes` replica: its process, and the address it listens on (as nginx names it).
struct Replica {
    server: McpServer,
    addr: String,
}

/// oidc-provider, [`REPLICAS`] `notes` replicas whose resource is nginx's URL (stateless, or
/// sharing a redis-server), and nginx in front of them.
struct Balanced {
    oidc: AuthorizationServer,
    redis: Option<RedisServer>,
    replicas: Vec<Replica>,
    nginx: Nginx,
    /// The MCP endpoint through nginx: the resource every replica announces.
    url: String,
}

impl Balanced {
    async fn start(sharing: Sharing) -> Self {
        nginx_binary(); // fail before starting anything when nginx is missing
        let redis = match sharing {
            Sharing::Stateless => None,
            Sharing::Redis => Some(RedisServer::start().await),
        };
        let sharing_args = match &redis {
            None => vec!["--stateless"],
            Some(redis) => vec!["--redis", redis.url.as_str()],
        };
        let oidc = AuthorizationServer::start().await;
        // The replicas must know nginx's URL before nginx knows theirs: pick nginx's port first,
        // and start over on another one if it is taken before nginx binds it.
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}/mcp");
            let mut replicas = Vec::new();
            for n in 1..=REPLICAS {
                let mut args = vec![
                    "--http",
                    "127.0.0.1:0",
                    "--issuer",
                    &oidc.issuer,
                    "--resource",
                    &url,
                    // nginx, whose `X-Forwarded-For` then names the client.
                    "--trusted-proxy",
                    "127.0.0.1/32",
                ];
                args.extend(&sharing_args);
                let mut server = McpServer::start_as(&format!("notes-{n}"), "notes", &args).await;
                assert_eq!(server.url, url, "the replica announces nginx's URL");
                let addr = server.process.wait_for("listening on: ").await;
                replicas.push(Replica { server, addr });
            }
            let upstreams: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
            match Nginx::start(port, &upstreams).await {
                Ok(nginx) => {
                    return Self {
                        oidc,
                        redis,
                        replicas,
                        nginx,
                        url,
                    };
                }
                Err(log) if attempt < PORT_ATTEMPTS => {
                    eprintln!("port {port} was taken before nginx bound it; another port\n{log}");
                }
                Err(log) => panic!("nginx found no free port in {PORT_ATTEMPTS} tries\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// The replicas' addresses.
    fn upstreams(&self) -> BTreeSet<&str> {
        self.replicas.iter().map(|r| r.addr.as_str()).collect()
    }

    /// Where the metadata is, through nginx (RFC 9728 §3.1).
    fn metadata_url(&self) -> String {
        self.url
            .replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
    }

    fn logs(&self) -> String {
        let mut logs = self.oidc.process.log();
        if let Some(redis) = &self.redis {
            logs.push_str(&redis.process.log());
        }
        for replica in &self.replicas {
            logs.push_str(&replica.server.process.log());
        }
        logs.push_str(&self.nginx.log());
        logs
    }
}

// ---- assertions ---------------------------------------------------------------------------------

/// `records[*].upstream`, each checked to be one of the replicas.
fn upstreams_of<'a>(stack: &Balanced, records: &'a [Value], what: &str) -> Vec<&'a str> {
    let known = stack.upstreams();
    records
        .iter()
        .map(|record| {
            let upstream = record["upstream"].as_str().unwrap_or_default();
            assert!(
                known.contains(upstream),
                "{what}: {record} came from {upstream:?}, not one of the replicas {known:?}"
            );
            upstream
        })
        .collect()
}

/// Every call succeeded, and the calls landed on at least two replicas.
fn assert_calls_succeed(stack: &Balanced, calls: &Value, count: usize, what: &str) {
    let calls = calls.as_array().expect("calls");
    assert_eq!(calls.len(), count, "{what}: {calls:?}");
    for call in calls {
        assert_eq!(call["status"], 200, "{what}: {call}");
        match call["tool"].as_str() {
            Some("whoami") => assert_eq!(
                call["text"],
                format!("subject: {OIDC_TEST_USER}; scopes: [notes:read]"),
                "{what}: {call}"
            ),
            Some("list_notes") => {
                assert_eq!(
                    call["structuredContent"],
                    serde_json::json!({ "notes": [] }),
                    "{what}: {call}"
                );
            }
            _ => panic!("{what}: an unexpected call {call}"),
        }
    }
    let landed: BTreeSet<&str> = upstreams_of(stack, calls, what).into_iter().collect();
    assert!(landed.len() >= 2, "{what}: every call landed on {landed:?}");
    eprintln!("{what}: {} calls answered by {landed:?}", calls.len());
}

/// Every denial is a 403 `insufficient_scope` challenge naming `scope` and the metadata through
/// nginx, at least two replicas denied, and every replica's challenge is the same header value.
fn assert_same_denials(stack: &Balanced, denials: &Value, scope: &str, what: &str) {
    let denials = denials.as_array().expect("denials");
    assert!(denials.len() >= 4, "{what}: {denials:?}");
    let first = denials[0]["wwwAuthenticate"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no challenge in {}", denials[0]));
    for part in [
        r#"error="insufficient_scope""#.to_owned(),
        format!(r#"scope="{scope}""#),
        format!(r#"resource_metadata="{}""#, stack.metadata_url()),
    ] {
        assert!(first.contains(&part), "{what}: {first} lacks {part}");
    }
    for denial in denials {
        assert_eq!(denial["status"], 403, "{what}: {denial}");
        assert_eq!(denial["wwwAuthenticate"], first, "{what}: {denial}");
    }
    let denied: BTreeSet<&str> = upstreams_of(stack, denials, what).into_iter().collect();
    assert!(
        denied.len() >= 2,
        "{what}: every denial came from {denied:?}"
    );
    eprintln!("{what}: {} denials from {denied:?}: {first}", denials.len());
}

// ---- the test -----------------------------------------------------------------------------------

#[tokio::test]
async fn stateless_replicas_behind_nginx_answer_real_clients_alike() {
    let stack = Balanced::start(Sharing::Stateless).await;

    // The metadata through nginx names nginx's URL (what tokens are issued for), the same from
    // every replica.
    let mut documents = Vec::new();
    for _ in 0..2 * REPLICAS {
        let response = http()
            .get(stack.metadata_url())
            .send()
            .await
            .expect("the metadata through nginx");
        assert_eq!(response.status(), 200);
        let upstream = response.headers()[UPSTREAM_HEADER]
            .to_str()
            .expect("an ASCII X-Upstream")
            .to_owned();
        let document: Value = response.json().await.expect("metadata JSON");
        documents.push(serde_json::json!({ "upstream": upstream, "document": document }));
    }
    let answered: BTreeSet<&str> = upstreams_of(&stack, &documents, "metadata")
        .into_iter()
        .collect();
    assert!(answered.len() >= 2, "the metadata came from {answered:?}");
    let document = &documents[0]["document"];
    assert_eq!(document["resource"], stack.url, "{document}");
    assert_eq!(
        document["authorization_servers"],
        serde_json::json!([stack.oidc.issuer]),
        "{document}"
    );
    for other in &documents {
        assert_eq!(&other["document"], document, "{other}");
    }

    let summary = node_script("replicas.mjs", &[&stack.url], || stack.logs()).await;

    // The SDK 1.32, through the OAuth flow: no session, a token for nginx's URL, and the calls.
    assert_eq!(summary["sessionId"], Value::Null);
    let token = &summary["token"];
    assert_eq!(token["typ"], "at+jwt", "{token}");
    assert_eq!(token["aud"], stack.url, "{token}");
    assert_eq!(token["token_scope"], "notes:read", "{token}");
    assert_calls_succeed(&stack, &summary["calls"], 12, "SDK 1.32 calls");
    assert_eq!(
        summary["upstreams"],
        summary["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["upstream"].clone())
            .collect::<Value>()
    );
    // It holds notes:read; the step-up challenge names that and notes:write.
    assert_same_denials(
        &stack,
        &summary["denials"],
        "notes:read notes:write",
        "SDK 1.32 denials",
    );

    // The SDK v2 pinned to 2026-07-28, same token: told the operation's scope alone.
    let modern = &summary["modern"];
    assert_eq!(modern["protocolVersion"], "2026-07-28", "{modern}");
    assert_calls_succeed(&stack, &modern["calls"], 6, "2026-07-28 calls");
    assert_same_denials(
        &stack,
        &modern["denials"],
        "notes:write",
        "2026-07-28 denials",
    );
    for denial in modern["denials"].as_array().unwrap() {
        assert_eq!(denial["error"], "InsufficientScopeError", "{denial}");
    }

    // Nothing through nginx opened a session or came from elsewhere than a replica.
    let exchanges = summary["exchanges"].as_array().expect("exchanges");
    upstreams_of(&stack, exchanges, "exchange");
    for exchange in exchanges {
        assert_eq!(exchange["sessionId"], Value::Null, "{exchange}");
    }
}

/// `answers` (raw requests with the session id `session`) all have `status`, and came from every
/// replica.
fn assert_everywhere(stack: &Balanced, answers: &Value, status: u16, session: &str, what: &str) {
    let answers = answers.as_array().expect("answers");
    for answer in answers {
        assert_eq!(answer["status"], status, "{what}: {answer}");
        assert_eq!(answer["sentSessionId"], session, "{what}: {answer}");
    }
    let answered: BTreeSet<&str> = upstreams_of(stack, answers, what).into_iter().collect();
    assert_eq!(
        answered,
        stack.upstreams(),
        "{what}: not every replica answered"
    );
    eprintln!("{what}: {status} from {answered:?}");
}

#[tokio::test]
async fn sessions_in_redis_are_served_refused_and_ended_by_every_replica() {
    let stack = Balanced::start(Sharing::Redis).await;
    let replicas = REPLICAS.to_string();
    let args = [stack.url.as_str(), "--sessions", "--replicas", &replicas];
    let summary = node_script("replicas.mjs", &args, || stack.logs()).await;

    // The SDK 1.32 went through the OAuth flow, then one replica created the session.
    let token = &summary["token"];
    assert_eq!(token["typ"], "at+jwt", "{token}");
    assert_eq!(token["aud"], stack.url, "{token}");
    assert_eq!(token["token_scope"], "notes:read", "{token}");
    assert_eq!(token["sub"], OIDC_TEST_USER, "{token}");
    assert_eq!(summary["protocolVersion"], "2025-11-25");
    let session = summary["sessionId"].as_str().expect("a session id");
    assert!(!session.is_empty());
    let initialize = &summary["initialize"];
    assert_eq!(initialize["status"], 200, "{initialize}");
    assert_eq!(initialize["sessionId"], session, "{initialize}");
    let created_on = upstreams_of(&stack, std::slice::from_ref(initialize), "initialize")[0];

    // Every call on it succeeded, with its id, on several replicas: others than the one that
    // created it served it from Redis.
    let calls = &summary["calls"];
    assert_calls_succeed(&stack, calls, 12, "calls on the session");
    for call in calls.as_array().unwrap() {
        assert_eq!(call["sentSessionId"], session, "{call}");
    }
    let served_by = upstreams_of(&stack, calls.as_array().unwrap(), "calls");
    assert!(
        served_by.iter().any(|upstream| *upstream != created_on),
        "every call went to {created_on}, which created the session"
    );
    let set_level = &summary["setLevel"];
    assert_eq!(set_level["status"], 200, "{set_level}");
    assert_eq!(set_level["sentSessionId"], session, "{set_level}");
    upstreams_of(&stack, std::slice::from_ref(set_level), "logging/setLevel");

    // The owner's raw requests with the id: served by every replica (the control of the 404s).
    let owner = &summary["owner"];
    assert_eq!(owner["claims"]["sub"], OIDC_TEST_USER, "{owner}");
    assert_eq!(owner["claims"]["aud"], stack.url, "{owner}");
    let owner_client = owner["claims"]["client_id"].as_str().expect("a client_id");
    assert_everywhere(
        &stack,
        &owner["answers"],
        200,
        session,
        "the owner's raw requests",
    );

    // Someone else with the id: 404 from every replica, whether the subject or the client differs.
    let intruders = summary["intruders"].as_array().expect("intruders");
    assert_eq!(intruders.len(), 2, "{intruders:?}");
    let (other_user, other_client) = (&intruders[0], &intruders[1]);
    assert_eq!(other_user["who"], "another user");
    assert_eq!(other_user["claims"]["sub"], OTHER_USER, "{other_user}");
    assert_eq!(
        other_user["claims"]["client_id"], owner_client,
        "{other_user}"
    );
    assert_eq!(other_client["who"], "another client");
    assert_eq!(
        other_client["claims"]["sub"], OIDC_TEST_USER,
        "{other_client}"
    );
    assert_ne!(
        other_client["claims"]["client_id"], owner_client,
        "{other_client}"
    );
    for intruder in intruders {
        assert_eq!(intruder["claims"]["aud"], stack.url, "{intruder}");
        let what = format!("{} with the owner's session", intruder["who"]);
        assert_everywhere(&stack, &intruder["answers"], 404, session, &what);
    }
    // And the session was still the owner's afterwards.
    let after = &summary["after"];
    assert_eq!(after["status"], 200, "{after}");
    assert_eq!(after["sentSessionId"], session, "{after}");

    // Ended on one replica, it is 404 on every replica.
    let end = &summary["end"];
    assert_eq!(end["status"], 204, "{end}");
    assert_eq!(end["sentSessionId"], session, "{end}");
    upstreams_of(&stack, std::slice::from_ref(end), "DELETE");
    assert_everywhere(
        &stack,
        &summary["ended"]["answers"],
        404,
        session,
        "after the DELETE",
    );

    // On the wire: every exchange went through nginx to a replica, one session id throughout
    // (nothing else issued, everything after initialize sent it), on every replica.
    let exchanges = summary["exchanges"].as_array().expect("exchanges");
    upstreams_of(&stack, exchanges, "exchange");
    let mut with_session = BTreeSet::new();
    for exchange in exchanges {
        assert!(
            exchange["sessionId"].is_null() || exchange["sessionId"] == session,
            "another session: {exchange}"
        );
        let sent = &exchange["sentSessionId"];
        assert!(
            sent.is_null() || sent == session,
            "another session: {exchange}"
        );
        let on_mcp = exchange["era"] == "session" && exchange["path"] == "/mcp";
        if on_mcp && exchange["rpc"] != "initialize" {
            assert_eq!(sent, session, "sent without the session: {exchange}");
        }
        if !sent.is_null() {
            with_session.insert(exchange["upstream"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(with_session, stack.upstreams(), "the session's requests");
}
