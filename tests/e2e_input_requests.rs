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
//! Last, the scope rules beyond a tool's fixed scope, each through a client of its own (the first
//! holds `notes:admin` by then): one authorized for `notes:read notes:write` calls `add_note`
//! with `confidential: true`, which needs `notes:admin` too (`when`), and steps up; one holding
//! `notes:read` alone calls `get_note` on that note, whose handler asks for `notes:admin` once it
//! finds the note confidential (`may_require`), and steps up. Both refusals are the HTTP 403
//! step-up of a fixed scope.
//!
//! `tests/e2e/modern-oauth.mjs` is the client; it records every exchange with the MCP endpoint,
//! and this test asserts on that record. The Node packages come from
//! `tests/e2e/package-lock.json` (`npm ci --prefix tests/e2e`); without them the test fails,
//! saying so. Every process binds 127.0.0.1 and is killed when its handle drops.

#[path = "support/e2e.rs"]
mod e2e;

use serde_json::{Value, json};

use e2e::{
    MODERN, McpServer, answer, assert_authorized_for, assert_confidential_note,
    assert_confidential_reader, assert_delete_rounds, assert_notes_tools_meta,
    assert_stateless_modern_wire, assert_step_up, assert_summarize_round, node_script, steps,
    token, tool_calls, wire,
};

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
    let scopes = [
        "notes:read",
        "notes:read notes:write",
        "notes:read notes:write notes:admin",
    ];
    assert_authorized_for(summary, url, &scopes);
    let refused = tool_calls(summary, "add_note")[0];
    assert_eq!(refused["status"], 403, "{refused}");
    let forbidden = refused["response"]["www-authenticate"].as_str().unwrap();
    for part in [r#"error="insufficient_scope""#, r#"scope="notes:write""#] {
        assert!(forbidden.contains(part), "{forbidden} lacks {part}");
    }
    assert!(
        exchanges[1..]
            .iter()
            .all(|e| e["request"]["authorization"] == true),
        "every request after the first carries the token"
    );
}

/// Every request of the modern client, on the wire: 2026-07-28 without a session (see
/// [`assert_stateless_modern_wire`]), and no session on the client's transport either.
fn assert_stateless(summary: &Value) {
    for exchange in assert_stateless_modern_wire(summary) {
        // wire.mjs leaves out what a request does not carry: nothing is null unless the client
        // sent null (`assert_input_round` takes null for absent, as wire.py writes it).
        for field in ["requestState", "inputResponses"] {
            assert_ne!(exchange.get(field), Some(&Value::Null), "{exchange}");
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

/// The scope rules beyond a tool's fixed scope, through the script's two other clients, each
/// with its own registration, tokens and wire (`writer` and `reader` in the summary):
///
/// - the writer, authorized for `notes:read notes:write`, adds a plain note with that token, then
///   a confidential one: 403 naming `notes:admin notes:write` (`when(confidential => …)`); SDK v2
///   asks for the union, and the call again with the new token returns the note, confidential;
/// - the reader, authorized for `notes:read`, reads the plain note with that token, then the
///   confidential one: 403 naming `notes:admin notes:read` though the tool's fixed scope is
///   `notes:read` alone (the handler asked for `notes:admin`, `may_require`); SDK v2 asks for
///   `notes:read notes:admin`, and the call again returns the note.
fn assert_scope_rules(summary: &Value, url: &str) {
    let writer = &summary["writer"];
    assert_authorized_for(
        writer,
        url,
        &[
            "notes:read notes:write",
            "notes:read notes:write notes:admin",
        ],
    );
    assert_eq!(writer["tokenScope"], "notes:read notes:write notes:admin");
    assert_stateless_modern_wire(writer);
    let adds = tool_calls(writer, "add_note");
    assert_eq!(
        adds.len(),
        3,
        "a plain note, a confidential one refused, and again"
    );
    assert_eq!(adds[0]["status"], 200, "{}", adds[0]);
    let plain = &answer(adds[0])["result"]["structuredContent"];
    assert_eq!(plain["title"], "plain", "{plain}");
    assert!(
        plain.get("confidential").is_none(),
        "absent when false: {plain}"
    );
    for add in &adds[..2] {
        assert_eq!(add["request"]["bearer"], *token(writer, 0), "{add}");
    }
    let added = assert_step_up(
        adds[1],
        adds[2],
        "notes:admin notes:write",
        r#"when(confidential => "notes:admin")"#,
    );
    assert_eq!(adds[2]["request"]["bearer"], *token(writer, 1));
    // The notes were purged before: the plain note is 1, the confidential one 2.
    assert_confidential_note(added, 2);

    let (read_plain, _) = assert_confidential_reader(&summary["reader"], url, 2);
    assert_eq!(read_plain, plain);
}

#[tokio::test]
async fn a_modern_typescript_client_authorizes_steps_up_answers_input_requests_and_runs_tasks() {
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let url = server.url.as_str();
    let summary = node_script("modern-oauth.mjs", &[url], || server.process.log()).await;
    assert_eq!(summary["protocolVersion"], MODERN);
    assert_eq!(summary["era"], "modern");
    assert_authorization(&summary, url);
    assert_stateless(&summary);
    for (tool, scopes) in [
        ("summarize_notes", json!(["notes:read"])),
        ("delete_note", json!(["notes:write"])),
        ("export_notes", json!(["notes:read"])),
    ] {
        assert_eq!(summary["requiredScopes"][tool], scopes, "{tool}");
    }

    // summarize_notes: one sampling round; delete_note: declined, then accepted.
    assert_summarize_round(&summary);
    for (handled, asked, _) in assert_delete_rounds(&summary) {
        assert_eq!(
            handled["params"], asked["params"],
            "the handler saw the request"
        );
    }

    // export_notes as a task, through ext-tasks, and a step-up on that path.
    assert_tasks(&summary);

    // add_note's rule over its arguments and get_note's scope asked for at run time, each a
    // step-up; the rules are in tools/list.
    assert_notes_tools_meta(&summary);
    assert_scope_rules(&summary, url);
}
