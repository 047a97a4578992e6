//! The audit (`scopegate::audit`) against the quickstart's notes server with the development
//! server (every check passes), and against fixture servers written here by hand with axum,
//! each broken in one way, where the named check fails. Every server binds 127.0.0.1.

#[allow(dead_code)]
#[path = "../examples/common/notes.rs"]
mod notes;
// The development server's tokens (reqwest with forms: not for every user of `support`).
#[path = "support/dev_token.rs"]
mod dev_token;
mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_token::dev_token;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use scopegate::audit::{AuditOptions, Grade, Report, run};
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::http::HttpConfig;
use scopegate::prelude::McpServerExt as _;
use serde_json::{Value, json};
use support::{KeyServer, quickstart_binary, run_quickstart};

/// Asserts the check `name` has `grade`, showing the whole report otherwise.
#[track_caller]
fn assert_grade(report: &Report, name: &str, grade: Grade) {
    assert_eq!(report.grade(name), Some(grade), "{name} in:\n{report}");
}

/// Every check the audit runs with a token and a tool.
const ALL: [&str; 19] = [
    "resource metadata",
    "resource metadata (root)",
    "resource",
    "authorization servers",
    "resource metadata fields",
    "resource metadata CORS",
    "401 without a token",
    "401 resource_metadata",
    "401 scope",
    "401 no error code",
    "garbage token",
    "token in query",
    "foreign Origin",
    "token accepted",
    "forged claims",
    "alg none",
    "hs256 with public key",
    "unknown kid",
    "signature stripped",
];

// ---- the quickstart's notes server -------------------------------------------------------

/// The quickstart: the notes server with the development server beside it; returns the
/// endpoint and the issuer.
async fn quickstart() -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = notes::Notes::default().into_server().unwrap();
    let dev = DevAuth::new(
        &server,
        &resource,
        DevAuthConfig::default().auto_approve(true),
    )
    .unwrap();
    let issuer = dev.issuer().to_owned();
    let config = HttpConfig::new(&resource)
        .initial_scopes(["notes:read"])
        .jwt_issuer(&issuer);
    let router = server.http(config).unwrap().merge(dev.router());
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    (resource, issuer)
}

#[tokio::test]
async fn the_quickstart_passes_every_check() {
    let (resource, issuer) = quickstart().await;
    let report = run(AuditOptions::new(&resource).strict(true)).await;
    for name in &ALL[..13] {
        assert_grade(&report, name, Grade::Pass);
    }
    assert_grade(&report, "token accepted", Grade::Skip);
    assert_eq!(report.exit_code(), 0, "{report}");

    // A token without `notes:read`, and a read-only tool that needs it.
    let token = dev_token(&issuer, &resource, "notes:write").await;
    let report = run(AuditOptions::new(&resource)
        .token(&token)
        .tool("list_notes")
        .strict(true))
    .await;
    for name in ALL.iter().chain(["403 insufficient_scope"].iter()) {
        assert_grade(&report, name, Grade::Pass);
    }
    assert_eq!(report.count(Grade::Warn) + report.count(Grade::Fail), 0);
    assert_eq!(report.exit_code(), 0, "{report}");
    let step_up = &report.line("403 insufficient_scope").unwrap().detail;
    assert!(step_up.contains("notes:read"), "{report}");
    let hs256 = &report.line("hs256 with public key").unwrap().detail;
    assert!(hs256.contains("all refused"), "{report}");
    let text = report.to_string();
    assert!(
        text.ends_with("0 warn, 0 fail, 0 skip; exit 0 (strict)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_tool_not_marked_read_only_is_never_called_unless_allowed() {
    let (resource, issuer) = quickstart().await;
    let token = dev_token(&issuer, &resource, "notes:read").await;
    // `purge_notes` is destructive and needs `notes:admin`.
    let report = run(AuditOptions::new(&resource)
        .token(&token)
        .tool("purge_notes"))
    .await;
    assert_grade(&report, "403 insufficient_scope", Grade::Skip);
    let line = &report.line("403 insufficient_scope").unwrap().detail;
    assert!(line.contains("not marked read-only"), "{report}");
    // Allowed, it is called, and refused for want of `notes:admin`.
    let report = run(AuditOptions::new(&resource)
        .token(&token)
        .tool("purge_notes")
        .allow_writes(true))
    .await;
    assert_grade(&report, "403 insufficient_scope", Grade::Pass);
    let line = &report.line("403 insufficient_scope").unwrap().detail;
    assert!(line.contains("notes:admin"), "{report}");
}

#[tokio::test]
async fn bad_input_is_one_clear_line_and_exit_1() {
    let report = run(AuditOptions::new("not a url")).await;
    assert_eq!(report.lines().len(), 1, "{report}");
    assert_grade(&report, "endpoint", Grade::Fail);
    assert_eq!(report.exit_code(), 1);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = run(AuditOptions::new(format!("http://{closed}/mcp"))).await;
    assert_grade(&report, "resource metadata", Grade::Fail);
    assert_grade(&report, "401 without a token", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
}

// ---- fixture servers, each broken in one way ---------------------------------------------

/// What a fixture gets wrong.
#[derive(Default, Clone, Copy)]
struct Flaws {
    /// Reads `?access_token=`.
    query_token: bool,
    /// Accepts `alg: none`.
    alg_none: bool,
    /// Verifies HS256 with the public key's PEM as the secret.
    hs256_pem: bool,
    /// Its 401 has no `resource_metadata`.
    no_resource_metadata: bool,
    /// Its metadata has no CORS header.
    no_cors: bool,
    /// Accepts any `Origin`.
    foreign_origin: bool,
    /// Runs tools whatever the token's scopes.
    ignores_scope: bool,
}

struct Fixture {
    flaws: Flaws,
    keys: KeyServer,
    endpoint: String,
    origin: String,
    /// Calls of the `wipe` tool.
    wipes: AtomicUsize,
}

impl Fixture {
    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.origin)
    }

    /// The token's claims, if this fixture accepts it.
    fn verify(&self, token: &str) -> Option<Value> {
        let part = |i: usize| -> Option<Value> {
            let b64 = token.split('.').nth(i)?;
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).ok()?).ok()
        };
        let header = part(0)?;
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.set_audience(&[&self.endpoint]);
            v.set_issuer(&[self.keys.issuer()]);
            v
        };
        let key = &self.keys.keys()[0];
        match header.get("alg")?.as_str()? {
            "none" if self.flaws.alg_none => part(1),
            "HS256" if self.flaws.hs256_pem => {
                let pem = key.rsa_public_key_pem()?;
                let secret = DecodingKey::from_secret(pem.as_bytes()).ok()?;
                jsonwebtoken::decode::<Value>(token, &secret, &validation(Algorithm::HS256))
                    .ok()
                    .map(|data| data.claims)
            }
            "RS256" if header.get("kid")?.as_str()? == key.kid() => jsonwebtoken::decode::<Value>(
                token,
                &key.decoding_key(),
                &validation(Algorithm::RS256),
            )
            .ok()
            .map(|data| data.claims),
            _ => None,
        }
    }
}

fn challenge(fixture: &Fixture, error: Option<&str>) -> String {
    let mut value = String::from("Bearer ");
    if let Some(error) = error {
        value.push_str(&format!("error=\"{error}\", "));
    }
    value.push_str("scope=\"files:read\"");
    if !fixture.flaws.no_resource_metadata {
        value.push_str(&format!(
            ", resource_metadata=\"{}\"",
            fixture.metadata_url()
        ));
    }
    value
}

async fn metadata(State(fixture): State<Arc<Fixture>>) -> Response {
    let document = Json(json!({
        "resource": fixture.endpoint,
        "authorization_servers": [fixture.keys.issuer()],
        "scopes_supported": ["files:read", "files:admin"],
        "bearer_methods_supported": ["header"],
    }));
    if fixture.flaws.no_cors {
        document.into_response()
    } else {
        ([(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], document).into_response()
    }
}

async fn mcp(
    State(fixture): State<Arc<Fixture>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| o != fixture.origin) && !fixture.flaws.foreign_origin {
        return StatusCode::FORBIDDEN.into_response();
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = match (bearer, query.get("access_token")) {
        (Some(token), _) => token,
        (None, Some(token)) if fixture.flaws.query_token => token.as_str(),
        (None, Some(_)) => return StatusCode::BAD_REQUEST.into_response(),
        (None, None) => {
            let value = challenge(&fixture, None);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, value)],
            )
                .into_response();
        }
    };
    let Some(claims) = fixture.verify(token) else {
        let value = challenge(&fixture, Some("invalid_token"));
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, value)],
        )
            .into_response();
    };
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    let scopes = claims["scope"].as_str().unwrap_or_default().to_owned();
    let result = match body["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fixture", "version": "1"},
        }),
        "tools/list" => json!({"tools": [
            {"name": "secret", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}},
            {"name": "wipe", "inputSchema": {"type": "object"}, "annotations": {"destructiveHint": true}},
        ]}),
        "tools/call" => {
            let admin = scopes.split(' ').any(|s| s == "files:admin");
            if !admin && !fixture.flaws.ignores_scope {
                let value = format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scopes} files:admin\", resource_metadata=\"{}\"",
                    fixture.metadata_url()
                );
                return (StatusCode::FORBIDDEN, [(header::WWW_AUTHENTICATE, value)])
                    .into_response();
            }
            if body["params"]["name"] == "wipe" {
                fixture.wipes.fetch_add(1, Ordering::SeqCst);
            }
            json!({"content": [{"type": "text", "text": "done"}]})
        }
        _ => return StatusCode::ACCEPTED.into_response(),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// A fixture with `flaws` on 127.0.0.1, trusting a key server; returns it and a token for it
/// with `files:read`.
async fn fixture(flaws: Flaws) -> (Arc<Fixture>, String) {
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = format!("{origin}/mcp");
    let token = keys.token(&endpoint, "files:read").build();
    let fixture = Arc::new(Fixture {
        flaws,
        keys,
        endpoint,
        origin,
        wipes: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route("/mcp", post(mcp))
        .route("/.well-known/oauth-protected-resource/mcp", get(metadata))
        .route("/.well-known/oauth-protected-resource", get(metadata))
        .with_state(fixture.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (fixture, token)
}

async fn audit(fixture: &Fixture, token: &str, tool: &str) -> Report {
    run(AuditOptions::new(&fixture.endpoint).token(token).tool(tool)).await
}

/// Asserts that `name` has `grade` and every other check passes.
#[track_caller]
fn only(report: &Report, name: &str, grade: Grade) {
    assert_grade(report, name, grade);
    for line in report.lines().iter().filter(|line| line.name != name) {
        assert_eq!(line.grade, Grade::Pass, "{} in:\n{report}", line.name);
    }
}

#[tokio::test]
async fn a_sound_fixture_passes_every_check() {
    let (fixture, token) = fixture(Flaws::default()).await;
    let report = audit(&fixture, &token, "secret").await;
    for name in ALL.iter().chain(["403 insufficient_scope"].iter()) {
        assert_grade(&report, name, Grade::Pass);
    }
    assert_eq!(report.exit_code(), 0, "{report}");
    let hs256 = &report.line("hs256 with public key").unwrap().detail;
    assert!(hs256.starts_with("5 HS256 tokens"), "{report}");
}

#[tokio::test]
async fn a_token_in_the_query_string_accepted_fails() {
    let (fixture, token) = fixture(Flaws {
        query_token: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "token in query", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
    // Without a token, reading the query shows as `invalid_token` for a garbage one.
    let report = run(AuditOptions::new(&fixture.endpoint)).await;
    assert_grade(&report, "token in query", Grade::Warn);
}

#[tokio::test]
async fn alg_none_accepted_fails() {
    let (fixture, token) = fixture(Flaws {
        alg_none: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "alg none", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn hs256_with_the_public_key_pem_accepted_fails() {
    let (fixture, token) = fixture(Flaws {
        hs256_pem: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "hs256 with public key", Grade::Fail);
    let line = &report.line("hs256 with public key").unwrap().detail;
    assert!(
        line.contains("signed with the PEM of public key"),
        "{report}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_401_without_resource_metadata_fails() {
    let (fixture, token) = fixture(Flaws {
        no_resource_metadata: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "401 resource_metadata", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn metadata_without_cors_warns_and_fails_when_strict() {
    let (fixture, token) = fixture(Flaws {
        no_cors: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "resource metadata CORS", Grade::Warn);
    assert_eq!(report.exit_code(), 0);
    let strict = run(AuditOptions::new(&fixture.endpoint).strict(true)).await;
    assert_grade(&strict, "resource metadata CORS", Grade::Warn);
    assert_eq!(strict.exit_code(), 1, "{strict}");
}

#[tokio::test]
async fn a_foreign_origin_accepted_fails() {
    let (fixture, token) = fixture(Flaws {
        foreign_origin: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "foreign Origin", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_tool_run_without_its_scope_fails_and_a_destructive_one_is_not_called() {
    let (fixture, token) = fixture(Flaws {
        ignores_scope: true,
        ..Flaws::default()
    })
    .await;
    let report = audit(&fixture, &token, "secret").await;
    only(&report, "403 insufficient_scope", Grade::Fail);
    assert_eq!(report.exit_code(), 1);

    let report = audit(&fixture, &token, "wipe").await;
    assert_grade(&report, "403 insufficient_scope", Grade::Skip);
    assert_eq!(fixture.wipes.load(Ordering::SeqCst), 0);
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[tokio::test]
async fn forgeries_are_not_tried_when_the_genuine_token_is_refused() {
    let (fixture, _) = fixture(Flaws::default()).await;
    let other = fixture
        .keys
        .token("http://127.0.0.1:1/other", "files:read")
        .build();
    let report = audit(&fixture, &other, "secret").await;
    assert_grade(&report, "token accepted", Grade::Fail);
    assert_grade(&report, "alg none", Grade::Skip);
    assert_grade(&report, "403 insufficient_scope", Grade::Skip);
    assert_eq!(report.exit_code(), 1);
}

// ---- the quickstart's command line ---------------------------------------------------------

/// `--audit URL [--token T] [--tool NAME] [--strict]` against a running quickstart: every check
/// passes (exit 0, one line per check and a summary); `--tool` without `--token` is refused.
#[tokio::test]
async fn the_quickstart_runs_the_audit() {
    use std::io::BufRead as _;
    let mut server = Command::new(quickstart_binary())
        .args(["--addr", "127.0.0.1:0", "--auto-approve"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the quickstart starts");
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let mut url = None;
    let mut issuer = None;
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(found) = line.strip_prefix("MCP endpoint: ") {
            url = Some(found.trim().to_owned());
        }
        if let Some(found) = line.strip_prefix("issuer:") {
            issuer = Some(found.trim().to_owned());
            break;
        }
    }
    let (url, issuer) = (url.expect("an endpoint"), issuer.expect("an issuer"));
    // Its log goes on: read it to the end, or its writes would fail on a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let token = dev_token(&issuer, &url, "notes:write").await;
    let (code, stdout, stderr) = run_quickstart(&[
        "--audit",
        &url,
        "--token",
        &token,
        "--tool",
        "list_notes",
        "--strict",
    ]);
    let (bare_code, bare, _) = run_quickstart(&["--audit", &url]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for line in [
        "pass  401 resource_metadata",
        "pass  alg none",
        "pass  hs256 with public key",
        "pass  403 insufficient_scope",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(
        stdout.ends_with("0 warn, 0 fail, 0 skip; exit 0 (strict)\n"),
        "{stdout}"
    );
    assert_eq!(bare_code, Some(0), "{bare}");
    assert!(bare.contains("skip  token accepted"), "{bare}");

    let (code, _, stderr) = run_quickstart(&["--audit", &url, "--tool", "list_notes"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--token <TOKEN>"), "{stderr}");
}
