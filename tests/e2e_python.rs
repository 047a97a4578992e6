//! The Python MCP SDK (`mcp` 2.x, PyPI) as a 2026-07-28 client of the `quickstart` example (the
//! notes server and its development authorization server): the SDK's `OAuthClientProvider`
//! runs the authorization flow and a step-up, and its `Client` pinned to 2026-07-28 answers the
//! input requests of `summarize_notes` (sampling) and `delete_note` (elicitation) through its
//! `sampling_callback` and `elicitation_callback`, sending each call again with the answers and
//! the sealed `requestState`. Then the scope rules beyond a tool's fixed scope: `add_note` with
//! `confidential: true` needs `notes:admin` too (`when`), and `get_note` asks for it while it runs
//! once it finds the note confidential (`may_require`), called by a second client holding
//! `notes:read` alone; each is refused with the HTTP 403 step-up of a fixed scope, and the SDK
//! steps up and sends the call again.
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

use e2e::{
    MODERN, McpServer, NOTES_TOOLS, Process, answer, assert_authorized_for,
    assert_confidential_note, assert_confidential_reader, assert_delete_rounds,
    assert_notes_tools_meta, assert_stateless_modern_wire, assert_step_up, assert_summarize_round,
    client_summary, steps, token, tool_calls, wire,
};

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

/// Runs `client_2026.py URL` with `python` (the venv's) to the end and returns its summary
/// (see [`client_summary`]); `logs` adds the server's output to a failure.
async fn python_client(python: &Path, url: &str, logs: impl Fn() -> String) -> Value {
    let mut command = Command::new(python);
    command
        .args(["client_2026.py", url])
        .current_dir(python_dir())
        // Nothing written beside the scripts.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let process = Process::spawn("client_2026", command);
    client_summary("client_2026.py", process, logs).await
}

// ---- what the wire must show --------------------------------------------------------------------

/// A client's first exchanges, on the wire: `server/discover` sent with no token gets 401
/// (`scope="notes:read"`, the resource metadata's URL, no error code), and the SDK sends the
/// same request again with its first token; every later request carries a token.
fn assert_discovered_after_401(summary: &Value, url: &str) {
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
    assert_eq!(retried["request"]["bearer"], *token(summary, 0));
    let registered = steps(summary, "registered");
    assert_eq!(registered.len(), 1, "one registration: {registered:?}");
}

/// OAuth over 2026-07-28: the 401 at `server/discover` ([`assert_discovered_after_401`]); the
/// first authorization for the challenged `notes:read`; the 403 at `add_note` naming the tool's
/// own scope (2026-07-28); the SDK asking for the union of what it held and that (SEP-2350),
/// and sending the same call again with the new token. (The third authorization, for
/// `notes:admin`, is [`assert_scope_rules`]'s.)
fn assert_authorization(summary: &Value, url: &str) {
    assert_discovered_after_401(summary, url);
    assert_authorized_for(
        summary,
        url,
        &[
            "notes:read",
            "notes:read notes:write",
            "notes:read notes:write notes:admin",
        ],
    );
    assert_eq!(summary["tokenScope"], "notes:read notes:write notes:admin");

    let adds = tool_calls(summary, "add_note");
    assert_eq!(
        adds.len(),
        5,
        "refused, sent again, the second note; the confidential one refused, sent again"
    );
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
    assert_eq!(refused["request"]["bearer"], *token(summary, 0));
    assert_eq!(again["request"]["bearer"], *token(summary, 1));
}

/// The scope rules beyond a tool's fixed scope, each a step-up inside one `call_tool`, the same
/// request sent again:
///
/// - holding `notes:read notes:write`, `add_note {confidential: true}` gets 403 naming
///   `notes:admin notes:write` (`when(confidential => …)`); the SDK authorizes for the union and
///   the note comes back confidential;
/// - a second client (`reader` in the summary: its own registration, tokens and wire), after a
///   401 and an authorization for `notes:read`, reads the plain note 2 with that token; `get_note`
///   on the confidential note gets 403 naming `notes:admin notes:read` though the tool's fixed
///   scope is `notes:read` (its handler asked for `notes:admin`, `may_require`); the SDK
///   authorizes for `notes:read notes:admin` and the call returns the note.
fn assert_scope_rules(summary: &Value, url: &str) {
    let adds = tool_calls(summary, "add_note");
    let (refused, again) = (adds[3], adds[4]);
    assert_eq!(refused["request"]["bearer"], *token(summary, 1));
    let added = assert_step_up(
        refused,
        again,
        "notes:admin notes:write",
        r#"when(confidential => "notes:admin")"#,
    );
    assert_eq!(
        again["id"], refused["id"],
        "the same request again: {again}"
    );
    assert_eq!(again["request"]["bearer"], *token(summary, 2));
    // Notes 1 and 2 came first (note 1 deleted since).
    assert_confidential_note(added, 3);
    assert_eq!(
        steps(summary, "call add_note")[2]["structuredContent"],
        added["structuredContent"]
    );

    let reader = &summary["reader"];
    assert_discovered_after_401(reader, url);
    let (plain, gets) = assert_confidential_reader(reader, url, 3);
    assert_eq!(
        *plain,
        json!({ "id": 2, "title": "groceries", "body": "milk", "author": "developer" })
    );
    assert_eq!(
        gets[2]["id"], gets[1]["id"],
        "the same request again: {}",
        gets[2]
    );
}

/// Every exchange of the client, on the wire: a 2026-07-28 request without a session (see
/// [`assert_stateless_modern_wire`]) that declares the client's capabilities the server's input
/// requests need (sampling and elicitation) and, answered, completed or asked for input.
fn assert_modern_requests(summary: &Value) {
    let exchanges = assert_stateless_modern_wire(summary);
    assert!(exchanges.len() > 10, "{} exchanges", exchanges.len());
    for exchange in &exchanges {
        assert!(exchange.get("id").is_some(), "only requests: {exchange}");
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
    assert_modern_requests(&summary);
    for (tool, scopes) in NOTES_TOOLS {
        assert!(
            summary["tools"].as_array().unwrap().contains(&tool.into()),
            "{tool} not listed: {}",
            summary["tools"]
        );
        assert_eq!(summary["requiredScopes"][tool], json!(scopes), "{tool}");
    }

    // summarize_notes: one sampling round, answered by the sampling callback; delete_note:
    // declined, then accepted, by the elicitation callback.
    assert_summarize_round(&summary);
    let rounds = assert_delete_rounds(&summary);
    for (handled, _, answered) in &rounds {
        assert_eq!(**answered, handled["answered"]);
    }
    assert_eq!(rounds[1].0["answered"]["content"]["ok"], true);
    let whoami = steps(&summary, "call whoami");
    assert_eq!(
        whoami[0]["text"],
        "subject: developer; scopes: [notes:read notes:write]"
    );

    // add_note's rule over its arguments and get_note's scope asked for at run time, each a
    // step-up; the rules are in tools/list.
    assert_notes_tools_meta(&summary);
    assert_scope_rules(&summary, url);
}
