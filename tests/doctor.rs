//! The doctor (`scopegate::doctor`) against the development server, and against broken
//! fixtures: each test asserts the named check's grade and the exit code. Every server binds
//! 127.0.0.1.

#[path = "support/files.rs"]
mod files;
// The development server's tokens (reqwest with forms: not for every user of `support`).
#[path = "support/dev_token.rs"]
mod dev_token;
mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_token::dev_token;
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::doctor::{DoctorOptions, Grade, Report, run};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::json;
use support::{JwksMode, KeyServer};

/// Asserts the check `name` has `grade`, showing the whole report otherwise.
#[track_caller]
fn assert_grade(report: &Report, name: &str, grade: Grade) {
    assert_eq!(report.grade(name), Some(grade), "{name} in:\n{report}");
}

/// The files server on 127.0.0.1, its tokens checked against `issuer`; returns the endpoint.
async fn files_server(issuer: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = files::Files::default().into_server().unwrap();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(issuer))
        .unwrap();
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    resource
}

/// A key server and the files server trusting it.
async fn fixture() -> (KeyServer, String) {
    let keys = KeyServer::start().await;
    let endpoint = files_server(&keys.issuer()).await;
    (keys, endpoint)
}

async fn doctor(endpoint: &str, token: Option<&str>) -> Report {
    let mut options = DoctorOptions::new(endpoint);
    options.token = token.map(str::to_owned);
    run(options).await
}

#[tokio::test]
async fn a_sound_fixture_passes_and_its_token_unlocks_what_its_scopes_allow() {
    let (keys, endpoint) = fixture().await;
    let token = keys.token(&endpoint, "files:read").build();
    let report = doctor(&endpoint, Some(&token)).await;
    for name in [
        "resource metadata",
        "resource",
        "authorization servers",
        "issuer metadata",
        "issuer match",
        "S256",
        "jwks reachable",
        "jwks asymmetric",
        "jwks use",
        "jwks alg",
        "jwks private parts",
        "token endpoint auth methods",
        "token signature",
        "token aud",
        "token exp",
        "token",
        "resource indicators",
        "token tools",
    ] {
        assert_grade(&report, name, Grade::Pass);
    }
    // The key server offers no registration: a warning, which fails only when strict.
    assert_grade(&report, "registration", Grade::Warn);
    assert_grade(&report, "jwks certificates", Grade::Skip);
    assert_eq!(report.exit_code(), 0, "{report}");
    let tools = &report.line("token tools").unwrap().detail;
    assert!(tools.contains("source: the server's tools/list"), "{tools}");
    assert!(
        tools.contains("unlock: read_file, whoami; not: write_file (needs files:write), audit (needs audit:run)"),
        "{tools}"
    );
    let strict = run(DoctorOptions::new(&endpoint).token(&token).strict(true)).await;
    assert_eq!(strict.exit_code(), 1, "{strict}");
    let text = report.to_string();
    assert!(text.contains("\nwarn  registration "), "{text}");
    assert!(text.ends_with("; exit 0\n"), "{text}");
}

#[tokio::test]
async fn an_issuer_without_s256_fails() {
    let (keys, endpoint) = fixture().await;
    let mut metadata = keys.metadata();
    metadata
        .as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    keys.set_raw_metadata(Some(metadata));
    let report = doctor(&endpoint, None).await;
    assert_grade(&report, "S256", Grade::Fail);
    assert_grade(&report, "issuer match", Grade::Pass);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn an_issuer_that_differs_by_a_trailing_slash_fails_on_its_own_line() {
    let (keys, endpoint) = fixture().await;
    keys.set_issuer_override(Some(format!("{}/", keys.issuer())));
    let report = doctor(&endpoint, None).await;
    assert_grade(&report, "issuer match", Grade::Fail);
    let line = report.line("issuer match").unwrap();
    assert!(line.detail.contains("trailing `/`"), "{report}");
    // The rest is still checked on the document found.
    assert_grade(&report, "S256", Grade::Pass);
    assert_grade(&report, "jwks reachable", Grade::Pass);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn an_hs256_only_key_set_fails() {
    let (keys, endpoint) = fixture().await;
    keys.set_raw_jwks(Some(json!({"keys": [
        {"kty": "oct", "kid": "shared", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(b"a secret of thirty-two bytes!!!!")}
    ]})));
    let token = keys.token(&endpoint, "files:read").build();
    let report = doctor(&endpoint, Some(&token)).await;
    assert_grade(&report, "jwks asymmetric", Grade::Fail);
    assert_grade(&report, "jwks private parts", Grade::Fail);
    // No key the server can use: the token fails at its key.
    assert_grade(&report, "token key (kid)", Grade::Fail);
    assert!(
        report
            .line("token key (kid)")
            .unwrap()
            .detail
            .starts_with("FIRST FAILURE"),
        "{report}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn an_unreachable_key_set_fails() {
    let (keys, endpoint) = fixture().await;
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut metadata = keys.metadata();
    metadata["jwks_uri"] = json!(format!("http://{closed}/jwks"));
    keys.set_raw_metadata(Some(metadata));
    let report = doctor(&endpoint, None).await;
    assert_grade(&report, "jwks reachable", Grade::Fail);
    assert_grade(&report, "jwks asymmetric", Grade::Skip);
    assert_eq!(report.exit_code(), 1);

    // A key set that answers 503 is no better.
    keys.set_raw_metadata(None);
    keys.set_mode(JwksMode::Down);
    let report = doctor(&endpoint, None).await;
    assert_grade(&report, "jwks reachable", Grade::Fail);
    assert!(
        report
            .line("jwks reachable")
            .unwrap()
            .detail
            .contains("503"),
        "{report}"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_fails_at_aud_and_resource_indicators() {
    let (keys, endpoint) = fixture().await;
    let token = keys.token("http://127.0.0.1:1/other", "files:read").build();
    let report = doctor(&endpoint, Some(&token)).await;
    assert_grade(&report, "token signature", Grade::Pass);
    assert_grade(&report, "token aud", Grade::Fail);
    assert!(
        report
            .line("token aud")
            .unwrap()
            .detail
            .starts_with("FIRST FAILURE"),
        "{report}"
    );
    assert_grade(&report, "resource indicators", Grade::Fail);
    // The server refuses the token, so the tools come from the advertised scopes.
    let tools = &report.line("token tools").unwrap().detail;
    assert!(
        tools.contains("source: the advertised scopes_supported only"),
        "{tools}"
    );
    assert!(tools.contains("401"), "{tools}");
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn an_expired_token_fails_at_exp_and_later_failures_are_listed_too() {
    let (keys, endpoint) = fixture().await;
    let token = keys
        .token(&endpoint, "files:read")
        .expired()
        .iss("http://127.0.0.1:1")
        .build();
    let report = doctor(&endpoint, Some(&token)).await;
    assert_grade(&report, "token exp", Grade::Fail);
    assert!(
        report
            .line("token exp")
            .unwrap()
            .detail
            .starts_with("FIRST FAILURE"),
        "{report}"
    );
    assert_grade(&report, "token iss", Grade::Fail);
    assert!(
        report
            .line("token iss")
            .unwrap()
            .detail
            .starts_with("also: "),
        "{report}"
    );
    assert_grade(&report, "token aud", Grade::Pass);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_forged_signature_is_explained_and_the_claims_still_read() {
    let (keys, endpoint) = fixture().await;
    let token = keys.token(&endpoint, "files:read").build();
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_payload =
        URL_SAFE_NO_PAD.encode(br#"{"iss":"x","aud":"y","sub":"s","exp":4000000000}"#);
    parts[1] = &forged_payload;
    let report = doctor(&endpoint, Some(&parts.join("."))).await;
    assert_grade(&report, "token signature", Grade::Fail);
    assert_grade(&report, "token iss", Grade::Fail);
    assert_grade(&report, "token exp", Grade::Pass);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn bad_input_is_one_clear_line_and_exit_1() {
    let (_keys, endpoint) = fixture().await;
    let report = doctor(&endpoint, Some("not-a-jwt")).await;
    assert_grade(&report, "token shape", Grade::Fail);
    assert_grade(&report, "token (not checked)", Grade::Skip);
    assert_eq!(report.count(Grade::Fail), 1, "{report}");
    assert_eq!(report.exit_code(), 1);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = doctor(&format!("http://{closed}/mcp"), None).await;
    assert_eq!(report.lines().len(), 1, "{report}");
    assert_grade(&report, "resource metadata", Grade::Fail);
    assert_eq!(report.exit_code(), 1);

    let report = doctor("not a url", None).await;
    assert_eq!(report.lines().len(), 1, "{report}");
    assert_grade(&report, "endpoint", Grade::Fail);
    assert_eq!(report.exit_code(), 1);
}

// ---- the development server ---------------------------------------------------------------

/// Reads.
#[mcp_tool(scope = "notes:read", read_only)]
fn read_notes() -> String {
    "notes".into()
}

/// Writes.
#[mcp_tool(scope = "notes:write")]
fn write_note() -> String {
    "written".into()
}

#[derive(McpServer)]
#[mcp(name = "notes", tools(read_notes, write_note))]
struct Notes;

#[tokio::test]
async fn the_development_server_passes_and_its_token_is_explained() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = Server::new(Notes).unwrap();
    let dev = DevAuth::new(
        &server,
        &resource,
        DevAuthConfig::default().auto_approve(true),
    )
    .unwrap();
    let issuer = dev.issuer().to_owned();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(&issuer))
        .unwrap()
        .merge(dev.router());
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });

    let report = doctor(&resource, None).await;
    for name in [
        "resource metadata",
        "resource",
        "issuer match",
        "S256",
        "registration",
        "token endpoint auth methods",
        "jwks reachable",
        "jwks asymmetric",
        "jwks alg",
        "jwks private parts",
    ] {
        assert_grade(&report, name, Grade::Pass);
    }
    assert_grade(&report, "resource indicators", Grade::Skip);
    assert_eq!(report.exit_code(), 0, "{report}");

    let token = dev_token(&issuer, &resource, "notes:read").await;
    let report = run(DoctorOptions::new(&resource).token(&token).strict(true)).await;
    assert_grade(&report, "token", Grade::Pass);
    assert_grade(&report, "resource indicators", Grade::Pass);
    let tools = &report.line("token tools").unwrap().detail;
    assert!(
        tools.contains("unlock: read_notes; not: write_note (needs notes:write)"),
        "{report}"
    );
    assert_eq!(report.count(Grade::Fail), 0, "{report}");
}
