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
//! timeout (`support/e2e.rs` runs them).

#[path = "support/e2e.rs"]
mod e2e;

use std::process::ExitStatus;

use serde_json::Value;

use e2e::{
    AuthorizationServer, MODERN, McpServer, NOTES_TOOLS, Node, OIDC_TEST_USER, Process, answer,
    assert_authorized_for, assert_stateless_modern_wire, node_script, steps, wire,
};

// ---- the pieces: the stack under test, clients -------------------------------------------------

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
    node_script("client.mjs", &args, logs).await
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
    node_script("modern-client.mjs", &[url, "--profile", profile], logs).await
}

// ---- assertions shared by every flow ------------------------------------------------------------

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

    assert_authorized_for(summary, url, &["notes:read", "notes:read notes:write"]);

    let forbidden = &steps(summary, "forbidden")[0]["www_authenticate"];
    let forbidden = forbidden.as_str().expect("a 403 challenge");
    for part in [
        r#"error="insufficient_scope""#.to_owned(),
        r#"scope="notes:read notes:write""#.to_owned(),
        format!(r#"resource_metadata="{metadata}""#),
    ] {
        assert!(forbidden.contains(&part), "{forbidden} lacks {part}");
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
async fn typescript_sdk_v2_binds_its_tokens_with_dpop_and_steps_up_in_the_dpop_scheme() {
    // The quickstart accepts DPoP beside bearer tokens; SDK v2's provider here implements
    // `dpop()`, so every token it gets is bound to its key and every request carries a proof.
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let summary = node_script("dpop.mjs", &[server.url.as_str()], || server.process.log()).await;
    let thumbprint = summary["thumbprint"].as_str().expect("a thumbprint");
    let tokens = summary["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "one token, then the step-up's: {tokens:?}");
    for token in tokens {
        assert_eq!(token["token_type"], "DPoP", "{token}");
        assert_eq!(token["cnf"]["jkt"], thumbprint, "{token}");
    }
    assert_eq!(tokens[1]["scope"], "notes:read notes:write");
    // Every authenticated exchange was in the DPoP scheme with a proof; none as a bearer.
    let mcp = summary["mcp"].as_array().unwrap();
    let authenticated: Vec<&Value> = mcp.iter().filter(|e| !e["scheme"].is_null()).collect();
    assert!(authenticated.len() >= 4, "{mcp:?}");
    for exchange in &authenticated {
        assert_eq!(exchange["scheme"], "DPoP", "{exchange}");
        assert_eq!(exchange["proof"], true, "{exchange}");
    }
    let forbidden = steps(&summary, "forbidden")[0]["www_authenticate"]
        .as_str()
        .unwrap();
    assert!(
        forbidden.starts_with("DPoP error=\"insufficient_scope\""),
        "{forbidden}"
    );
    assert_eq!(
        steps(&summary, "call add_note")[0]["structuredContent"]["title"],
        "dpop"
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

    let exchanges = assert_stateless_modern_wire(summary);
    assert_eq!(
        exchanges.first().map(|e| &e["rpc"]),
        Some(&Value::from("server/discover")),
        "the pinned client opens with server/discover"
    );
    for exchange in &exchanges {
        if exchange.get("id").is_none() || exchange["status"] != 200 {
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

/// The doctor against a real authorization server: the notes example behind oidc-provider (its
/// scopes from the Keycloak export) has sound metadata, issuer, PKCE and keys.
#[tokio::test]
async fn the_doctor_passes_the_notes_server_behind_oidc_provider() {
    use scopegate::doctor::{DoctorOptions, Grade, run};
    let stack = NotesWithOidcProvider::start().await;
    let report = run(DoctorOptions::new(&stack.notes.url)).await;
    for check in [
        "resource metadata",
        "resource",
        "authorization servers",
        "issuer metadata",
        "issuer match",
        "S256",
        "jwks reachable",
        "jwks asymmetric",
        "jwks private parts",
    ] {
        assert_eq!(
            report.grade(check),
            Some(Grade::Pass),
            "{check}: {report}\n{}",
            stack.logs()
        );
    }
    assert_eq!(report.exit_code(), 0, "{report}");
}
