//! Streamable HTTP as an OAuth 2.1 protected resource, over real HTTP on 127.0.0.1, against a
//! local authorization server that signs real tokens and serves its keys.

#[path = "support/files.rs"]
mod files;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use files::{Files, Runs, audit, read_file, whoami, write_file};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use scopegate::auth::JwtConfig;
use scopegate::http::{DenialMode, HttpConfig, ServeOptions};
use scopegate::prelude::*;
use serde_json::{Value, json};
use support::{JwksMode, KeyServer, Segment, TestKey, TokenBuilder};

/// One tool more, with a scope of its own: nothing else changes.
#[mcp_tool(scope = "files:share")]
fn share(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, Ordering::SeqCst);
    "shared".into()
}

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "files",
    tools(read_file, write_file, audit, whoami, share),
    implies("files:admin" => ["files:read", "files:write"]),
)]
struct FilesWithSharing {
    #[mcp(state)]
    runs: Runs,
}

/// A running MCP server on 127.0.0.1 plus the key server it trusts.
struct Harness {
    keys: KeyServer,
    base: String,
    resource: String,
    runs: Runs,
    client: reqwest::Client,
}

async fn start<S: McpServer>(
    server: S,
    runs: Runs,
    keys: KeyServer,
    configure: impl FnOnce(HttpConfig, &KeyServer, &str) -> HttpConfig,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    // The per-address limit is `limits.rs`'s subject; here it would refuse the storm test.
    let base_config = HttpConfig::new(&resource).rate_per_address(None);
    let config = configure(base_config, &keys, &resource);
    // Served as an application serves it: the MCP endpoint answered without axum's router
    // (the other suites serve the router itself, through axum or `serve_with`).
    let options = ServeOptions::default().shutdown_on(std::future::pending());
    tokio::spawn(async move {
        server
            .serve_http_with(listener, config, options)
            .await
            .unwrap();
    });
    Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
    }
}

/// The files server trusting a fresh key server, with JWT verification.
async fn files() -> Harness {
    files_with(|c, _, _| c).await
}

async fn files_with(extra: impl FnOnce(HttpConfig, &KeyServer, &str) -> HttpConfig) -> Harness {
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    start(
        Files { runs: runs.clone() },
        runs,
        keys,
        |config, keys, resource| {
            let jwt = JwtConfig::new(keys.issuer(), resource);
            extra(config.jwt(jwt), keys, resource)
        },
    )
    .await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn session(&self) -> Option<String> {
        self.headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl Harness {
    fn token(&self, scope: &str) -> TokenBuilder {
        self.keys.token(&self.resource, scope)
    }

    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    fn runs(&self) -> usize {
        self.runs.count()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    fn post(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(&self.resource)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    }

    async fn rpc(&self, token: Option<&str>, session: Option<&str>, body: Value) -> Reply {
        self.send(self.post(token, session, &body)).await
    }

    /// Initializes a session with `token`; returns the session id.
    async fn initialize(&self, token: &str) -> String {
        let r = self
            .rpc(
                Some(token),
                None,
                json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.session().expect("initialize issues a session id")
    }

    /// A GET opening `session`'s event stream with `token`.
    fn open_stream(&self, token: &str, session: &str) -> reqwest::RequestBuilder {
        self.client
            .get(&self.resource)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", session)
    }

    async fn call(&self, token: &str, session: &str, tool: &str, args: Value) -> Reply {
        self.rpc(
            Some(token),
            Some(session),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}}),
        )
        .await
    }
}

fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(&challenge[start..end])
}

/// `serve_http_with` answers the endpoint's own path directly and everything else through the
/// router: each path gets what the router alone would give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_endpoints_own_path_bypasses_the_router() {
    let h = files().await;
    let token = h.token("files:read").build();
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let session = h.initialize(&token).await;
    // The endpoint, with a query string (the path is what is matched).
    let query = h
        .send(
            h.post(Some(&token), Some(&session), &list)
                .query(&[("x", "1")]),
        )
        .await;
    assert_eq!(query.status, StatusCode::OK, "{:?}", query.body);
    assert!(query.body["result"]["tools"].is_array());
    // Other paths: the router's routes, or its 404.
    let metadata = h.send(h.client.get(h.metadata_url())).await;
    assert_eq!(metadata.status, StatusCode::OK);
    assert_eq!(metadata.body["resource"], json!(h.resource));
    for path in ["/mcp/", "/mcp/x", "/MCP", "/mcpx", "/"] {
        let url = format!("{}{path}", h.base);
        let reply = h
            .send(
                h.client
                    .post(url)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(list.to_string()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // HEAD and a CORS preflight on the endpoint are the endpoint's, as through the router.
    let head = h.send(h.client.head(&h.resource)).await;
    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let preflight = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "http://localhost:3000")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_served_at_both_locations() {
    let h = files().await;
    for url in [
        h.metadata_url(),
        format!("{}/.well-known/oauth-protected-resource", h.base),
    ] {
        let r = h.send(h.client.get(&url)).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.body,
            json!({
                "resource": h.resource,
                "authorization_servers": [h.keys.issuer()],
                "scopes_supported": ["audit:run", "files:admin", "files:read", "files:write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Files",
            }),
            "{url}"
        );
    }
}

/// The metadata is public (RFC 9728 §3): a browser client on any origin reads it, with the
/// headers MCP clients send on discovery, while the MCP endpoint keeps its allow-list and the
/// probes stay out of CORS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_readable_from_any_origin() {
    let h = files_with(|c, _, _| {
        c.allow_origin("https://app.example.com")
            .health_checks(true)
    })
    .await;
    let token = h.token("files:read").build();
    let root = format!("{}/.well-known/oauth-protected-resource", h.base);
    for url in [h.metadata_url(), root] {
        for origin in ["https://evil.example", "https://app.example.com", "null"] {
            let r = h
                .send(
                    h.client
                        .get(&url)
                        .header("origin", origin)
                        .header("mcp-protocol-version", "2025-11-25"),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{url} {origin}");
            assert_eq!(
                r.headers["access-control-allow-origin"], "*",
                "{url} {origin}"
            );
            assert!(
                !r.headers.contains_key("access-control-allow-credentials"),
                "{url} {origin}"
            );
            assert_eq!(r.body["resource"], json!(h.resource), "{url} {origin}");

            let preflight = h
                .send(
                    h.client
                        .request(reqwest::Method::OPTIONS, &url)
                        .header("origin", origin)
                        .header("access-control-request-method", "GET")
                        .header("access-control-request-headers", "mcp-protocol-version"),
                )
                .await;
            assert!(
                preflight.status.is_success(),
                "{url} {origin}: {}",
                preflight.status
            );
            assert_eq!(preflight.headers["access-control-allow-origin"], "*");
            let methods = preflight.headers["access-control-allow-methods"]
                .to_str()
                .unwrap();
            assert!(methods.contains("GET"), "{url}: {methods}");
            let headers = preflight.headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            assert!(headers.contains("mcp-protocol-version"), "{url}: {headers}");
        }
    }

    // The MCP endpoint: a foreign origin is still refused, and its preflight allows nothing.
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let runs = h.runs();
    let r = h
        .send(
            h.post(Some(&token), None, &ping)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert_eq!(h.runs(), runs);
    let preflight = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(
        !preflight
            .headers
            .contains_key("access-control-allow-origin"),
        "{:?}",
        preflight.headers
    );

    // The probes are not for browsers: they answer as before, with no CORS header.
    for path in ["/healthz", "/readyz"] {
        let r = h
            .send(
                h.client
                    .get(format!("{}{path}", h.base))
                    .header("origin", "https://evil.example"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.headers.contains_key("access-control-allow-origin"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tool_scope_appears_in_the_metadata_with_no_other_change() {
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(
        FilesWithSharing { runs: runs.clone() },
        runs,
        keys,
        |c, k, r| c.jwt(JwtConfig::new(k.issuer(), r)),
    )
    .await;
    let r = h.send(h.client.get(h.metadata_url())).await;
    assert_eq!(
        r.body["scopes_supported"],
        json!([
            "audit:run",
            "files:admin",
            "files:read",
            "files:share",
            "files:write"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_credentials_gets_a_401_pointing_at_the_metadata() {
    let h = files().await;
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge(),
        format!(
            r#"Bearer scope="audit:run files:read files:write", resource_metadata="{}""#,
            h.metadata_url()
        )
    );
    assert!(
        param(r.challenge(), "error").is_none(),
        "no error code without credentials"
    );
    // The metadata the challenge points at is the one served.
    let url = param(r.challenge(), "resource_metadata").unwrap();
    assert_eq!(h.send(h.client.get(url)).await.body["resource"], h.resource);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_challenge_scope_is_configurable() {
    let h = files_with(|c, _, _| c.initial_scopes(["files:read"])).await;
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(param(r.challenge(), "scope"), Some("files:read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_lists_and_calls_tools_and_the_tool_sees_the_principal_only() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .rpc(
            Some(&token),
            Some(&session),
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["tools"].as_array().unwrap().len(), 4);
    let r = h
        .call(&token, &session, "read_file", json!({"path": "a.txt"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["content"][0]["text"], "contents of a.txt");
    let r = h.call(&token, &session, "whoami", json!({})).await;
    let text = r.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("alice|test-client|files:read|"), "{text}");
    assert!(text.contains(r#""iss":"#), "claims reach the tool: {text}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !text.contains(signature),
        "the raw token never reaches tool code"
    );
    assert_eq!(h.runs(), 2);

    // A notification is accepted with 202 and no body.
    let r = h
        .rpc(
            Some(&token),
            Some(&session),
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_the_tools_scope_gets_a_403_step_up_challenge() {
    let h = files().await;
    let token = h.token("files:read unknown:scope").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let c = r.challenge();
    assert!(c.starts_with("Bearer "), "{c}");
    assert_eq!(param(c, "error"), Some("insufficient_scope"));
    // What the client holds that this server knows, plus what the tool needs.
    assert_eq!(param(c, "scope"), Some("files:read files:write"));
    assert_eq!(
        param(c, "resource_metadata"),
        Some(h.metadata_url().as_str())
    );
    assert!(
        param(c, "error_description")
            .unwrap()
            .contains("files:write")
    );
    assert_eq!(
        r.body["error"]["data"]["missingScopes"],
        json!(["files:write"])
    );

    // All missing scopes of a multi-scope tool are asked for at once.
    let bare = h.token("").build();
    let session = h.initialize(&bare).await;
    let r = h.call(&bare, &session, "audit", json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(param(r.challenge(), "scope"), Some("audit:run files:read"));
    assert_eq!(h.runs(), 0, "no tool ran");

    // With the broader scope of the hierarchy the call goes through.
    let admin = h.token("files:admin").build();
    let session = h.initialize(&admin).await;
    let r = h
        .call(&admin, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_can_be_tool_errors_instead_of_403() {
    let h = files_with(|c, _, _| c.denial(DenialMode::ToolError)).await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["isError"], true);
    assert!(
        r.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("files:write")
    );
    assert_eq!(h.runs(), 0);
}

/// A refused request: the status and the challenge's `error` code.
async fn assert_refused(
    h: &Harness,
    request: reqwest::RequestBuilder,
    status: StatusCode,
    error: &str,
    case: &str,
) {
    let r = h.send(request).await;
    assert_eq!(r.status, status, "{case}: {:?}", r.body);
    assert_eq!(
        param(r.challenge(), "error"),
        Some(error),
        "{case}: {}",
        r.challenge()
    );
    assert_eq!(
        param(r.challenge(), "resource_metadata"),
        Some(h.metadata_url().as_str()),
        "{case}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_invalid_token() {
    let h = files().await;
    let other_resource = format!("{}/other", h.base);
    let hs_secret_token = h
        .token("files:read")
        .hs256_with_secret(b"a-shared-secret-nobody-should-accept");
    let enc_key = TestKey::rsa_b().with_kid("enc-key").with_use("enc");
    let short_key = TestKey::rsa_1024().with_kid("short-key");
    h.keys
        .set_keys(vec![TestKey::rsa_a(), enc_key.clone(), short_key.clone()]);
    let attacker = TestKey::ec_p256().with_kid("attacker");
    let cases: Vec<(&str, String)> = vec![
        ("alg none", h.token("files:read").alg_none()),
        ("alg None", h.token("files:read").unsigned_with_alg("None")),
        ("alg nOnE", h.token("files:read").unsigned_with_alg("nOnE")),
        (
            "RS/HS confusion with the public key",
            h.token("files:read").hs256_confusion(),
        ),
        ("HS256 with a guessed secret", hs_secret_token),
        (
            "flipped signature",
            h.token("files:read").flipped_signature(),
        ),
        (
            "signed by another key under our kid",
            h.token("files:read").signed_by(&TestKey::rsa_b()).build(),
        ),
        ("unknown kid", h.token("files:read").kid("nobody").build()),
        (
            "jku pointing elsewhere",
            h.token("files:read")
                .jku("http://127.0.0.1:9/jwks")
                .signed_by(&attacker)
                .build(),
        ),
        (
            "x5u pointing elsewhere",
            h.token("files:read")
                .x5u("http://127.0.0.1:9/cert")
                .signed_by(&attacker)
                .build(),
        ),
        (
            "embedded jwk",
            h.token("files:read")
                .embedded_jwk(attacker.jwk())
                .signed_by(&attacker)
                .build(),
        ),
        (
            "x5c chain",
            h.token("files:read")
                .x5c(vec!["MIIB".into()])
                .signed_by(&attacker)
                .build(),
        ),
        ("unknown crit", h.token("files:read").unknown_crit().build()),
        (
            "typ JWT (an ID token)",
            h.token("files:read").typ("JWT").build(),
        ),
        (
            "typ missing",
            h.token("files:read").without_header("typ").build(),
        ),
        ("expired", h.token("files:read").expired().build()),
        (
            "exp missing",
            h.token("files:read").without_claim("exp").build(),
        ),
        (
            "exp not a number",
            h.token("files:read").claim("exp", "tomorrow").build(),
        ),
        (
            "bound to a DPoP key (cnf), sent as a bearer token",
            h.token("files:read")
                .claim(
                    "cnf",
                    json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
                )
                .build(),
        ),
        (
            "nbf in the future",
            h.token("files:read").nbf_in_future().build(),
        ),
        (
            "iat in the future",
            h.token("files:read").iat_in_future().build(),
        ),
        (
            "wrong issuer",
            h.token("files:read").iss("http://127.0.0.1:9").build(),
        ),
        (
            "issuer missing",
            h.token("files:read").without_claim("iss").build(),
        ),
        (
            "issuer with trailing slash",
            h.token("files:read")
                .iss(format!("{}/", h.keys.issuer()))
                .build(),
        ),
        (
            "audience missing",
            h.token("files:read").without_claim("aud").build(),
        ),
        (
            "audience of another resource (passthrough)",
            h.token("files:read").aud(&other_resource).build(),
        ),
        (
            "audience with a trailing slash",
            h.token("files:read").aud_trailing_slash().build(),
        ),
        (
            "audience array without us",
            h.token("files:read")
                .aud_array(&["http://a", "http://b"])
                .build(),
        ),
        (
            "scope claim of the wrong type",
            h.token("files:read")
                .claim("scope", json!(["files:read"]))
                .build(),
        ),
        ("two segments", h.token("files:read").two_segments()),
        ("five segments", h.token("files:read").five_segments()),
        (
            "bad base64 header",
            h.token("files:read").bad_base64(Segment::Header),
        ),
        (
            "bad base64 payload",
            h.token("files:read").bad_base64(Segment::Payload),
        ),
        (
            "bad base64 signature",
            h.token("files:read").bad_base64(Segment::Signature),
        ),
        (
            "oversized header",
            h.token("files:read").oversized_header(64 * 1024),
        ),
        (
            "key marked use=enc",
            h.keys
                .token_with_key(&enc_key, &h.resource, "files:read")
                .build(),
        ),
        (
            "RSA key under 2048 bits",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .build(),
        ),
        ("not a JWT at all", "opaque-token-value".into()),
    ];
    assert!(cases.len() >= 30);
    for (case, token) in &cases {
        if token.len() > 8 * 1024 {
            // Large headers may be cut off by the HTTP server before reaching us; either way,
            // no principal comes out of it.
            let r = h
                .send(h.post(
                    Some(token),
                    None,
                    &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
                ))
                .await;
            assert!(r.status.is_client_error(), "{case}: {}", r.status);
            continue;
        }
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}});
        // Characters outside RFC 6750's b64token make the request itself malformed (400);
        // everything else is a token that failed verification (401).
        let token68 = token
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        let (status, error) = if token68 {
            (StatusCode::UNAUTHORIZED, "invalid_token")
        } else {
            (StatusCode::BAD_REQUEST, "invalid_request")
        };
        assert_refused(&h, h.post(Some(token), None, &body), status, error, case).await;
    }
    assert_eq!(h.runs(), 0, "no tool ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_credentials_are_refused_with_invalid_request() {
    let h = files().await;
    let token = h.token("files:read").build();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let plain = || {
        h.client
            .post(&h.resource)
            .header("content-type", "application/json")
            .body(ping.to_string())
    };
    let cases = vec![
        (
            "no space after the scheme",
            plain().header("authorization", format!("Bearer{token}")),
        ),
        (
            "junk after the token",
            plain().header("authorization", format!("bearer {token} x")),
        ),
        (
            "tab separator",
            plain().header("authorization", format!("Bearer\t{token}")),
        ),
        (
            "comma-joined credentials",
            plain().header("authorization", format!("Bearer {token}, Bearer {token}")),
        ),
        ("no token", plain().header("authorization", "Bearer")),
        (
            "basic scheme",
            plain().header("authorization", "Basic YWxpY2U6c2VjcmV0"),
        ),
        (
            "two Authorization headers",
            plain()
                .header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {token}")),
        ),
        (
            "token in the query string",
            h.client
                .post(format!("{}?access_token={token}", h.resource))
                .header("content-type", "application/json")
                .body(ping.to_string()),
        ),
        (
            "token in the query and the header",
            h.client
                .post(format!("{}?access_token={token}", h.resource))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(ping.to_string()),
        ),
    ];
    for (case, request) in cases {
        assert_refused(
            &h,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            case,
        )
        .await;
    }
    assert_eq!(h.runs(), 0);
}

/// RFC 9110 §11.1 (the scheme is case-insensitive) and RFC 6750 §2.1 (`Bearer 1*SP b64token`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_in_any_case_with_any_number_of_spaces() {
    let h = files().await;
    for spelling in ["bearer ", "BEARER ", "BeArEr ", "Bearer  ", "bearer    "] {
        let token = h.token("files:read").build();
        // Twice: the first request verifies the token, the second may take the fast path of a
        // token accepted before.
        for round in 0..2 {
            let response = h
                .send(
                    h.client
                        .post(&h.resource)
                        .header("authorization", format!("{spelling}{token}"))
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}).to_string()),
                )
                .await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{spelling:?} round {round}: {:?}",
                response.body
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_token_variants() {
    let h = files().await;
    let ec = TestKey::ec_p256().with_kid("ec");
    let ed = TestKey::ed25519().with_kid("ed");
    h.keys
        .set_keys(vec![TestKey::rsa_a(), ec.clone(), ed.clone()]);
    let cases: Vec<(&str, String)> = vec![
        (
            "scp as a string",
            h.token("")
                .without_claim("scope")
                .scp_string("files:read")
                .build(),
        ),
        (
            "scp as an array",
            h.token("")
                .without_claim("scope")
                .scp_array(&["files:read"])
                .build(),
        ),
        (
            "typ application/at+jwt",
            h.token("files:read").typ("application/at+jwt").build(),
        ),
        (
            "audience array with us",
            h.token("files:read")
                .aud_array(&["http://a", &h.resource])
                .build(),
        ),
        (
            "ES256",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .build(),
        ),
        (
            "EdDSA",
            h.keys
                .token_with_key(&ed, &h.resource, "files:read")
                .build(),
        ),
        (
            "expired within the leeway",
            h.token("files:read").exp(support::now() - 30).build(),
        ),
    ];
    for (case, token) in cases {
        let session = h.initialize(&token).await;
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{case}: {:?}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_bound_to_their_principal_and_end_with_delete() {
    let h = files().await;
    let alice = h.token("files:read").build();
    let bob = h.token("files:read").sub("bob").build();
    let session = h.initialize(&alice).await;
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});

    let r = h.rpc(Some(&alice), None, list.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "missing session id");
    let r = h.rpc(Some(&alice), Some("made-up"), list.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "unknown session id");
    let r = h.rpc(Some(&bob), Some(&session), list.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another principal's session"
    );
    let r = h
        .send(
            h.client
                .delete(&h.resource)
                .bearer_auth(&bob)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another principal cannot end it"
    );
    let r = h.rpc(Some(&alice), Some(&session), list.clone()).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = h
        .send(
            h.client
                .delete(&h.resource)
                .bearer_auth(&alice)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.rpc(Some(&alice), Some(&session), list).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "ended session");

    // Sessions never authenticate: a valid session id with no token is a 401.
    let session = h.initialize(&alice).await;
    let r = h
        .rpc(
            None,
            Some(&session),
            json!({"jsonrpc":"2.0","id":3,"method":"ping"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_mode_needs_no_session() {
    let h = files_with(|c, _, _| c.stateless(true)).await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.session().is_none());
    let r = h
        .rpc(Some(&token), None, json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"p"}}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(h.client.delete(&h.resource).bearer_auth(&token))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_rules_versions_bodies_origins_and_methods() {
    let h = files_with(|c, _, _| {
        c.max_body_bytes(1024)
            .allow_origin("https://app.example.com")
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});

    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("mcp-protocol-version", "2024-01-01"),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unsupported protocol version"
    );
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("mcp-protocol-version", "2025-06-18"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let big = json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(2000)}});
    let r = h.rpc(Some(&token), Some(&session), big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "foreign origin");
    for origin in ["https://app.example.com", "http://localhost:5173", &h.base] {
        let r = h
            .send(
                h.post(Some(&token), Some(&session), &ping)
                    .header("origin", origin),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{origin}");
        assert_eq!(r.headers["access-control-allow-origin"], origin);
    }

    let r = h
        .send(
            h.client
                .post(&h.resource)
                .bearer_auth(&token)
                .header("mcp-session-id", &session)
                .header("content-type", "text/plain")
                .body(ping.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &json!(null))
                .body("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], -32700);

    let r = h
        .send(
            h.client
                .get(&h.resource)
                .bearer_auth(&token)
                .header("mcp-session-id", &session),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_ACCEPTABLE,
        "the GET stream is an event stream"
    );
    let r = h.send(h.client.get(&h.resource)).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "GET is authenticated too"
    );

    // CORS preflight from an allowed origin exposes the headers clients must read.
    let r = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, mcp-session-id",
                ),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = h
        .send(
            h.post(Some(&token), Some(&session), &ping)
                .header("origin", "https://app.example.com"),
        )
        .await;
    let exposed = r.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"),
        "{exposed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_picked_up_without_a_restart() {
    let h = files_with(|c, k, r| {
        c.jwt(JwtConfig::new(k.issuer(), r).refresh_cooldown(Duration::from_millis(200)))
    })
    .await;
    let old = h.token("files:read").build();
    let session = h.initialize(&old).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new_key = TestKey::rsa_b().with_kid("rotated");
    h.keys.set_keys(vec![TestKey::rsa_a(), new_key.clone()]);
    let new = h
        .keys
        .token_with_key(&new_key, &h.resource, "files:read")
        .build();
    let r = h
        .call(&new, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(h.keys.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_working_while_the_issuer_is_down() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.keys.set_mode(JwksMode::Down);
    let again = h.token("files:read").build();
    let r = h
        .call(&again, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // An unknown kid while the issuer is down: refused, not a 500, not a hang.
    let r = h
        .call(
            &h.token("files:read").kid("new").build(),
            &session,
            "read_file",
            json!({"path": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_keys_an_unreachable_or_broken_issuer_means_401_not_500() {
    for mode in [
        JwksMode::Down,
        JwksMode::Html,
        JwksMode::Garbage,
        JwksMode::Empty,
        JwksMode::Oversized,
    ] {
        let h = files().await;
        h.keys.set_mode(mode);
        let token = h.token("files:read").build();
        let r = h
            .rpc(
                Some(&token),
                None,
                json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode:?}");
        assert_eq!(
            param(r.challenge(), "error"),
            Some("invalid_token"),
            "{mode:?}"
        );
        assert!(
            param(r.challenge(), "error_description")
                .unwrap()
                .contains("could not be reached"),
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_unknown_kids_fetches_the_keys_at_most_once_per_cooldown() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    let h = Arc::new(h);
    // 10,000 tokens naming random kids, 32 in flight at a time, with a valid call after every
    // hundredth: every forged one refused, every valid one served, and at most one fetch per
    // 30 s cooldown window. The kid is refused before any signature check, so the forged tokens
    // share one signature (signing 10,000 would dominate the test).
    let signed = h.token("files:read").kid("random").build();
    let (header, _) = support::peek(&signed);
    let rest = signed.split_once('.').unwrap().1.to_owned();
    let forge = move |i: usize| {
        let mut header = header.clone();
        header["kid"] = json!(format!("random-{i}"));
        format!("{}.{rest}", support::b64url(header.to_string().as_bytes()))
    };
    let started = std::time::Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000 {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let (h, session) = (Arc::clone(&h), session.clone());
        let (valid, forged) = (token.clone(), forge(i));
        tasks.spawn(async move {
            let status = h
                .call(&forged, &session, "read_file", json!({"path": "x"}))
                .await
                .status;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "forged token {i}");
            if i % 100 == 0 {
                let status = h
                    .call(&valid, &session, "read_file", json!({"path": "x"}))
                    .await
                    .status;
                assert_eq!(status, StatusCode::OK, "valid call beside forged token {i}");
            }
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let windows = started.elapsed().as_secs() / 30 + 1;
    let fetched = h.keys.jwks_fetches() - 1;
    assert!(
        fetched as u64 <= windows,
        "{fetched} fetches in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_follows_the_path_aware_order_and_checks_the_issuer() {
    // A path issuer found only through OpenID path-appended discovery.
    let keys = KeyServer::builder()
        .issuer_path("tenant")
        .serve_oauth_metadata(false)
        .serve_openid_configuration(false)
        .serve_openid_path_appended(true)
        .start()
        .await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, k, r| {
        c.jwt(JwtConfig::new(k.issuer(), r))
    })
    .await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "authenticated (the session id is what is missing)"
    );

    // Metadata naming another issuer is not trusted (from the start: the router's start-up
    // fetch reads it too).
    let h = files_with(|c, k, _| {
        k.set_issuer_override(Some("http://127.0.0.1:9".into()));
        c
    })
    .await;
    let r = h
        .rpc(
            Some(&h.token("files:read").build()),
            None,
            json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_off_serves_public_tools_only() {
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, _, _| {
        c.without_authorization()
    })
    .await;
    let r = h.send(h.client.get(h.metadata_url())).await;
    assert!(r.body.get("scopes_supported").is_none());
    let r = h
        .rpc(None, None, json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}))
        .await;
    let session = r.session().unwrap();
    let r = h
        .rpc(None, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .rpc(None, Some(&session), json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"x"}}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Records the fields of every `scopegate::auth` event.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

thread_local! {
    /// The capture of the test running on this thread, if it is capturing.
    static CAPTURING: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// The process-wide subscriber of this test binary: hands `scopegate::auth` events to the
/// capture of the thread they happen on. A thread-local default subscriber would not do: other
/// tests hitting the same callsites from other threads leave tracing's per-callsite interest
/// cache saying nobody listens, and the capturing test misses events.
struct Forward;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Forward {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "scopegate::auth" {
            return;
        }
        CAPTURING.with(|capturing| {
            if let Some(capture) = &*capturing.borrow() {
                let mut fields = std::collections::BTreeMap::new();
                event.record(&mut Fields(&mut fields));
                capture.0.lock().unwrap().push(fields);
            }
        });
    }
}

impl Capture {
    /// Captures the `scopegate::auth` events of this thread from now on.
    fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt as _;
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Forward))
                .expect("no other global subscriber in this binary");
        });
        let capture = Capture::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(capture.clone()));
        capture
    }
}

#[tokio::test(flavor = "current_thread")]
async fn authentication_events_are_traced_with_stable_fields() {
    // current_thread: the server's tasks run on this thread, where the capture is.
    let capture = Capture::start();
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    h.rpc(
        Some(&h.token("files:read").expired().build()),
        None,
        json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
    )
    .await;
    h.rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    h.send(
        h.client
            .post(&h.resource)
            .header("authorization", "Bearer\tx"),
    )
    .await;

    let events = capture.0.lock().unwrap().clone();
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e.get("event").map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no {name} event in {events:?}"))
            .clone()
    };
    let accepted = find("token_accepted");
    assert_eq!(accepted["subject"], "alice");
    assert_eq!(accepted["client_id"], "test-client");
    let denied = find("scope_denied");
    assert_eq!(denied["tool"], "write_file");
    assert_eq!(denied["missing"], "files:write");
    assert_eq!(denied["subject"], "alice");
    let rejected: Vec<&str> = events
        .iter()
        .filter(|e| e.get("event").map(String::as_str) == Some("token_rejected"))
        .map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(rejected, ["expired", "invalid_request"]);
    find("token_missing");
}

/// A local RFC 7662 introspection endpoint: knows a few opaque tokens, counts its calls.
async fn introspection_endpoint(resource: String) -> (String, Arc<AtomicUsize>) {
    use axum::extract::State as AxState;
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/introspect",
            axum::routing::post(
                |AxState((calls, resource)): AxState<(Arc<AtomicUsize>, String)>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // "rs:secret" in HTTP Basic: the resource server authenticates itself.
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Basic cnM6c2VjcmV0") {
                        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({"error":"invalid_client"})));
                    }
                    let token = body
                        .split('&')
                        .find_map(|p| p.strip_prefix("token="))
                        .unwrap_or_default()
                        .to_owned();
                    let exp = support::now() + 300;
                    let answer = match token.as_str() {
                        "good-token" => json!({"active":true,"aud":resource,"sub":"carol","client_id":"c1","scope":"files:read","exp":exp}),
                        "other-resource" => json!({"active":true,"aud":"http://elsewhere/mcp","sub":"carol","scope":"files:read","exp":exp}),
                        "refresh" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"token_type":"refresh_token"}),
                        "bound" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
                        // Over the 64 KiB an answer may take.
                        "huge" => json!({"active":true,"aud":resource,"sub":"carol","scope":"files:read","exp":exp,"padding":"x".repeat(70_000)}),
                        _ => json!({"active":false}),
                    };
                    (axum::http::StatusCode::OK, axum::Json(answer))
                },
            ),
        )
        .with_state((Arc::clone(&calls), resource));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_cached() {
    use scopegate::auth::{IntrospectionConfig, IntrospectionVerifier};
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    // The endpoint must know our resource URI before we know our port: bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let (endpoint, calls) = introspection_endpoint(resource.clone()).await;
    let verifier = IntrospectionVerifier::new(IntrospectionConfig::new(
        &endpoint, "rs", "secret", &resource,
    ));
    let config = HttpConfig::new(&resource)
        .verifier(verifier)
        .authorization_server(keys.issuer());
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
    };

    let session = h.initialize("good-token").await;
    let r = h.call("good-token", &session, "whoami", json!({})).await;
    assert!(
        r.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("carol|c1|files:read|")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second request was answered from the cache"
    );

    for (token, description) in [
        ("revoked", "not active"),
        ("other-resource", "another resource"),
        ("refresh", "not an access token"),
        ("bound", "bound to a key"),
        ("huge", "could not be reached"),
    ] {
        let r = h
            .rpc(
                Some(token),
                None,
                json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
        assert!(
            param(r.challenge(), "error_description")
                .unwrap()
                .contains(description),
            "{}",
            r.challenge()
        );
    }
    assert_eq!(h.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_refreshed_in_the_background_without_holding_requests() {
    let h = files_with(|c, k, r| {
        let mut jwt = JwtConfig::new(k.issuer(), r).refresh_cooldown(Duration::ZERO);
        jwt.min_cache = Duration::ZERO;
        // Before the router is built: the keys its start-up fetch finds are expired at once.
        k.set_cache_max_age(0);
        c.jwt(jwt)
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    // The start-up fetch (which the first token may have joined), then maybe refreshes of the
    // expired keys that requests started in the background, all done by now (a fast issuer).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fetched = h.keys.jwks_fetches();
    assert!(fetched >= 1, "{fetched}");
    h.keys.set_mode(JwksMode::Slow(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a slow issuer does not hold requests with known keys"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.keys.jwks_fetches(),
        fetched + 1,
        "the expired keys were refetched in the background"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_jwk_set_verifies_without_fetching() {
    use scopegate::auth::JwtVerifier;
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, k, r| {
        let jwks = support::jwk_set(&[TestKey::rsa_a()]);
        let verifier = JwtVerifier::with_jwks(JwtConfig::new(k.issuer(), r), &jwks).unwrap();
        c.verifier(verifier).authorization_server(k.issuer())
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let unknown = h.token("files:read").kid("elsewhere").build();
    let r = h
        .call(&unknown, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.keys.jwks_fetches(), 0, "a fixed set is never fetched");
    assert_eq!(h.keys.metadata_fetches(), 0);
    // A set with no usable key is refused when the verifier is built.
    let empty =
        JwtVerifier::with_jwks(JwtConfig::new("http://i", "http://r"), &json!({"keys": []}));
    assert!(empty.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_token_never_outlives_its_exp() {
    let h = files_with(|c, k, r| c.jwt(JwtConfig::new(k.issuer(), r).leeway(Duration::ZERO))).await;
    let token = h.token("files:read").exp(support::now() + 2).build();
    let session = h.initialize(&token).await;
    for _ in 0..3 {
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "verified, then remembered");
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "expired, remembered or not"
    );
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
    assert_eq!(h.runs(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_its_exp_opens_no_stream_even_within_the_leeway() {
    let h = files().await;
    let lasting = h.token("files:read").build();
    let session = h.initialize(&lasting).await;
    // Expired five seconds ago: still accepted (60 s of leeway), but a stream would end at once.
    let late = h.token("files:read").exp(support::now() - 5).build();
    let r = h
        .call(&late, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the leeway still holds for requests"
    );
    let r = h.send(h.open_stream(&late, &session)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_initialize_gets_no_session_id() {
    let h = files().await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["error"]["code"], -32602, "{}", r.body);
    assert_eq!(r.session(), None, "no session for a failed initialize");
    // A good one still gets its session.
    let session = h.initialize(&token).await;
    assert!(!session.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_stream_ends_when_the_token_that_opened_it_expires() {
    let h = files_with(|c, k, r| c.jwt(JwtConfig::new(k.issuer(), r).leeway(Duration::ZERO))).await;
    let brief = h.token("files:read").exp(support::now() + 2).build();
    let lasting = h.token("files:read").build();
    let session = h.initialize(&lasting).await;
    let open = |token: &str| h.open_stream(token, &session).send();
    let mut stream = open(&brief).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let opened = std::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(6), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended with its token");
    assert!(
        opened.elapsed() > Duration::from_millis(200),
        "and not before: {:?}",
        opened.elapsed()
    );
    // A stream opened with a token that lasts stays open.
    let mut stream = open(&lasting).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let pending = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(pending.is_err(), "the stream stays open: {pending:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verified_token_cache_is_bounded_and_lets_no_altered_token_through() {
    use scopegate::auth::{JwtVerifier, TokenVerifier};
    let key = TestKey::rsa_a();
    let (issuer, resource) = ("http://127.0.0.1:1", "http://127.0.0.1:2/mcp");
    let mut config = JwtConfig::new(issuer, resource);
    config.cache_capacity = 3;
    let verifier =
        JwtVerifier::with_jwks(config, &support::jwk_set(std::slice::from_ref(&key))).unwrap();
    let mint = || TokenBuilder::new(&key, issuer, resource, "files:read").build();
    for _ in 0..10 {
        let token = mint();
        verifier.verify(&token).await.unwrap();
        verifier.verify(&token).await.unwrap();
        assert!(verifier.cached() <= 3, "{} remembered", verifier.cached());
    }
    assert!(verifier.cached() >= 1, "verified tokens are remembered");
    // A remembered token, altered in any segment, is checked afresh and refused.
    let token = mint();
    verifier.verify(&token).await.unwrap();
    let segments: Vec<&str> = token.split('.').collect();
    for which in 0..3 {
        let mut altered: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
        let middle = altered[which].len() / 2;
        let flipped = if &altered[which][middle..=middle] == "A" {
            "B"
        } else {
            "A"
        };
        altered[which].replace_range(middle..=middle, flipped);
        let altered = altered.join(".");
        assert!(
            verifier.verify(&altered).await.is_err(),
            "segment {which} altered and accepted"
        );
    }
    // Refused tokens are not remembered.
    let before = verifier.cached();
    let expired = TokenBuilder::new(&key, issuer, resource, "files:read")
        .expired()
        .build();
    for _ in 0..2 {
        assert!(verifier.verify(&expired).await.is_err());
    }
    assert_eq!(verifier.cached(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verified_token_cache_is_bounded_in_bytes_too() {
    use scopegate::auth::{JwtVerifier, TokenVerifier};
    let key = TestKey::rsa_a();
    let (issuer, resource) = ("http://127.0.0.1:1", "http://127.0.0.1:2/mcp");
    let mint = |padding: usize| {
        TokenBuilder::new(&key, issuer, resource, "files:read")
            .claim("padding", "p".repeat(padding))
            .build()
    };
    let small = mint(0).len();
    let mut config = JwtConfig::new(issuer, resource);
    config.cache_capacity = 1000;
    // Room for three small tokens (each charged twice its length plus 256 bytes).
    config.cache_max_bytes = 3 * (2 * small + 256) + 100;
    let verifier =
        JwtVerifier::with_jwks(config, &support::jwk_set(std::slice::from_ref(&key))).unwrap();
    for _ in 0..10 {
        verifier.verify(&mint(0)).await.unwrap();
        assert!(verifier.cached() <= 3, "{} remembered", verifier.cached());
    }
    assert!(verifier.cached() >= 1, "verified tokens are remembered");
    // A token too large for the whole budget is verified, every time, and never remembered.
    let large = mint(4 * small);
    let before = verifier.cached();
    for _ in 0..2 {
        verifier.verify(&large).await.unwrap();
    }
    assert_eq!(verifier.cached(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_future_exp_does_not_overflow_the_cache() {
    // Found by the jwt_verify fuzz target: u64::MAX seconds does not fit a SystemTime.
    let h = files().await;
    let token = h.token("files:read").exp(u64::MAX).build();
    let session = h.initialize(&token).await;
    for _ in 0..2 {
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

/// A GET of `path` on the harness's server, as a probe sends it (no token), naming `host`.
async fn probe(h: &Harness, path: &str, host: Option<&str>) -> reqwest::Response {
    let mut request = h.client.get(format!("{}{path}", h.base));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_probes_without_tokens() {
    // Off by default.
    let h = files().await;
    let r = probe(&h, "/healthz", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // On: ready once the issuer's keys are in, which the probe itself fetches (no token has
    // been verified yet), whatever Host the probe names.
    let h = files_with(|c, _, _| c.health_checks(true)).await;
    assert_eq!(h.keys.jwks_fetches(), 0);
    let live = probe(&h, "/healthz", Some("10.0.0.7:8080")).await;
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = probe(&h, "/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    assert_eq!(
        h.keys.jwks_fetches(),
        1,
        "the readiness probe fetched the keys"
    );

    // An issuer nobody can reach: alive, not ready.
    let unreachable = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", unreachable.local_addr().unwrap());
    drop(unreachable);
    let h = files_with(move |c, _, resource| {
        c.jwt(
            JwtConfig::new(&issuer, resource)
                .jwks_uri(format!("{issuer}/jwks"))
                .http_timeout(Duration::from_secs(1)),
        )
        .health_checks(true)
    })
    .await;
    let live = probe(&h, "/healthz", None).await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = probe(&h, "/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "not ready"})
    );
}

#[test]
fn an_endpoint_on_a_health_check_path_is_refused_when_built() {
    for path in ["/healthz", "/readyz"] {
        let resource = format!("http://127.0.0.1:9/{}", &path[1..]);
        let built = Server::new(Files::default())
            .unwrap()
            .http(
                HttpConfig::new(&resource)
                    .without_authorization()
                    .health_checks(true),
            )
            .map(|_| ());
        assert!(
            matches!(&built, Err(scopegate::http::HttpError::PathTaken(p)) if p == path),
            "{path}: {built:?}"
        );
        // Without health checks the path is free.
        assert!(
            Server::new(Files::default())
                .unwrap()
                .http(HttpConfig::new(&resource).without_authorization())
                .is_ok()
        );
    }
}

#[tokio::test]
async fn head_on_the_endpoint_gets_no_body() {
    use tower::ServiceExt as _;
    // Through the router itself: hyper strips a HEAD body on HTTP/1 anyway, HTTP/2 does not.
    let router = Server::new(Files::default())
        .unwrap()
        .http(HttpConfig::new("http://127.0.0.1:9/mcp").jwt_issuer("http://127.0.0.1:9"))
        .unwrap();
    for origin in [None, Some("http://127.0.0.1:9")] {
        let mut request = axum::http::Request::head("/mcp").header("host", "127.0.0.1:9");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        // No token: the 401 a GET gets, without its JSON body.
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{origin:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(body.is_empty(), "{origin:?}: {body:?}");
    }
}
