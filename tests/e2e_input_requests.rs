//! 2026-07-28 input requests (SEP-2322) end to end, with a real client and OAuth: the TypeScript
//! SDK v2 (`@modelcontextprotocol/client`) pinned to 2026-07-28 against the `quickstart` example
//! (the notes server and its development authorization server) runs the authorization flow and a
//! step-up, then calls `summarize_notes`, which samples the client's model, and `delete_note`,
//! which asks the user to confirm. The client answers both through its own `sampling` and
//! `elicitation` handlers, as a 2026-07-28 client does: the server answers `input_required`, the
//! client sends the call again with the answers and the sealed `requestState`.
//!
//! `tests/e2e/modern-oauth.mjs` is the client; it records every exchange with the MCP endpoint,
//! and this test asserts on that record. The Node packages come from
//! `tests/e2e/package-lock.json` (`npm ci --prefix tests/e2e`); without them the test fails,
//! saying so. Every process binds 127.0.0.1 and is killed when its handle drops.

#[path = "support/e2e.rs"]
mod e2e;

use serde_json::{Value, json};

use e2e::{MODERN, McpServer, answer, node_script, steps, wire};

/// One tool's `tools/call` exchanges on the wire, in order.
fn tool_calls<'a>(summary: &'a Value, tool: &str) -> Vec<&'a Value> {
    wire(summary, "modern")
        .into_iter()
        .filter(|e| e["rpc"] == "tools/call" && e["bodyName"] == tool)
        .collect()
}

/// A call and its retry on the wire: the server answered the call `input_required`, asking one
/// request by `method` and sealing a `requestState`; the client sent the call again with the
/// answer under the same key and that `requestState` byte for byte, and the server completed.
/// Returns what the server asked and what the client answered.
fn assert_input_round<'a>(
    call: &'a Value,
    retry: &'a Value,
    method: &str,
) -> (&'a Value, &'a Value) {
    assert_eq!(call["status"], 200, "{call}");
    assert!(
        call.get("requestState").is_none() && call.get("inputResponses").is_none(),
        "{call}"
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
    assert_eq!(
        retry["requestState"], state,
        "the retry echoes the state: {retry}"
    );
    let answers = retry["inputResponses"].as_object().expect("inputResponses");
    assert_eq!(answers.keys().collect::<Vec<_>>(), [key], "{retry}");
    assert_eq!(answer(retry)["result"]["resultType"], "complete", "{retry}");
    (request, &answers[key])
}

/// OAuth over 2026-07-28: the 401 at `server/discover`, a step-up whose challenge names the
/// tool's own scope (2026-07-28), and SDK v2 asking for the union of that and what it held.
fn assert_authorization(summary: &Value, url: &str) {
    let exchanges = wire(summary, "modern");
    let first = exchanges[0];
    assert_eq!(
        (&first["rpc"], &first["status"]),
        (&"server/discover".into(), &401.into())
    );
    assert_eq!(first["request"]["authorization"], false);
    let challenge = first["response"]["www-authenticate"].as_str().unwrap();
    assert!(challenge.contains(r#"scope="notes:read""#), "{challenge}");
    let authorize = steps(summary, "authorize");
    assert_eq!(authorize.len(), 2, "one authorization, one step-up");
    assert_eq!(authorize[0]["scope"], "notes:read");
    assert_eq!(authorize[1]["scope"], "notes:read notes:write");
    for request in &authorize {
        assert_eq!(request["resource"], url);
        assert_eq!(request["code_challenge_method"], "S256");
    }
    let refused = tool_calls(summary, "add_note")[0];
    assert_eq!(refused["status"], 403, "{refused}");
    let forbidden = refused["response"]["www-authenticate"].as_str().unwrap();
    for part in [r#"error="insufficient_scope""#, r#"scope="notes:write""#] {
        assert!(forbidden.contains(part), "{forbidden} lacks {part}");
    }
    let tokens = steps(summary, "token");
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for (token, scope) in tokens.iter().zip(["notes:read", "notes:read notes:write"]) {
        assert_eq!(token["token_scope"], scope, "{token}");
        assert_eq!(token["aud"], url, "{token}");
    }
    assert!(
        exchanges[1..]
            .iter()
            .all(|e| e["request"]["authorization"] == true),
        "every request after the first carries the token"
    );
}

/// Every request of the modern client, on the wire: POSTs with the 2026-07-28 envelope and
/// headers, and no session (no `initialize`, no `Mcp-Session-Id` either way, no GET stream).
fn assert_stateless_modern_wire(summary: &Value) {
    let exchanges = wire(summary, "modern");
    assert!(!exchanges.is_empty());
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
        if exchange.get("id").is_some() {
            assert_eq!(exchange["bodyVersion"], MODERN, "{exchange}");
            assert_eq!(
                exchange["request"]["mcp-protocol-version"], MODERN,
                "{exchange}"
            );
            assert_eq!(
                exchange["request"]["mcp-method"], exchange["rpc"],
                "{exchange}"
            );
        }
        if exchange["rpc"] == "tools/call" {
            assert_eq!(
                exchange["request"]["mcp-name"], exchange["bodyName"],
                "{exchange}"
            );
        }
    }
    assert_eq!(summary["transportSessionId"], Value::Null);
    assert_eq!(summary["transportSessionIdAfter"], Value::Null);
}

#[tokio::test]
async fn a_modern_typescript_client_authorizes_steps_up_and_answers_input_requests() {
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let url = server.url.as_str();
    let summary = node_script("modern-oauth.mjs", &[url], || server.process.log()).await;
    assert_eq!(summary["protocolVersion"], MODERN);
    assert_eq!(summary["era"], "modern");
    assert_authorization(&summary, url);
    assert_stateless_modern_wire(&summary);
    for (tool, scopes) in [
        ("summarize_notes", json!(["notes:read"])),
        ("delete_note", json!(["notes:write"])),
    ] {
        assert_eq!(summary["requiredScopes"][tool], scopes, "{tool}");
    }

    // summarize_notes: one sampling round; the client's handler saw both titles, and the tool
    // returned what the handler answered.
    let model_text = summary["modelText"].as_str().unwrap();
    let calls = tool_calls(&summary, "summarize_notes");
    assert_eq!(calls.len(), 2, "the call and its retry");
    let (asked, answered) = assert_input_round(calls[0], calls[1], "sampling/createMessage");
    let prompt = asked["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        prompt.contains("- e2e") && prompt.contains("- groceries"),
        "{prompt}"
    );
    assert_eq!(summary["sampling"].as_array().unwrap().len(), 1);
    assert_eq!(
        summary["sampling"][0]["messages"],
        asked["params"]["messages"]
    );
    assert_eq!(answered["content"]["text"], model_text);
    assert_eq!(
        steps(&summary, "call summarize_notes")[0]["text"],
        model_text
    );

    // delete_note: asked under its own key each time; declined, the note stays; accepted, it goes.
    let calls = tool_calls(&summary, "delete_note");
    assert_eq!(calls.len(), 4, "two calls, each with its retry");
    let handled = summary["elicitation"].as_array().unwrap();
    assert_eq!(handled.len(), 2);
    for (round, (handled, expected)) in calls
        .chunks(2)
        .zip(handled.iter().zip(["decline", "accept"]))
    {
        let (asked, answered) = assert_input_round(round[0], round[1], "elicitation/create");
        assert_eq!(
            answer(round[0])["result"]["inputRequests"]["confirm"],
            *asked,
            "asked under delete_note's own key"
        );
        assert_eq!(handled["params"], asked["params"]);
        assert_eq!(answered["action"], expected);
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
    let lists = steps(&summary, "call list_notes");
    let ids = |step: &Value| -> Vec<u64> {
        step["structuredContent"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        lists.iter().map(|s| ids(s)).collect::<Vec<_>>(),
        [vec![], vec![1, 2], vec![2]]
    );
}
