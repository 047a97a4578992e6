//! The Python MCP SDK (`mcp` 2.x, PyPI) as a 2026-07-28 client of the `quickstart` example (the
//! notes server and its development authorization server): the SDK's `OAuthClientProvider`
//! runs the authorization flow and a step-up, and its `Client` pinned to 2026-07-28 answers the
//! input requests of `summarize_notes` (sampling) and `delete_note` (elicitation) through its
//! `sampling_callback` and `elicitation_callback`, sending each call again with the answers and
//! the sealed `requestState`.
//!
//! `tests/python/client_2026.py` is the client; an httpx2 transport under the SDK
//! (`tests/python/wire.py`) records every exchange with the MCP endpoint, and this test asserts
//! on that record. The SDK comes from `tests/python/requirements.txt` (exact versions),
//! installed into `tests/python/.venv` by `tests/python/install` (`scripts/test` runs it);
//! without that venv, or with one made from other versions, the test fails saying so. It never
//! skips. Every process binds 127.0.0.1 and is killed when its handle drops.

#[path = "support/e2e.rs"]
mod e2e;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::process::Command;

use e2e::{MODERN, McpServer, Process, answer, steps, wire};

/// The tools whose scopes the flow depends on, with the scopes each advertises.
const NOTES_TOOLS: [(&str, &[&str]); 7] = [
    ("add_note", &["notes:write"]),
    ("delete_note", &["notes:write"]),
    ("get_note", &["notes:read"]),
    ("list_notes", &["notes:read"]),
    ("purge_notes", &["notes:admin"]),
    ("summarize_notes", &["notes:read"]),
    ("whoami", &[]),
];

// ---- the Python client --------------------------------------------------------------------------

/// `tests/python`.
fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// The venv's python, once the venv is known to hold the pinned requirements; otherwise the
/// test fails, saying how to install them.
fn venv_python() -> PathBuf {
    let dir = python_dir();
    let install = "Run `tests/python/install` (scripts/test does) and run the tests again.";
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: the Python end-to-end test needs its venv. {install}",
        python.display()
    );
    // The installer copies requirements.txt into the venv as its last step.
    let wanted = std::fs::read_to_string(dir.join("requirements.txt")).expect("requirements.txt");
    let installed = std::fs::read_to_string(dir.join(".venv/requirements.installed"));
    assert!(
        installed.as_deref().ok() == Some(wanted.as_str()),
        "tests/python/.venv was not made from this tests/python/requirements.txt (or its \
         install did not finish). {install}"
    );
    python
}

/// The version of `package` that requirements.txt pins.
fn pinned(package: &str) -> String {
    let requirements =
        std::fs::read_to_string(python_dir().join("requirements.txt")).expect("requirements.txt");
    requirements
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{package}==")))
        .unwrap_or_else(|| panic!("requirements.txt pins no {package}"))
        .trim()
        .to_owned()
}

/// Runs `client_2026.py URL` with `python` (the venv's) to the end and returns the JSON summary
/// it prints last, which must say `"ok": true`; `logs` adds the server's output to a failure.
async fn python_client(python: &Path, url: &str, logs: impl Fn() -> String) -> Value {
    let mut command = Command::new(python);
    command
        .args(["client_2026.py", url])
        .current_dir(python_dir())
        // Nothing written beside the scripts.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let mut process = Process::spawn("client_2026", command);
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "client_2026.py ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            logs()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "client_2026.py failed ({status}): {}\n{}{}",
        summary["error"],
        process.log(),
        logs()
    );
    summary
}

// ---- what the wire must show --------------------------------------------------------------------

/// One tool's `tools/call` exchanges on the wire, in order.
fn tool_calls<'a>(summary: &'a Value, tool: &str) -> Vec<&'a Value> {
    wire(summary, "modern")
        .into_iter()
        .filter(|e| e["rpc"] == "tools/call" && e["bodyName"] == tool)
        .collect()
}

/// OAuth over 2026-07-28: the 401 at `server/discover` sent with no token; one registration;
/// the first authorization for the challenged `notes:read`; the 403 at `add_note` naming the
/// tool's own scope (2026-07-28); the SDK asking for the union of what it held and that
/// (SEP-2350), and sending the same call again with the new token.
fn assert_authorization(summary: &Value, url: &str) {
    let exchanges = wire(summary, "modern");
    let first = exchanges[0];
    assert_eq!(
        (&first["rpc"], &first["status"]),
        (&"server/discover".into(), &401.into()),
        "{first}"
    );
    assert_eq!(first["request"]["authorization"], false);
    let challenge = first["response"]["www-authenticate"].as_str().unwrap();
    for part in [
        r#"scope="notes:read""#,
        &format!(
            r#"resource_metadata="{}""#,
            url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        ),
    ] {
        assert!(challenge.contains(part), "{challenge} lacks {part}");
    }
    assert!(
        !challenge.contains("error="),
        "no error code without credentials: {challenge}"
    );
    let retried = exchanges[1];
    assert_eq!(
        (&retried["rpc"], &retried["id"], &retried["status"]),
        (&"server/discover".into(), &first["id"], &200.into()),
        "the same request again, with the token: {retried}"
    );
    assert!(
        exchanges[1..]
            .iter()
            .all(|e| e["request"]["authorization"] == true),
        "every request after the first carries a token"
    );

    let registered = steps(summary, "registered");
    assert_eq!(registered.len(), 1, "one registration: {registered:?}");
    let authorize = steps(summary, "authorize");
    assert_eq!(authorize.len(), 2, "one authorization, one step-up");
    assert_eq!(authorize[0]["scope"], "notes:read");
    assert_eq!(authorize[1]["scope"], "notes:read notes:write");
    for request in &authorize {
        assert_eq!(request["resource"], url);
        assert_eq!(request["code_challenge_method"], "S256");
    }
    let tokens = steps(summary, "token");
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for (token, scope) in tokens.iter().zip(["notes:read", "notes:read notes:write"]) {
        assert_eq!(token["typ"], "at+jwt", "{token}");
        assert_eq!(token["token_scope"], scope, "{token}");
        assert_eq!(token["aud"], url, "{token}");
    }
    assert_eq!(summary["tokenScope"], "notes:read notes:write");

    let adds = tool_calls(summary, "add_note");
    assert_eq!(adds.len(), 3, "refused, sent again, and the second note");
    let (refused, again) = (adds[0], adds[1]);
    assert_eq!(refused["status"], 403, "{refused}");
    let forbidden = refused["response"]["www-authenticate"].as_str().unwrap();
    for part in [r#"error="insufficient_scope""#, r#"scope="notes:write""#] {
        assert!(forbidden.contains(part), "{forbidden} lacks {part}");
    }
    assert_eq!(
        again["id"], refused["id"],
        "the same request again: {again}"
    );
    assert_eq!(again["status"], 200, "{again}");
    assert_eq!(answer(again)["result"]["structuredContent"]["id"], 1);
}

/// Every request of the client, on the wire: POSTs with the 2026-07-28 envelope, headers and
/// the client's capabilities (sampling and elicitation, which the server's input requests
/// need), and no session (no `initialize`, no `Mcp-Session-Id` either way).
fn assert_stateless_modern_wire(summary: &Value) {
    let exchanges = wire(summary, "modern");
    assert!(exchanges.len() > 10, "{} exchanges", exchanges.len());
    for exchange in &exchanges {
        assert_eq!(exchange["http"], "POST", "{exchange}");
        assert_ne!(exchange["rpc"], "initialize", "{exchange}");
        assert_eq!(
            exchange["request"]["mcp-session-id"],
            Value::Null,
            "{exchange}"
        );
        assert_eq!(
            exchange["response"]["mcp-session-id"],
            Value::Null,
            "{exchange}"
        );
        assert!(exchange.get("id").is_some(), "only requests: {exchange}");
        assert_eq!(exchange["bodyVersion"], MODERN, "{exchange}");
        assert_eq!(
            exchange["request"]["mcp-protocol-version"], MODERN,
            "{exchange}"
        );
        assert_eq!(
            exchange["request"]["mcp-method"], exchange["rpc"],
            "{exchange}"
        );
        if exchange["rpc"] == "tools/call" {
            assert_eq!(
                exchange["request"]["mcp-name"], exchange["bodyName"],
                "{exchange}"
            );
        }
        let capabilities = &exchange["clientCapabilities"];
        assert!(
            capabilities["sampling"].is_object() && capabilities["elicitation"].is_object(),
            "{exchange}"
        );
        if exchange["status"] == 200 {
            let result = &answer(exchange)["result"];
            assert!(
                ["complete", "input_required"]
                    .contains(&result["resultType"].as_str().unwrap_or("")),
                "{exchange}"
            );
        }
    }
}

/// A call and its retry on the wire: the server answered the call `input_required`, asking one
/// request by `method` and sealing a `requestState`; the client sent the call again with the
/// answer under the same key and that `requestState` byte for byte, and the server completed.
/// Returns the key, what the server asked and what the client answered.
fn assert_input_round<'a>(
    call: &'a Value,
    retry: &'a Value,
    method: &str,
) -> (&'a str, &'a Value, &'a Value) {
    assert_eq!(call["status"], 200, "{call}");
    assert!(
        call["requestState"].is_null() && call["inputResponses"].is_null(),
        "a first round carries no answers: {call}"
    );
    let asked = &answer(call)["result"];
    assert_eq!(asked["resultType"], "input_required", "{call}");
    let requests = asked["inputRequests"].as_object().expect("inputRequests");
    assert_eq!(requests.len(), 1, "{asked}");
    let (key, request) = requests.iter().next().unwrap();
    assert_eq!(request["method"], method, "{asked}");
    let state = asked["requestState"].as_str().expect("a requestState");
    assert!(!state.is_empty());

    assert_eq!(retry["status"], 200, "{retry}");
    assert_ne!(retry["id"], call["id"], "a retry is a new request: {retry}");
    assert_eq!(
        retry["requestState"], state,
        "the retry echoes the state: {retry}"
    );
    let answers = retry["inputResponses"].as_object().expect("inputResponses");
    assert_eq!(answers.keys().collect::<Vec<_>>(), [key], "{retry}");
    assert_eq!(answer(retry)["result"]["resultType"], "complete", "{retry}");
    (key, request, &answers[key])
}

// ---- the test -----------------------------------------------------------------------------------

#[tokio::test]
async fn the_python_sdk_authorizes_steps_up_and_answers_input_requests_at_2026_07_28() {
    // The venv first: without it the test fails at once, before building and starting anything.
    let python = venv_python();
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let url = server.url.as_str();
    let summary = python_client(&python, url, || server.process.log()).await;

    // The SDK the venv holds is the pinned one, and it spoke 2026-07-28 with a server that
    // announces it.
    assert_eq!(summary["sdk"]["mcp"], pinned("mcp"));
    assert_eq!(summary["sdk"]["httpx2"], pinned("httpx2"));
    assert_eq!(summary["protocolVersion"], MODERN);
    assert!(
        summary["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&MODERN.into()),
        "{}",
        summary["supportedVersions"]
    );
    assert_authorization(&summary, url);
    assert_stateless_modern_wire(&summary);
    for (tool, scopes) in NOTES_TOOLS {
        assert!(
            summary["tools"].as_array().unwrap().contains(&tool.into()),
            "{tool} not listed: {}",
            summary["tools"]
        );
        assert_eq!(summary["requiredScopes"][tool], json!(scopes), "{tool}");
    }

    // summarize_notes: one sampling round; the callback saw both titles, and the tool returned
    // what the callback answered.
    let model_text = summary["modelText"].as_str().unwrap();
    let calls = tool_calls(&summary, "summarize_notes");
    assert_eq!(calls.len(), 2, "the call and its retry");
    let (_, asked, answered) = assert_input_round(calls[0], calls[1], "sampling/createMessage");
    let prompt = asked["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        prompt.contains("- e2e") && prompt.contains("- groceries"),
        "{prompt}"
    );
    let sampled = summary["sampling"].as_array().unwrap();
    assert_eq!(sampled.len(), 1, "the sampling callback ran once");
    assert_eq!(sampled[0]["messages"], asked["params"]["messages"]);
    assert_eq!(answered["content"]["text"], model_text);
    assert_eq!(answer(calls[1])["result"]["content"][0]["text"], model_text);
    assert_eq!(
        steps(&summary, "call summarize_notes")[0]["text"],
        model_text
    );

    // delete_note: asked under its own key `confirm` each time, with the server's message;
    // declined, the note stays; accepted, it goes.
    let calls = tool_calls(&summary, "delete_note");
    assert_eq!(calls.len(), 4, "two calls, each with its retry");
    let handled = summary["elicitation"].as_array().unwrap();
    assert_eq!(handled.len(), 2, "the elicitation callback ran twice");
    for (round, (handled, expected)) in calls
        .chunks(2)
        .zip(handled.iter().zip(["decline", "accept"]))
    {
        let (key, asked, answered) = assert_input_round(round[0], round[1], "elicitation/create");
        assert_eq!(key, "confirm");
        assert_eq!(handled["params"]["message"], asked["params"]["message"]);
        assert_eq!(
            handled["params"]["requestedSchema"],
            asked["params"]["requestedSchema"]
        );
        assert_eq!(answered["action"], expected);
        assert_eq!(*answered, handled["answered"]);
        let message = asked["params"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(r#"Delete note 1 ("e2e")?"#),
            "{message}"
        );
        assert_eq!(
            asked["params"]["requestedSchema"]["properties"]["ok"]["type"],
            "boolean"
        );
    }
    assert_eq!(handled[1]["answered"]["content"]["ok"], true);
    let deletes = steps(&summary, "call delete_note");
    assert!(
        deletes[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("kept note 1"),
        "{:?}",
        deletes[0]
    );
    assert_eq!(deletes[1]["text"], r#"deleted note 1 ("e2e")"#);
    let ids = |step: &Value| -> Vec<u64> {
        step["structuredContent"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_u64().unwrap())
            .collect()
    };
    let lists = steps(&summary, "call list_notes");
    assert_eq!(
        lists.iter().map(|s| ids(s)).collect::<Vec<_>>(),
        [vec![], vec![1, 2], vec![2]]
    );
    let whoami = steps(&summary, "call whoami");
    assert_eq!(
        whoami[0]["text"],
        "subject: developer; scopes: [notes:read notes:write]"
    );
}
