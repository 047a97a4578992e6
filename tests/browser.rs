//! A browser-based MCP client against the quick start: the TypeScript SDK v2 client
//! (`@modelcontextprotocol/client`) in a page, in headless Chromium, served from another origin
//! than the server's, runs the whole OAuth flow against `examples/quickstart.rs` and its
//! development authorization server: discovery (the Protected Resource Metadata, the
//! authorization server's metadata), dynamic registration, the consent page in a popup (Approve
//! clicked), the token, a tool call, then a step-up after a 403 `insufficient_scope`. Every
//! request is cross-origin, so CORS runs for real, and the test fails on any CORS error, failed
//! request or page error in the browser's console (`tests/e2e/browser.mjs`).
//!
//! Needs the `tests/e2e` npm packages (`npm ci --prefix tests/e2e`; `scripts/test` does it) and
//! Debian's `chromium` (`apt-get install chromium`; `scripts/test` installs it when missing) or
//! `$SCOPEGATE_E2E_CHROMIUM` naming a Chromium. Without them it fails saying so; it never skips.
//!
//! Every process binds 127.0.0.1 (port 0), is killed when its handle drops, and every wait has a
//! timeout (`support/e2e.rs` runs them).

#[path = "support/e2e.rs"]
mod e2e;

use std::path::Path;

use serde_json::Value;

use e2e::{McpServer, Node, Process, steps, system_binary};

/// Headless Chromium: `$SCOPEGATE_E2E_CHROMIUM`, else Debian's.
fn chromium() -> String {
    let program = system_binary(
        "SCOPEGATE_E2E_CHROMIUM",
        "/usr/bin/chromium",
        "chromium",
        "--version",
        "chromium",
        "the browser test drives headless Chromium",
    );
    program.to_str().expect("a UTF-8 path").to_owned()
}

/// Runs `tests/e2e/browser.mjs` against `url` and returns its JSON summary, which must say
/// `"ok": true`.
async fn browser_client(url: &str, logs: impl Fn() -> String) -> Value {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules");
    for package in ["puppeteer-core", "esbuild"] {
        assert!(
            modules.join(package).join("package.json").exists(),
            "{} is missing {package}: run `npm ci --prefix tests/e2e` (scripts/test does)",
            modules.display(),
        );
    }
    let mut command = Node::get().command("browser.mjs", &[url]);
    command.env("SCOPEGATE_E2E_CHROMIUM", chromium());
    let mut process = Process::spawn("browser", command);
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "browser.mjs ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            logs()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "browser.mjs failed ({status}): {}\nproblems: {:#}\n{}{}",
        summary["error"],
        summary["problems"],
        process.log(),
        logs()
    );
    summary
}

/// The statuses of the page's requests to `url` with `method`.
fn statuses(summary: &Value, method: &str, url: &str) -> Vec<u64> {
    summary["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .filter(|e| e["method"] == method && e["url"] == url)
        .filter_map(|e| e["status"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_in_chromium_completes_oauth_and_step_up_against_the_quickstart() {
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0"]).await;
    let summary = browser_client(&server.url, || server.process.log()).await;
    let base = server.url.trim_end_matches("/mcp");

    // Nothing went wrong in the browser: no CORS error, no failed request, no page error.
    assert_eq!(summary["problems"], serde_json::json!([]), "{summary:#}");
    for message in summary["console"].as_array().expect("console") {
        let text = message["text"].as_str().unwrap_or_default();
        assert!(
            !text.contains("CORS") && !text.contains("Access-Control"),
            "{message}"
        );
    }

    // The page was on another origin, and discovery crossed it: both metadata documents were
    // read (the client sends `mcp-protocol-version` with them, so each was preflighted).
    let origin = summary["origin"].as_str().expect("origin");
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");
    assert!(
        !server.url.starts_with(origin),
        "{origin} vs {}",
        server.url
    );
    let prm = format!("{base}/.well-known/oauth-protected-resource/mcp");
    assert!(
        statuses(&summary, "GET", &prm).contains(&200),
        "{:#}",
        summary["exchanges"]
    );
    let as_metadata_read = summary["exchanges"].as_array().unwrap().iter().any(|e| {
        e["status"] == 200
            && e["url"].as_str().is_some_and(|u| {
                u.contains("/.well-known/oauth-authorization-server")
                    || u.contains("/.well-known/openid-configuration")
            })
    });
    assert!(as_metadata_read, "{:#}", summary["exchanges"]);

    // The flow: a 401, registration, two consents approved in the popup (the first token, the
    // step-up), each answered with RFC 9207 `iss`.
    assert!(
        statuses(&summary, "POST", &server.url).contains(&401),
        "{summary:#}"
    );
    assert_eq!(steps(&summary, "registered").len(), 1, "{summary:#}");
    assert_eq!(summary["consents"], 2, "{summary:#}");
    let authorizations = steps(&summary, "authorize");
    assert_eq!(authorizations.len(), 2, "{summary:#}");
    assert_eq!(authorizations[0]["scope"], "notes:read");
    assert_eq!(authorizations[0]["resource"], server.url.as_str());
    assert_eq!(authorizations[0]["code_challenge_method"], "S256");
    assert_eq!(authorizations[1]["scope"], "notes:read notes:write");
    for response in steps(&summary, "authorization response") {
        assert_eq!(response["has_iss"], true, "{response}");
    }
    let tokens = steps(&summary, "token");
    assert_eq!(tokens.len(), 2, "{summary:#}");
    assert_eq!(tokens[0]["scope"], "notes:read");
    assert_eq!(tokens[1]["scope"], "notes:read notes:write");

    // Tools: listed, read, refused with insufficient_scope, written after the step-up.
    let listed = steps(&summary, "tools/list");
    assert_eq!(
        listed[0]["tools"],
        serde_json::json!([
            "add_note",
            "delete_note",
            "export_notes",
            "get_note",
            "list_notes",
            "purge_notes",
            "summarize_notes",
            "whoami"
        ])
    );
    let forbidden = steps(&summary, "forbidden");
    let challenge = forbidden[0]["www_authenticate"].as_str().unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="notes:read notes:write""#),
        "{challenge}"
    );
    let written = steps(&summary, "call add_note");
    assert_eq!(written.len(), 1, "{summary:#}");
    assert_eq!(written[0]["after_step_up"], true);
    assert_eq!(written[0]["structuredContent"]["title"], "from the browser");
    let reads = steps(&summary, "call list_notes");
    assert_eq!(reads.len(), 2, "{summary:#}");
    assert_eq!(
        reads[0]["structuredContent"]["notes"],
        serde_json::json!([])
    );
    assert_eq!(
        reads[1]["structuredContent"]["notes"][0]["title"],
        "from the browser"
    );
}
