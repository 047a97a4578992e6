//! 2026-07-28 input requests (SEP-2322) and tasks (the `io.modelcontextprotocol/tasks` extension,
//! SEP-2663) end to end, with a real client and OAuth: the TypeScript SDK v2
//! (`@modelcontextprotocol/client`) pinned to 2026-07-28 against the `quickstart` example (the
//! notes server and its development authorization server) runs the authorization flow and a
//! step-up, then calls `summarize_notes`, which samples the client's model, and `delete_note`,
//! which asks the user to confirm. The client answers both through its own `sampling` and
//! `elicitation` handlers, as a 2026-07-28 client does: the server answers `input_required`, the
//! client sends the call again with the answers and the sealed `requestState`.
//!
//! Then `@modelcontextprotocol/ext-tasks` over the same client calls `export_notes`, which goes on
//! as a task: the call is answered with the task's id, the task asks for a confirmation that the
//! client answers with `tasks/update`, and the client polls `tasks/get` until the export is
//! there; a second step-up (`purge_notes`, `notes:admin`) goes through that same path, and a
//! second export runs with the new token.
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

/// The fingerprint of the access token issued `n`th (from 0): what the wire records of the
/// bearer token each request carried.
fn token(summary: &Value, n: usize) -> &Value {
    &steps(summary, "token")[n]["fingerprint"]
}

/// OAuth over 2026-07-28: the 401 at `server/discover`, step-ups whose challenges name the tool's
/// own scope (2026-07-28), and SDK v2 asking each time for the union of that and what it held.
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
    assert_eq!(authorize.len(), 3, "one authorization, two step-ups");
    assert_eq!(authorize[0]["scope"], "notes:read");
    assert_eq!(authorize[1]["scope"], "notes:read notes:write");
    assert_eq!(authorize[2]["scope"], "notes:read notes:write notes:admin");
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
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    let scopes = [
        "notes:read",
        "notes:read notes:write",
        "notes:read notes:write notes:admin",
    ];
    for (token, scope) in tokens.iter().zip(scopes) {
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
        // The tasks extension routes every request about a task by its id (SEP-2663).
        if exchange["rpc"]
            .as_str()
            .is_some_and(|m| m.starts_with("tasks/"))
        {
            assert!(exchange["taskId"].is_string(), "{exchange}");
            assert_eq!(
                exchange["request"]["mcp-name"], exchange["taskId"],
                "{exchange}"
            );
        }
    }
    assert_eq!(summary["transportSessionId"], Value::Null);
    assert_eq!(summary["transportSessionIdAfter"], Value::Null);
}

/// The exchanges about task `id` after the call that created it (`tasks/get`, `tasks/update`).
fn task_requests<'a>(summary: &'a Value, id: &Value) -> Vec<&'a Value> {
    wire(summary, "modern")
        .into_iter()
        .filter(|e| e["taskId"] == *id)
        .collect()
}

/// One `export_notes` call that went on as a task, on the wire, and the client's record of it
/// (the `task export_notes` step). The call declared the tasks extension and was answered with a
/// `CreateTaskResult`; every request about the task named it in `Mcp-Name` and carried the bearer
/// token `bearer`; the task showed its confirmation question (`input_required`), the client
/// answered it with `tasks/update` as `answered`, and the task then completed. Returns the
/// completed task as `tasks/get` showed it last.
fn assert_export_task<'a>(
    summary: &'a Value,
    call: &'a Value,
    step: &Value,
    bearer: &Value,
    answered: &Value,
) -> &'a Value {
    assert_eq!(call["status"], 200, "{call}");
    assert_eq!(call["extensions"], json!(["io.modelcontextprotocol/tasks"]));
    assert_eq!(call["request"]["bearer"], *bearer, "{call}");
    let created = &answer(call)["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    for absent in ["content", "result", "inputRequests"] {
        assert!(created.get(absent).is_none(), "{created}");
    }
    let id = &created["taskId"];
    assert!(id.as_str().is_some_and(|id| !id.is_empty()), "{created}");
    assert_eq!(step["taskId"], *id);

    let requests = task_requests(summary, id);
    assert!(
        !requests.is_empty(),
        "the client never asked about task {id}"
    );
    for request in &requests {
        assert_eq!(request["status"], 200, "{request}");
        assert_eq!(request["request"]["mcp-name"], *id, "{request}");
        assert_eq!(
            request["request"]["mcp-method"], request["rpc"],
            "{request}"
        );
        assert_eq!(request["request"]["bearer"], *bearer, "{request}");
        assert_eq!(answer(request)["result"]["resultType"], "complete");
    }
    let rpcs: Vec<&str> = requests
        .iter()
        .map(|r| r["rpc"].as_str().unwrap())
        .collect();
    let update = rpcs
        .iter()
        .position(|rpc| *rpc == "tasks/update")
        .expect("a tasks/update");
    assert_eq!(
        rpcs.iter().filter(|rpc| **rpc == "tasks/update").count(),
        1,
        "{rpcs:?}"
    );
    assert!(
        rpcs.iter()
            .all(|rpc| ["tasks/get", "tasks/update"].contains(rpc)),
        "{rpcs:?}"
    );
    let statuses: Vec<&Value> = requests
        .iter()
        .filter(|r| r["rpc"] == "tasks/get")
        .map(|r| &answer(r)["result"]["status"])
        .collect();

    // Before the update, the task waited on its question, shown by tasks/get.
    let asked = &answer(requests[update - 1])["result"];
    assert_eq!(requests[update - 1]["rpc"], "tasks/get");
    assert_eq!(asked["status"], "input_required", "{asked}");
    let question = &asked["inputRequests"]["confirm"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    assert_eq!(
        question["params"]["requestedSchema"]["properties"]["ok"]["type"],
        "boolean"
    );
    assert_eq!(
        requests[update]["inputResponses"],
        json!({ "confirm": answered })
    );

    // After it, polls until the task is done, its result inside.
    let last = requests.last().unwrap();
    assert_eq!(last["rpc"], "tasks/get");
    let done = &answer(last)["result"];
    assert_eq!(done["status"], "completed", "{statuses:?}");
    assert_eq!(done["taskId"], *id);
    assert!(done.get("inputRequests").is_none(), "{done}");
    // The result of a 2026-07-28 `tools/call`, as the call would have answered it.
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(
        statuses[..statuses.len() - 1]
            .iter()
            .all(|s| *s == "input_required" || *s == "working"),
        "{statuses:?}"
    );
    assert_eq!(
        step["statuses"].as_array().unwrap().last().unwrap(),
        "completed"
    );
    assert_eq!(
        step["isError"],
        done["result"]["isError"].as_bool().unwrap_or(false)
    );
    done
}

/// `export_notes` through ext-tasks, twice: confirmed (the export), then, after a step-up on the
/// same path, declined (the tool's error, still a completed task). The session's input handler
/// saw each question as the task's, delivered by `tasks/update`.
fn assert_tasks(summary: &Value) {
    let calls = tool_calls(summary, "export_notes");
    assert_eq!(calls.len(), 2, "two exports, each answered with a task");
    let tasks = steps(summary, "task export_notes");
    let handled = summary["taskInputs"].as_array().unwrap();
    assert_eq!(handled.len(), 2, "{handled:?}");

    // 1. Confirmed, with the token of the first step-up: the export of the one note left.
    let accept = json!({ "action": "accept", "content": { "ok": true } });
    let done = assert_export_task(summary, calls[0], tasks[0], token(summary, 1), &accept);
    let export = &done["result"]["structuredContent"];
    assert_eq!(export["count"], 1, "{done}");
    assert_eq!(export["notes"][0]["title"], "groceries");
    assert_eq!(export["notes"][0]["body"], "milk");
    assert_eq!(tasks[0]["structuredContent"], *export);
    assert_eq!(tasks[0]["isError"], false);

    // 2. A step-up on the same path: purge_notes sent by ext-tasks, refused for notes:admin, sent
    //    again with the new token and answered at once.
    let purges = tool_calls(summary, "purge_notes");
    assert_eq!(purges.len(), 2, "the call and its retry");
    for purge in &purges {
        assert_eq!(
            purge["extensions"],
            json!(["io.modelcontextprotocol/tasks"])
        );
    }
    assert_eq!(purges[0]["status"], 403, "{}", purges[0]);
    assert_eq!(purges[0]["request"]["bearer"], *token(summary, 1));
    let challenge = purges[0]["response"]["www-authenticate"].as_str().unwrap();
    for part in [r#"error="insufficient_scope""#, r#"scope="notes:admin""#] {
        assert!(challenge.contains(part), "{challenge} lacks {part}");
    }
    assert_eq!(purges[1]["status"], 200, "{}", purges[1]);
    assert_eq!(purges[1]["request"]["bearer"], *token(summary, 2));
    assert_eq!(answer(purges[1])["result"]["resultType"], "complete");
    assert_eq!(
        steps(summary, "call purge_notes")[0]["text"],
        "removed 1 notes"
    );

    // 3. Declined, with the new token: the task completes with the tool's error.
    let decline = json!({ "action": "decline" });
    let done = assert_export_task(summary, calls[1], tasks[1], token(summary, 2), &decline);
    assert_eq!(done["result"]["isError"], true, "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(text, "not exported: the user did not confirm (decline)");
    assert_eq!(tasks[1]["text"], text);

    // The client saw each question as its task's, and answered it by tasks/update.
    for ((handled, task), (call, answered)) in handled
        .iter()
        .zip(&tasks)
        .zip(calls.iter().zip([&accept, &decline]))
    {
        let id = &answer(call)["result"]["taskId"];
        assert_eq!(handled["taskId"], *id);
        assert_eq!(task["taskId"], *id);
        assert_eq!(
            (&handled["scope"], &handled["delivery"], &handled["inputId"]),
            (&json!("task"), &json!("task-update"), &json!("confirm"))
        );
        assert_eq!(handled["kind"], "elicitation");
        assert_eq!(handled["answered"], *answered);
        let asked = task_requests(summary, id)
            .into_iter()
            .find(|r| answer(r)["result"]["status"] == "input_required")
            .map(|r| &answer(r)["result"]["inputRequests"]["confirm"]["params"])
            .unwrap();
        assert_eq!(handled["params"], *asked);
    }
    let messages: Vec<&Value> = handled.iter().map(|h| &h["params"]["message"]).collect();
    assert_eq!(
        messages,
        [
            "Export 1 note, their text included?",
            "Export 0 notes, their text included?"
        ]
    );
}

#[tokio::test]
async fn a_modern_typescript_client_authorizes_steps_up_answers_input_requests_and_runs_tasks() {
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
        ("export_notes", json!(["notes:read"])),
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

    // export_notes as a task, through ext-tasks, and a step-up on that path.
    assert_tasks(&summary);
}
