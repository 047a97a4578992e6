//! The summaries the client scripts print (`tests/e2e/*.mjs`, `tests/python/client_2026.py`):
//! their steps and their wire (every exchange with the MCP endpoint, as the client's HTTP stack
//! saw it), and what several clients' tests assert of them alike: 2026-07-28 without a session,
//! and the input requests of the notes server's tools.
//!
//! Part of `e2e.rs`, which re-exports it.

use serde_json::{Value, json};

/// The protocol revision the modern clients are pinned to.
pub(crate) const MODERN: &str = "2026-07-28";

/// The tools of the notes server (`examples/common/notes.rs`, which the `notes` and `quickstart`
/// examples serve), sorted, with the scopes each advertises.
pub(crate) const NOTES_TOOLS: [(&str, &[&str]); 8] = [
    ("add_note", &["notes:write"]),
    ("delete_note", &["notes:write"]),
    ("export_notes", &["notes:read"]),
    ("get_note", &["notes:read"]),
    ("list_notes", &["notes:read"]),
    ("purge_notes", &["notes:admin"]),
    ("summarize_notes", &["notes:read"]),
    ("whoami", &[]),
];

/// The scope rules beyond its fixed scopes that a notes tool advertises in its `tools/list`
/// `_meta`: the tool, the key, its value. `add_note` needs `notes:admin` too when `confidential`
/// is given (`when`), `get_note` may ask for it while it runs (`may_require`), `purge_notes` has
/// a quota of ten calls a minute.
pub(crate) fn notes_rule_meta() -> [(&'static str, &'static str, Value); 3] {
    [
        (
            "add_note",
            "dev.scopegate/conditionalScopes",
            json!([{ "argument": "confidential", "scope": "notes:admin" }]),
        ),
        (
            "get_note",
            "dev.scopegate/mayRequireScopes",
            json!(["notes:admin"]),
        ),
        (
            "purge_notes",
            "dev.scopegate/quota",
            json!({ "calls": 10, "perSeconds": 60 }),
        ),
    ]
}

/// The notes tools as the first `tools/list` answer on the modern client's wire lists them: each
/// tool's `_meta` holds its required scopes ([`NOTES_TOOLS`]) and the rules of
/// [`notes_rule_meta`], nothing else; `add_note` takes an optional boolean `confidential`.
pub(crate) fn assert_notes_tools_meta(summary: &Value) {
    let listed = wire(summary, "modern")
        .into_iter()
        .find(|e| e["rpc"] == "tools/list")
        .expect("a tools/list on the wire");
    let tools = answer(listed)["result"]["tools"].as_array().expect("tools");
    let rules = notes_rule_meta();
    for (name, scopes) in NOTES_TOOLS {
        let tool = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        let mut expected = json!({ "dev.scopegate/requiredScopes": scopes });
        for (_, key, value) in rules.iter().filter(|(tool, _, _)| *tool == name) {
            expected[*key] = value.clone();
        }
        assert_eq!(tool["_meta"], expected, "{name}");
    }
    let add = tools.iter().find(|t| t["name"] == "add_note").unwrap();
    let schema = &add["inputSchema"];
    assert_eq!(
        schema["properties"]["confidential"]["type"],
        json!(["boolean", "null"]),
        "{schema}"
    );
    assert_eq!(schema["required"], json!(["title"]), "{schema}");
}

/// The steps of the summary called `name`, in order.
pub(crate) fn steps<'a>(summary: &'a Value, name: &str) -> Vec<&'a Value> {
    summary["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step"] == name)
        .collect()
}

/// The OAuth steps of a client that authorized for the first of `scopes` and stepped up to each
/// next one: an authorization request for each, for the resource `url` (RFC 8707) with PKCE
/// (S256); then a JWT access token (RFC 9068) for each, its audience `url` and its scope the one
/// asked for.
pub(crate) fn assert_authorized_for(summary: &Value, url: &str, scopes: &[&str]) {
    let authorize = steps(summary, "authorize");
    let asked: Vec<&str> = authorize
        .iter()
        .map(|request| request["scope"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(asked, scopes, "one authorization, then one per step-up");
    for request in &authorize {
        assert_eq!(request["resource"], url, "RFC 8707 resource indicator");
        assert_eq!(request["code_challenge_method"], "S256");
    }
    let tokens = steps(summary, "token");
    assert_eq!(tokens.len(), scopes.len(), "{tokens:?}");
    for (token, scope) in tokens.iter().zip(scopes) {
        assert_eq!(token["typ"], "at+jwt", "{token}");
        assert_eq!(token["aud"], url, "{token}");
        assert_eq!(token["token_scope"], *scope, "{token}");
    }
}

/// The exchanges of one client (`"modern"` or `"legacy"`) as its fetch saw them.
pub(crate) fn wire<'a>(summary: &'a Value, era: &str) -> Vec<&'a Value> {
    summary["wire"]
        .as_array()
        .expect("wire")
        .iter()
        .filter(|e| e["era"] == era)
        .collect()
}

/// The JSON-RPC response to the exchange's request, as it came over the wire.
pub(crate) fn answer(exchange: &Value) -> &Value {
    exchange["messages"]
        .as_array()
        .and_then(|messages| {
            messages.iter().find(|m| {
                m["id"] == exchange["id"] && (m.get("result").is_some() || m.get("error").is_some())
            })
        })
        .unwrap_or_else(|| panic!("no response on the wire: {exchange}"))
}

/// One tool's `tools/call` exchanges on the modern client's wire, in order.
pub(crate) fn tool_calls<'a>(summary: &'a Value, tool: &str) -> Vec<&'a Value> {
    wire(summary, "modern")
        .into_iter()
        .filter(|e| e["rpc"] == "tools/call" && e["bodyName"] == tool)
        .collect()
}

/// The modern client spoke 2026-07-28 without a session, as its wire shows: every exchange a POST,
/// no `initialize`, no `Mcp-Session-Id` either way; every request with the revision in its
/// `_meta` and in `MCP-Protocol-Version`, its method in `Mcp-Method`, and in `Mcp-Name` the name
/// of what it calls, gets or reads, or the id of the task it is about (SEP-2663). Returns the
/// exchanges, for the checks of one client.
pub(crate) fn assert_stateless_modern_wire(summary: &Value) -> Vec<&Value> {
    let exchanges = wire(summary, "modern");
    assert!(!exchanges.is_empty(), "the modern client sent nothing");
    for exchange in &exchanges {
        let request = &exchange["request"];
        assert_eq!(exchange["http"], "POST", "{exchange}");
        assert_ne!(exchange["rpc"], "initialize", "{exchange}");
        assert_eq!(request["mcp-session-id"], Value::Null, "{exchange}");
        assert_eq!(
            exchange["response"]["mcp-session-id"],
            Value::Null,
            "{exchange}"
        );
        if exchange.get("id").is_none() {
            continue; // a notification
        }
        assert_eq!(exchange["bodyVersion"], MODERN, "{exchange}");
        assert_eq!(request["mcp-protocol-version"], MODERN, "{exchange}");
        assert_eq!(request["mcp-method"], exchange["rpc"], "{exchange}");
        let rpc = exchange["rpc"].as_str().unwrap_or("");
        if ["tools/call", "prompts/get", "resources/read"].contains(&rpc) {
            assert_eq!(request["mcp-name"], exchange["bodyName"], "{exchange}");
        }
        if rpc.starts_with("tasks/") {
            assert!(exchange["taskId"].is_string(), "{exchange}");
            assert_eq!(request["mcp-name"], exchange["taskId"], "{exchange}");
        }
    }
    exchanges
}

/// A call and its retry on the wire: the server answered the call `input_required`, asking one
/// request by `method` and sealing a `requestState`; the client sent the call again, as a new
/// request, with the answer under the same key and that `requestState` byte for byte, and the
/// server completed. Returns the key, what the server asked and what the client answered.
pub(crate) fn assert_input_round<'a>(
    call: &'a Value,
    retry: &'a Value,
    method: &str,
) -> (&'a str, &'a Value, &'a Value) {
    assert_eq!(call["status"], 200, "{call}");
    // Absent (a recorder may write what a request lacks as null).
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

// ---- the notes server's input requests, from any 2026-07-28 client -----------------------------

/// `summarize_notes` on the notes server: one sampling round (see [`assert_input_round`]) whose
/// prompt lists both notes' titles; the client's sampling handler ran once, with the messages the
/// server asked about, and the tool returned what the handler answered.
pub(crate) fn assert_summarize_round(summary: &Value) {
    let model_text = summary["modelText"].as_str().expect("modelText");
    let calls = tool_calls(summary, "summarize_notes");
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
    assert_eq!(sampled.len(), 1, "the sampling handler ran once");
    assert_eq!(sampled[0]["messages"], asked["params"]["messages"]);
    assert_eq!(answered["content"]["text"], model_text);
    assert_eq!(answer(calls[1])["result"]["content"][0]["text"], model_text);
    assert_eq!(
        steps(summary, "call summarize_notes")[0]["text"],
        model_text
    );
}

/// `delete_note` of note 1 on the notes server, twice: each time one elicitation round under the
/// tool's own key `confirm`, asking a yes or no with the server's message, which the client's
/// elicitation handler saw; declined, the note stays; accepted, it goes (as `list_notes` shows
/// around them). Returns each round's record of the handler, what the server asked and what the
/// client answered.
pub(crate) fn assert_delete_rounds(summary: &Value) -> Vec<(&Value, &Value, &Value)> {
    let calls = tool_calls(summary, "delete_note");
    assert_eq!(calls.len(), 4, "two calls, each with its retry");
    let handled = summary["elicitation"].as_array().unwrap();
    assert_eq!(handled.len(), 2, "the elicitation handler ran twice");
    let mut rounds = Vec::new();
    for (round, (handled, expected)) in calls
        .chunks(2)
        .zip(handled.iter().zip(["decline", "accept"]))
    {
        let (key, asked, answered) = assert_input_round(round[0], round[1], "elicitation/create");
        assert_eq!(key, "confirm", "asked under delete_note's own key");
        let message = asked["params"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(r#"Delete note 1 ("e2e")?"#),
            "{message}"
        );
        let schema = &asked["params"]["requestedSchema"];
        assert_eq!(schema["properties"]["ok"]["type"], "boolean");
        assert_eq!(handled["params"]["message"], message);
        assert_eq!(handled["params"]["requestedSchema"], *schema);
        assert_eq!(answered["action"], expected);
        rounds.push((handled, asked, answered));
    }
    let deletes = steps(summary, "call delete_note");
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
    let lists = steps(summary, "call list_notes");
    assert_eq!(
        lists.iter().map(|s| ids(s)).collect::<Vec<_>>(),
        [vec![], vec![1, 2], vec![2]]
    );
    rounds
}

// ---- scope rules beyond a tool's fixed scopes: a step-up, then the call again ------------------

/// A `tools/call` refused for want of a scope and the call again once the client stepped up,
/// on the wire: the refusal is HTTP 403 with a `WWW-Authenticate` challenge of error
/// `insufficient_scope` naming `scope` (2026-07-28: the operation's own scopes) and a JSON-RPC
/// error saying the `rule` that refused it and that `notes:admin` is missing; the call again
/// carries another token and completes. Returns its result.
pub(crate) fn assert_step_up<'a>(
    refused: &Value,
    retry: &'a Value,
    scope: &str,
    rule: &str,
) -> &'a Value {
    assert_eq!(refused["status"], 403, "{refused}");
    let challenge = refused["response"]["www-authenticate"]
        .as_str()
        .unwrap_or_else(|| panic!("a 403 without a challenge: {refused}"));
    for part in [
        r#"Bearer error="insufficient_scope""#,
        &format!(r#"scope="{scope}""#),
    ] {
        assert!(challenge.contains(part), "{challenge} lacks {part}");
    }
    let error = &answer(refused)["error"];
    assert_eq!(error["data"]["rule"], rule, "{error}");
    assert_eq!(
        error["data"]["missingScopes"],
        json!(["notes:admin"]),
        "{error}"
    );

    assert_eq!(retry["status"], 200, "{retry}");
    assert_eq!(retry["bodyName"], refused["bodyName"], "{retry}");
    assert_ne!(
        retry["request"]["bearer"], refused["request"]["bearer"],
        "the call again with the new token: {retry}"
    );
    let result = &answer(retry)["result"];
    assert_eq!(result["resultType"], "complete", "{retry}");
    assert_ne!(result["isError"], true, "{retry}");
    result
}

/// The note the clients write with `confidential: true` (title `secret`, body `for admins`), as
/// a tool returned it: `confidential` is there, and true.
pub(crate) fn assert_confidential_note(result: &Value, id: u64) {
    assert_eq!(
        result["structuredContent"],
        json!({
            "id": id,
            "title": "secret",
            "body": "for admins",
            "author": "developer",
            "confidential": true
        }),
        "{result}"
    );
}

/// The fingerprint of the access token `summary`'s client was issued `n`th (from 0): what the
/// wire records of the bearer token each request carried.
pub(crate) fn token(summary: &Value, n: usize) -> &Value {
    &steps(summary, "token")[n]["fingerprint"]
}

/// The reader of the confidential-note step-up: authorized for `notes:read`, it reads the
/// plain note (its result is returned), is refused the confidential note `confidential` at run
/// time (`may_require`), steps up to `notes:admin` and reads it; the `get_note` calls in order.
pub(crate) fn assert_confidential_reader<'a>(
    reader: &'a Value,
    url: &str,
    confidential: u64,
) -> (&'a Value, Vec<&'a Value>) {
    assert_authorized_for(reader, url, &["notes:read", "notes:read notes:admin"]);
    assert_eq!(reader["tokenScope"], "notes:read notes:admin");
    assert_stateless_modern_wire(reader);
    let gets = tool_calls(reader, "get_note");
    assert_eq!(
        gets.len(),
        3,
        "the plain note, the confidential one refused, and again"
    );
    assert_eq!(gets[0]["status"], 200, "{}", gets[0]);
    for get in &gets[..2] {
        assert_eq!(get["request"]["bearer"], *token(reader, 0), "{get}");
    }
    let read = assert_step_up(gets[1], gets[2], "notes:admin notes:read", "may_require");
    assert_eq!(gets[2]["request"]["bearer"], *token(reader, 1));
    assert_confidential_note(read, confidential);
    let plain = &answer(gets[0])["result"]["structuredContent"];
    (plain, gets)
}
