//! The `notes` example served over stdio, driven as an MCP client drives it: a child process,
//! newline-delimited JSON-RPC through its pipes.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Builds the example once (with the cargo running these tests) and returns its path.
fn example_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "notes"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the notes example failed");
        // target/<profile>/deps/stdio-<hash> -> target/<profile>/examples/notes
        let mut path = std::env::current_exe().unwrap();
        path.pop();
        path.pop();
        path.push("examples");
        path.push(format!("notes{}", std::env::consts::EXE_SUFFIX));
        assert!(path.exists(), "{} missing", path.display());
        path
    })
}

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Client {
    fn spawn(scopes: Option<&str>) -> Self {
        let mut command = Command::new(example_binary());
        command
            .env_remove("SCOPEGATE_SCOPES")
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(scopes) = scopes {
            command.env("SCOPEGATE_SCOPES", scopes);
        }
        let mut child = command.spawn().expect("the example starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
            next_id: 0,
        }
    }

    async fn send(&mut self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Reads one line of stdout, which must be a JSON-RPC 2.0 message.
    async fn receive(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
            .await
            .expect("the server answers in time")
            .unwrap()
            .expect("stdout stays open");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line {line:?}: {e}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        message
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        let response = self.receive().await;
        assert_eq!(response["id"], id);
        response
    }

    async fn initialize(&mut self) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}),
            )
            .await;
        self.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        r
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    /// Closes stdin and returns the exit status and everything written to stderr.
    async fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin);
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server exits when stdin closes")
            .unwrap();
        assert!(
            self.stdout.next_line().await.unwrap().is_none(),
            "nothing after the last response"
        );
        (status, stderr)
    }
}

#[tokio::test]
async fn without_credentials_only_public_tools_run_and_denials_name_the_variable() {
    let mut client = Client::spawn(None);
    let init = client.initialize().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "notes");

    let list = client.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "whoami",
            "list_notes",
            "get_note",
            "add_note",
            "delete_note",
            "summarize_notes",
            "export_notes",
            "purge_notes"
        ]
    );
    assert_eq!(
        tools[1]["_meta"]["dev.scopegate/requiredScopes"],
        json!(["notes:read"])
    );

    let r = client.call("whoami", json!({})).await;
    assert_eq!(
        r["result"]["content"][0]["text"],
        "subject: anonymous; scopes: []"
    );

    let r = client.call("add_note", json!({"title": "x"})).await;
    assert_eq!(r["error"]["code"], -32003);
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.contains("SCOPEGATE_SCOPES"), "{message}");
    assert!(message.contains("notes:write"), "{message}");
    assert_eq!(r["error"]["data"]["missingScopes"], json!(["notes:write"]));

    let (status, stderr) = client.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("serving MCP on stdio"),
        "logs go to stderr: {stderr}"
    );
    assert!(
        stderr.contains("scope_denied"),
        "denials are logged: {stderr}"
    );
}

#[tokio::test]
async fn granted_scopes_allow_their_tools_and_nothing_more() {
    let mut client = Client::spawn(Some("notes:read notes:write"));
    client.initialize().await;
    let r = client
        .call("add_note", json!({"title": "groceries", "body": "milk"}))
        .await;
    assert_eq!(r["result"]["structuredContent"]["id"], 1);
    assert_eq!(r["result"]["structuredContent"]["title"], "groceries");
    let r = client.call("get_note", json!({"id": 1})).await;
    assert_eq!(r["result"]["structuredContent"]["body"], "milk");
    let r = client.call("get_note", json!({"id": 7})).await;
    assert_eq!(r["result"]["isError"], true);
    assert_eq!(r["result"]["content"][0]["text"], "no note with id 7");
    let r = client.call("purge_notes", json!({})).await;
    assert_eq!(r["error"]["data"]["missingScopes"], json!(["notes:admin"]));
    let (status, _) = client.finish().await;
    assert!(status.success());
}

#[tokio::test]
async fn the_admin_scope_implies_read_and_write() {
    let mut client = Client::spawn(Some("notes:admin"));
    client.initialize().await;
    let r = client.call("add_note", json!({"title": "a"})).await;
    assert_eq!(r["result"]["structuredContent"]["id"], 1);
    let r = client.call("list_notes", json!({})).await;
    assert_eq!(r["result"]["structuredContent"]["notes"][0]["title"], "a");
    let r = client.call("purge_notes", json!({})).await;
    assert_eq!(r["result"]["content"][0]["text"], "removed 1 notes");
    let (status, _) = client.finish().await;
    assert!(status.success());
}

#[tokio::test]
async fn malformed_lines_get_errors_and_the_session_continues() {
    let mut client = Client::spawn(None);
    client.stdin.write_all(b"{oops\n\n[1,2]\n").await.unwrap();
    let first = client.receive().await;
    assert_eq!(first["error"]["code"], -32700);
    assert_eq!(first["id"], Value::Null);
    let second = client.receive().await;
    assert_eq!(second["error"]["code"], -32600);
    let r = client.request("ping", json!({})).await;
    assert_eq!(r["result"], json!({}));
    let (status, _) = client.finish().await;
    assert!(status.success());
}

#[tokio::test]
async fn an_invalid_scope_in_the_environment_stops_the_server() {
    let client = Client::spawn(Some("notes:read bad\"scope"));
    let (status, stderr) = client.finish().await;
    assert!(!status.success());
    assert!(stderr.contains("SCOPEGATE_SCOPES"), "{stderr}");
    assert!(stderr.contains("bad\"scope"), "{stderr}");
}
