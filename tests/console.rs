//! The development console (`GET /dev-auth/console`): over plain HTTP, that it lists every scope
//! with what it unlocks, answers loopback requests only, and carries a strict CSP; and, in
//! headless Chromium against the quick start, that it mints a token through the consent page,
//! decodes it, and calls tools with it, a missing scope showing the 403 challenge
//! (`tests/e2e/console.mjs` drives the page).
//!
//! The browser test needs the `tests/e2e` npm packages (`npm ci --prefix tests/e2e`;
//! `scripts/test` does it) and Debian's `chromium` (`scripts/test` installs it when missing) or
//! `$SCOPEGATE_E2E_CHROMIUM`. Without them it fails saying so; it never skips. Every server
//! binds 127.0.0.1.

#[path = "support/e2e.rs"]
mod e2e;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::http::LocalAddr;
use scopegate::prelude::*;
use serde_json::Value;
use tower::ServiceExt as _;

use e2e::{McpServer, Node, Process, system_binary};

/// Reads.
#[mcp_tool(scope = "docs:read", read_only)]
fn read_doc() -> String {
    "a doc".into()
}

/// Writes.
#[mcp_tool(scope = "docs:write")]
fn write_doc() -> String {
    "written".into()
}

/// Anyone.
#[mcp_tool(public)]
fn hello() -> String {
    "hello".into()
}

/// A document by id.
#[mcp_resource(uri = "docs://doc/{id}", scope = "docs:read")]
fn doc(id: u32) -> String {
    format!("doc {id}")
}

/// Reviews a document.
#[mcp_prompt(scope = "docs:write")]
fn review(topic: String) -> String {
    format!("Review {topic}")
}

#[derive(McpServer)]
#[mcp(
    name = "docs",
    tools(read_doc, write_doc, hello),
    resources(doc),
    prompts(review),
    scopes("docs:read", "docs:write", "docs:admin"),
    implies("docs:admin" => ["docs:read", "docs:write"]),
)]
struct Docs;

const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
const CONSOLE: &str = "/dev-auth/console";

fn dev_auth() -> (Server<Docs>, DevAuth) {
    let server = Server::new(Docs).unwrap();
    let dev = DevAuth::new(&server, RESOURCE, DevAuthConfig::default()).unwrap();
    (server, dev)
}

/// `GET path` on the development server's router, arriving on `local` with `headers`.
async fn get(
    dev: &DevAuth,
    local: Option<&str>,
    headers: &[(&str, &str)],
) -> axum::http::Response<String> {
    let mut request = Request::builder().uri(CONSOLE);
    if !headers.iter().any(|(name, _)| *name == "host") {
        request = request.header(header::HOST, "127.0.0.1:8080");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    if let Some(local) = local {
        request
            .extensions_mut()
            .insert(LocalAddr(local.parse().unwrap()));
    }
    let response = dev.router().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    axum::http::Response::from_parts(parts, String::from_utf8(body.to_vec()).unwrap())
}

/// The `<tr>` of `scope` in the console's scope table.
fn row<'a>(page: &'a str, scope: &str) -> &'a str {
    let start = page
        .find(&format!(r#"<tr data-scope="{scope}">"#))
        .unwrap_or_else(|| panic!("no row for {scope}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").expect("row ends")]
}

/// The cells of a row, each as the list of `<code>` texts in it (the first is the scope).
fn cells(row: &str) -> Vec<Vec<String>> {
    row.split("</t")
        .filter(|cell| cell.contains("<t"))
        .map(|cell| {
            cell.split("<code")
                .skip(1)
                .map(|c| {
                    let text = &c[c.find('>').unwrap() + 1..];
                    text[..text.find("</code>").unwrap()].to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_console_lists_every_scope_with_its_tools_resources_prompts_and_implications() {
    let (server, dev) = dev_auth();
    let response = get(&dev, Some("127.0.0.1:8080"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.body();
    let table = server.scope_table_json();
    let scopes: Vec<&str> = table["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes.len(), 3, "{table}");
    for scope in &scopes {
        let cells = cells(row(page, scope));
        assert_eq!(cells[0], [*scope], "{cells:?}");
    }
    // scope | implied by | tools | resources | prompts
    assert_eq!(
        cells(row(page, "docs:read"))[1..],
        [
            vec!["docs:admin".to_owned()],
            vec!["read_doc".into()],
            vec!["docs://doc/{id}".into()],
            vec![],
        ]
    );
    assert_eq!(
        cells(row(page, "docs:write"))[1..],
        [
            vec!["docs:admin".to_owned()],
            vec!["write_doc".into()],
            vec![],
            vec!["review".into()],
        ]
    );
    assert_eq!(
        cells(row(page, "docs:admin"))[1..],
        [
            vec![],
            vec!["read_doc".to_owned(), "write_doc".into()],
            vec!["docs://doc/{id}".into()],
            vec!["review".into()],
        ]
    );
    // The mint form offers each scope; the call panel's data names every tool, public ones too.
    for scope in &scopes {
        assert!(
            page.contains(&format!(r#"name="scope" value="{scope}""#)),
            "{scope}"
        );
    }
    let data = page
        .split(r#"<script type="application/json" id="console-data">"#)
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the data block");
    let data: Value = serde_json::from_str(data).unwrap();
    let tools: Vec<&str> = data["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["read_doc", "write_doc", "hello"]);
    assert_eq!(data["resource"], RESOURCE);
    assert_eq!(data["issuer"], dev.issuer());
    assert_eq!(data["tools"][2]["public"], true);
    assert_eq!(data["tools"][0]["read_only"], true);
}

#[tokio::test]
async fn the_console_answers_loopback_requests_only() {
    let (_, dev) = dev_auth();
    assert_eq!(
        get(&dev, Some("[::1]:8080"), &[]).await.status(),
        StatusCode::OK
    );
    for local in ["192.0.2.2:8080", "0.0.0.0:8080"] {
        assert_eq!(
            get(&dev, Some(local), &[]).await.status(),
            StatusCode::FORBIDDEN,
            "{local}"
        );
    }
    // Served by something that does not say where the request arrived.
    assert_eq!(get(&dev, None, &[]).await.status(), StatusCode::FORBIDDEN);
    // Through a proxy or tunnel on this machine.
    for forwarded in ["forwarded", "x-forwarded-for", "via"] {
        let response = get(&dev, Some("127.0.0.1:8080"), &[(forwarded, "1.2.3.4")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{forwarded}");
    }
    // DNS rebinding: a foreign name for this address.
    let response = get(
        &dev,
        Some("127.0.0.1:8080"),
        &[("host", "evil.example:8080")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_console_has_a_strict_csp_with_a_fresh_nonce_and_may_not_be_framed_or_read_across_origins()
 {
    let (_, dev) = dev_auth();
    let origin = [("origin", "http://evil.example")];
    let first = get(&dev, Some("127.0.0.1:8080"), &origin).await;
    assert_eq!(first.status(), StatusCode::OK);
    let headers = first.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce");
    assert!(nonce.len() >= 16, "{nonce}");
    for expected in [
        "default-src 'none'".to_owned(),
        format!("script-src 'nonce-{nonce}'"),
        format!("style-src 'nonce-{nonce}'"),
        // The page calls its own origin's endpoints and the resource's.
        "connect-src 'self' http://127.0.0.1:8080".to_owned(),
        "base-uri 'none'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
        "form-action 'self'".to_owned(),
    ] {
        assert!(directives.contains(&expected.as_str()), "{expected}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // No CORS: a page on another origin cannot read it.
    assert!(
        !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{headers:?}"
    );
    // Its one style and its one script carry the nonce; nothing is loaded from elsewhere.
    let page = first.body();
    assert_eq!(page.matches(&format!(r#"nonce="{nonce}""#)).count(), 2);
    assert_eq!(
        page.matches("<script").count(),
        2,
        "the data block and the script"
    );
    for external in ["src=", "href=\"http", "@import"] {
        assert!(!page.contains(external), "{external}");
    }
    let style = &page[page.find("<style").unwrap()..page.find("</style>").unwrap()];
    assert!(!style.contains("url("), "{style}");
    // No inline event handler (the CSP would refuse it anyway).
    for handler in [
        "onclick=",
        "onload=",
        "onerror=",
        "onsubmit=",
        "onchange=",
        "oninput=",
    ] {
        assert!(!page.contains(handler), "{handler}");
    }
    // A nonce serves one response only.
    let second = get(&dev, Some("127.0.0.1:8080"), &[]).await;
    let csp2 = second.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(!csp2.contains(nonce), "{csp2}");
}

/// Headless Chromium: `$SCOPEGATE_E2E_CHROMIUM`, else Debian's.
fn chromium() -> String {
    let program = system_binary(
        "SCOPEGATE_E2E_CHROMIUM",
        "/usr/bin/chromium",
        "chromium",
        "--version",
        "chromium",
        "the console test drives headless Chromium",
    );
    program.to_str().expect("a UTF-8 path").to_owned()
}

/// A JSON text the page showed, parsed.
fn shown(summary: &Value, pointer: &str) -> Value {
    let text = summary
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {summary:#}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{pointer}: {e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_console_mints_a_token_through_the_consent_page_and_calls_tools_with_it() {
    let modules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules");
    assert!(
        modules.join("puppeteer-core/package.json").exists(),
        "{} is missing puppeteer-core: run `npm ci --prefix tests/e2e` (scripts/test does)",
        modules.display(),
    );
    // The consent page is on: the page goes through it, and the driver clicks Approve.
    let server = McpServer::start("quickstart", &["--addr", "127.0.0.1:0"]).await;
    let base = server.url.trim_end_matches("/mcp");
    let console = format!("{base}/dev-auth/console");
    let mut command = Node::get().command("console.mjs", &[&console]);
    command.env("SCOPEGATE_E2E_CHROMIUM", chromium());
    let mut process = Process::spawn("console", command);
    let status = process.finish().await;
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| {
        panic!(
            "console.mjs ({status}) did not end with a JSON summary ({e})\n{}{}",
            process.log(),
            server.process.log()
        )
    });
    assert!(
        status.success() && summary["ok"] == true,
        "console.mjs failed ({status}): {}\n{}{}",
        summary["error"],
        process.log(),
        server.process.log()
    );

    // Every scope of the quick start, with its tools.
    let scopes: Vec<&str> = summary["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["notes:admin", "notes:read", "notes:write"]);
    assert_eq!(
        summary["scopes"][1]["cells"],
        serde_json::json!([
            ["notes:admin"],
            ["list_notes", "get_note", "summarize_notes", "export_notes"],
            ["notes://note/{id}"],
            ["summarize"]
        ])
    );
    assert_eq!(summary["token_before"], false);

    // The consent page, asked for notes:read with PKCE and the resource, on this origin.
    let consent = summary["consent"]["url"].as_str().unwrap();
    assert!(
        consent.starts_with(&format!("{base}/dev-auth/authorize?")),
        "{consent}"
    );
    for part in [
        "code_challenge_method=S256",
        "scope=notes%3Aread",
        "response_type=code",
    ] {
        assert!(consent.contains(part), "{part}: {consent}");
    }
    assert_eq!(summary["consent"]["title"], "Authorize access");
    assert_eq!(
        summary["consent"]["scopes"],
        serde_json::json!(["notes:read"])
    );

    // The decoded token: an RFC 9068 access token for the resource, with notes:read only; the
    // code is gone from the address bar.
    let token = &summary["token"];
    assert_eq!(
        token["location"].as_str().unwrap(),
        console,
        "the code stays out of the URL"
    );
    let header = shown(&summary, "/token/header");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = shown(&summary, "/token/claims");
    assert_eq!(claims["scope"], "notes:read");
    assert_eq!(claims["aud"], server.url.as_str());
    assert_eq!(claims["iss"], format!("{base}/dev-auth"));
    assert_eq!(token["scope"], "notes:read");
    let raw = token["raw"].as_str().unwrap();
    assert_eq!(raw.split('.').count(), 3, "{raw}");

    // list_notes: allowed. The curl line carries the token and calls the MCP endpoint.
    let calls = summary["calls"].as_array().unwrap();
    assert_eq!(calls[0]["tool"], "list_notes");
    assert_eq!(calls[0]["status"], 200, "{:#}", calls[0]);
    assert_eq!(calls[0]["challenge_shown"], false);
    let answer = shown(&summary, "/calls/0/body");
    assert_eq!(
        answer["result"]["structuredContent"],
        serde_json::json!({"notes": []})
    );
    let curl = calls[0]["curl"].as_str().unwrap();
    assert!(
        curl.starts_with(&format!("curl -si '{}'", server.url)),
        "{curl}"
    );
    assert!(
        curl.contains(&format!("'authorization: Bearer {raw}'")),
        "{curl}"
    );
    assert!(curl.contains("'mcp-name: list_notes'"), "{curl}");

    // add_note: the 403 and its challenge, shown.
    assert_eq!(calls[1]["tool"], "add_note");
    assert_eq!(calls[1]["status"], 403, "{:#}", calls[1]);
    assert_eq!(calls[1]["challenge_shown"], true);
    let challenge = calls[1]["challenge"].as_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="notes:write""#)
            && challenge.contains("resource_metadata="),
        "{challenge}"
    );
    let refused = shown(&summary, "/calls/1/body");
    assert_eq!(
        refused["error"]["data"]["missingScopes"],
        serde_json::json!(["notes:write"])
    );

    // Nothing went wrong in the page: no script error, and no CSP violation (Chromium reports
    // one as a console error); the one expected error is the 403 itself.
    assert_eq!(summary["page_errors"], serde_json::json!([]), "{summary:#}");
    for message in summary["console"].as_array().unwrap() {
        let text = message["text"].as_str().unwrap_or_default();
        assert!(
            !text.contains("Content Security Policy") && !text.contains("Refused to"),
            "{message}"
        );
        // Chromium asks for /favicon.ico by itself on the consent page, which names no icon.
        let favicon = message["url"] == format!("{base}/favicon.ico").as_str();
        if message["type"] == "error" && !favicon {
            assert!(
                text.contains("status of 403") && message["url"] == server.url.as_str(),
                "{message}"
            );
        }
    }
}
