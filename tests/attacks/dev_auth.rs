//! The development authorization server: exposure, token abuse, consent flooding, a shared
//! quota and a proxy in front.

use reqwest::{RequestBuilder, StatusCode};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::capture::capture;
use crate::cases::{assert_no_failures, truncate};
use crate::files::{Files, Runs};
use crate::harness::call_body;
use crate::support;

// ---- the development authorization server: exposure and token abuse ------------------------
//
// The development server hands out any scope without a login. Every case asserts the status,
// that no Bearer challenge and no credential (client, code or token) came back, the audit
// event on `scopegate::dev_auth`, and that the files server behind it ran no tool; a control
// shows a token from the same server does run one.

const DEV: &str = "scopegate::dev_auth";

/// The files server with the development server mounted, served by `serve_on` (or plain
/// `axum::serve` when `plain`) on 127.0.0.1, with `config` applied.
async fn dev_server(
    plain: bool,
    config: impl FnOnce(scopegate::dev_auth::DevAuthConfig) -> scopegate::dev_auth::DevAuthConfig,
) -> (String, Runs) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let runs = Runs::default();
    let server = Server::new(Files { runs: runs.clone() }).unwrap();
    let dev = scopegate::dev_auth::DevAuth::new(
        &server,
        &resource,
        config(scopegate::dev_auth::DevAuthConfig::default().auto_approve(true)),
    )
    .unwrap();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(dev.issuer()))
        .unwrap()
        .merge(dev.router());
    if plain {
        tokio::spawn(async move { axum::serve(listener, router).await });
    } else {
        tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    }
    (base, runs)
}

/// RFC 7636 appendix B's verifier and its S256 challenge.
const DEV_VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1ZqAVuBS9t2u5s2Bs5G8r6W6J6k3Ck";
const DEV_CHALLENGE: &str = "kkW_ZCh3g8Pxxy8pvrI-Rq5Lf9STUO5Ayb7Nx0V9azU";
const DEV_REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Registers a public client that may refresh, authorizes (auto-approved) and redeems the
/// code: returns the client id, the code and the token response.
async fn dev_flow(client: &reqwest::Client, base: &str, scope: &str) -> (String, String, Value) {
    let registered: Value = client
        .post(format!("{base}/dev-auth/register"))
        .json(
            &json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none",
            "grant_types":["authorization_code","refresh_token"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let r = client
        .get(format!("{base}/dev-auth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", DEV_REDIRECT),
            ("code_challenge", DEV_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = client
        .post(format!("{base}/dev-auth/token"))
        .form(&dev_redeem(&id, &code))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, code, tokens)
}

fn dev_redeem<'a>(client: &'a str, code: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEV_REDIRECT),
        ("client_id", client),
        ("code_verifier", DEV_VERIFIER),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn the_development_server_cannot_be_reached_flooded_or_replayed() {
    let (capture, _guard) = capture();
    let (base, runs) = dev_server(false, |c| c).await;
    let (plain, _) = dev_server(true, |c| c).await;
    let (strict, _) = dev_server(false, |c| c.registrations_per_minute(1)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = base.rsplit(':').next().unwrap().to_owned();

    // A stolen refresh token (rotated since) and a redeemed code.
    let (id, _, tokens) = dev_flow(&client, &base, "files:admin").await;
    let stolen = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = client
        .post(format!("{base}/dev-auth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &stolen),
            ("client_id", &id),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (id2, code2, tokens2) = dev_flow(&client, &base, "files:read").await;
    let live2 = tokens2["refresh_token"].as_str().unwrap().to_owned();
    // The strict server's one registration this minute.
    dev_flow(&client, &strict, "files:read").await;

    let register = |base: &str| client.post(format!("{base}/dev-auth/register"));
    let json_to = |base: &str| register(base).header("content-type", "application/json");
    let metadata = format!("{base}/.well-known/oauth-authorization-server/dev-auth");
    let ok_body = json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none"});
    let cases: Vec<(&str, RequestBuilder, StatusCode, &str)> = vec![
        (
            "metadata for a foreign Host (DNS rebinding)",
            client
                .get(&metadata)
                .header("host", format!("evil.example:{port}")),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "registration from a rebound page: Host and Origin the attacker's",
            json_to(&base)
                .header("host", format!("evil.example:{port}"))
                .header("origin", format!("http://evil.example:{port}"))
                .body(ok_body.to_string()),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "token request for a Host on a domain starting with 127.0.0.1",
            client
                .post(format!("{base}/dev-auth/token"))
                .header("host", format!("127.0.0.1.nip.io:{port}"))
                .form(&dev_redeem(&id2, &code2)),
            StatusCode::FORBIDDEN,
            "host_rejected",
        ),
        (
            "a router served where the local address is unknown (plain axum::serve)",
            json_to(&plain).body(ok_body.to_string()),
            StatusCode::FORBIDDEN,
            "local_address_rejected",
        ),
        (
            "registration as text/plain",
            register(&base)
                .header("content-type", "text/plain")
                .body(ok_body.to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "registration_refused",
        ),
        (
            "registration with two Content-Types, JSON first",
            json_to(&base)
                .header("content-type", "text/plain")
                .body(ok_body.to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "registration_refused",
        ),
        (
            "registration of 100 KiB",
            json_to(&base).body(
                json!({"redirect_uris":[DEV_REDIRECT],"x":"x".repeat(100 * 1024)}).to_string(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "registration_refused",
        ),
        (
            "registration of 1,000 redirect URIs",
            json_to(&base).body(json!({"redirect_uris": vec![DEV_REDIRECT; 1000]}).to_string()),
            StatusCode::BAD_REQUEST,
            "registration_refused",
        ),
        (
            "a second registration in a minute at 1 a minute",
            json_to(&strict).body(ok_body.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
            "registration_refused",
        ),
        (
            "a rotated refresh token replayed",
            client.post(format!("{base}/dev-auth/token")).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", stolen.as_str()),
                ("client_id", id.as_str()),
            ]),
            StatusCode::BAD_REQUEST,
            "refresh_token_reused",
        ),
        (
            "an authorization code redeemed twice",
            client
                .post(format!("{base}/dev-auth/token"))
                .form(&dev_redeem(&id2, &code2)),
            StatusCode::BAD_REQUEST,
            "code_replayed",
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (name, request, status, event) in cases {
        let mark = capture.len();
        let runs_before = runs.count();
        let r = request.send().await.unwrap();
        let got = r.status();
        let challenge = r.headers().get("www-authenticate").cloned();
        let location = r.headers().get("location").cloned();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let events = capture.since(mark);
        let mut problems = Vec::new();
        if got != status {
            problems.push(format!("status {got} (expected {status})"));
        }
        if let Some(c) = challenge {
            problems.push(format!("unexpected challenge {c:?}"));
        }
        for credential in [
            "access_token",
            "refresh_token",
            "client_id",
            "client_secret",
        ] {
            if body.get(credential).is_some() {
                problems.push(format!("a {credential} came back"));
            }
        }
        if location.is_some() {
            problems.push("a redirect (with a code?) came back".to_owned());
        }
        if !events.iter().any(|e| e.is(DEV, event)) {
            problems.push(format!("audit: no {event} event on {DEV}"));
        }
        if runs.count() != runs_before {
            problems.push("a tool ran".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{name}] {}\n    body {}\n    events {:?}",
                problems.join("; "),
                truncate(&body.to_string()),
                events.iter().map(|e| &e.fields).collect::<Vec<_>>()
            ));
        }
    }
    // What the replays revoked: the victims' live refresh tokens.
    for (name, client_id, token) in [
        ("after a refresh token replay", &id, &live),
        ("after a code replay", &id2, &live2),
    ] {
        let r = client
            .post(format!("{base}/dev-auth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::BAD_REQUEST {
            failures.push(format!("[{name}] the live refresh token still works"));
        }
    }
    // Control: a token from the same server runs a tool, exactly once.
    let (_, _, tokens) = dev_flow(&client, &base, "files:read").await;
    let r = read_file_with(&client, &base, tokens["access_token"].as_str().unwrap()).await;
    if r.status() != StatusCode::OK {
        failures.push(format!("[control] the tool call got {}", r.status()));
    }
    assert_no_failures("development server", count, &failures);
    assert_eq!(runs.count(), 1, "only the control ran a tool");
}

// ---- the development server: consent flooding, a shared quota, a proxy in front ---------------
//
// Web pages reach the loopback development server through the developer's browser: `<img>`
// requests to `/authorize` (each kept pending with its `state`), a form posting a forged
// approval, registrations that spend a quota shared with the developer's own tools. A reverse
// proxy on the same machine arrives on loopback. Every case asserts the status, that no Bearer
// challenge and no code or credential came back, the audit event, and that no tool ran; the
// controls show the developer's own client still registers, and a token still runs a tool.

/// Registers a public client (with `origin`, if any) on the development server at `base`:
/// the status and the client id.
async fn dev_register(
    client: &reqwest::Client,
    base: &str,
    origin: Option<&str>,
) -> (StatusCode, String) {
    let mut request = client
        .post(format!("{base}/dev-auth/register"))
        .json(&json!({"redirect_uris":[DEV_REDIRECT],"token_endpoint_auth_method":"none"}));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["client_id"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "current_thread")]
async fn the_development_server_keeps_pages_and_proxies_out() {
    let (capture, _guard) = capture();
    let (base, runs) =
        dev_server(false, |c| c.auto_approve(false).max_clients_per_address(2)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize_url = format!("{base}/dev-auth/authorize");
    let (status, id) = dev_register(&client, &base, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let authorize = |state: &str| {
        client.get(&authorize_url).query(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", DEV_REDIRECT),
            ("code_challenge", DEV_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", state),
        ])
    };
    // A consent page left open (its request id), then 19 more pending: the client's 20.
    let page = authorize("s").send().await.unwrap().text().await.unwrap();
    let pending = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    for _ in 0..19 {
        assert_eq!(
            authorize("s").send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    // A page's origin spends its quota of two clients.
    for _ in 0..2 {
        let (status, _) = dev_register(&client, &base, Some("https://evil.example")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let decision = |site: &str| {
        client
            .post(format!("{base}/dev-auth/authorize/decision"))
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "navigate")
            .form(&[("request", pending.as_str()), ("decision", "approve")])
    };
    let metadata = format!("{base}/.well-known/oauth-authorization-server/dev-auth");
    let cases: Vec<(&str, RequestBuilder, StatusCode, &str)> = vec![
        (
            "a 60 KB state, to be kept pending",
            authorize(&"s".repeat(60_000)),
            StatusCode::SEE_OTHER,
            "authorize_refused",
        ),
        (
            "the 21st pending request of one client",
            authorize("s"),
            StatusCode::TOO_MANY_REQUESTS,
            "authorize_refused",
        ),
        (
            "/authorize fetched by an <img> on another page",
            authorize("s")
                .header("sec-fetch-mode", "no-cors")
                .header("sec-fetch-site", "cross-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "an approval posted by a form on another site",
            decision("cross-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "an approval posted from a sibling site",
            decision("same-site"),
            StatusCode::FORBIDDEN,
            "authorize_refused",
        ),
        (
            "a third registration from a page's origin",
            client
                .post(format!("{base}/dev-auth/register"))
                .header("origin", "https://evil.example")
                .json(&json!({"redirect_uris":[DEV_REDIRECT]})),
            StatusCode::TOO_MANY_REQUESTS,
            "registration_refused",
        ),
        (
            "metadata through nginx (X-Forwarded-For, X-Real-IP)",
            client
                .get(&metadata)
                .header("x-forwarded-for", "192.0.2.60")
                .header("x-real-ip", "192.0.2.60"),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "registration through a proxy that writes Forwarded",
            client
                .post(format!("{base}/dev-auth/register"))
                .header("forwarded", "for=192.0.2.60;proto=https")
                .json(&json!({"redirect_uris":[DEV_REDIRECT]})),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "/authorize through a tunnel that writes Via",
            authorize("s").header("via", "1.1 tunnel"),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "a token request with only X-Forwarded-Proto",
            client
                .post(format!("{base}/dev-auth/token"))
                .header("x-forwarded-proto", "https")
                .form(&dev_redeem(&id, "a-code")),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
        (
            "a decision with X-Forwarded-Host",
            client
                .post(format!("{base}/dev-auth/authorize/decision"))
                .header("x-forwarded-host", "dev.example")
                .form(&[("request", pending.as_str()), ("decision", "approve")]),
            StatusCode::FORBIDDEN,
            "forwarded_rejected",
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (name, request, status, event) in cases {
        let mark = capture.len();
        let runs_before = runs.count();
        let r = request.send().await.unwrap();
        let got = r.status();
        let challenge = r.headers().get("www-authenticate").cloned();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap_or("").to_owned());
        let body = r.text().await.unwrap_or_default();
        let events = capture.since(mark);
        let mut problems = Vec::new();
        if got != status {
            problems.push(format!("status {got} (expected {status})"));
        }
        if let Some(c) = challenge {
            problems.push(format!("unexpected challenge {c:?}"));
        }
        // A refusal may redirect with an error, never with a code, nor echo a huge state.
        if let Some(location) = &location {
            let url = reqwest::Url::parse(location).unwrap();
            let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            if !keys.iter().any(|k| k == "error") || keys.iter().any(|k| k == "code") {
                problems.push(format!("a redirect without an error: {keys:?}"));
            }
            if location.len() > 2048 {
                problems.push(format!("a redirect of {} bytes", location.len()));
            }
        }
        for credential in [
            "access_token",
            "refresh_token",
            "client_id",
            "client_secret",
        ] {
            if body.contains(&format!("\"{credential}\"")) {
                problems.push(format!("a {credential} came back"));
            }
        }
        if !events.iter().any(|e| e.is(DEV, event)) {
            problems.push(format!("audit: no {event} event on {DEV}"));
        }
        if runs.count() != runs_before {
            problems.push("a tool ran".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{name}] {}\n    body {}\n    events {:?}",
                problems.join("; "),
                truncate(&body),
                events.iter().map(|e| &e.fields).collect::<Vec<_>>()
            ));
        }
    }
    // Controls: the developer's own tools (no Origin) still register on the same address, and
    // the consent page's own form (same-origin) still gets its code, neither cached nor referred.
    let (status, _) = dev_register(&client, &base, None).await;
    if status != StatusCode::CREATED {
        failures.push(format!(
            "[control] the developer's registration got {status}"
        ));
    }
    let r = decision("same-origin").send().await.unwrap();
    let headers = r.headers();
    let code = headers
        .get("location")
        .and_then(|l| reqwest::Url::parse(l.to_str().ok()?).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        });
    if code.is_none()
        || headers.get("cache-control").is_none_or(|v| v != "no-store")
        || headers
            .get("referrer-policy")
            .is_none_or(|v| v != "no-referrer")
    {
        failures.push(format!(
            "[control] the consent form's approval: {headers:?}"
        ));
    }
    if let Some(code) = code {
        let tokens: Value = client
            .post(format!("{base}/dev-auth/token"))
            .form(&dev_redeem(&id, &code))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = read_file_with(
            &client,
            &base,
            tokens["access_token"].as_str().unwrap_or(""),
        )
        .await;
        if r.status() != StatusCode::OK {
            failures.push(format!("[control] the tool call got {}", r.status()));
        }
    }
    assert_no_failures("development server: pages and proxies", count, &failures);
    assert_eq!(runs.count(), 1, "only the control ran a tool");
}

/// A 2026-07-28 `tools/call` of `read_file` with `access`: the controls' request.
async fn read_file_with(client: &reqwest::Client, base: &str, access: &str) -> reqwest::Response {
    let mut call = call_body("read_file");
    call["params"]["_meta"] = support::modern_meta();
    client
        .post(format!("{base}/mcp"))
        .bearer_auth(access)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "read_file")
        .body(call.to_string())
        .send()
        .await
        .unwrap()
}
