//! The development authorization server, driven over real HTTP as an OAuth client drives it:
//! metadata, registration, authorization with PKCE and consent, token, refresh rotation, and the
//! MCP server accepting what it issues.

// SHA-256 by an implementation independent of the server's (openssl), shared with the doctor's
// and the audit's tests.
#[allow(dead_code)]
#[path = "support/dev_token.rs"]
mod dev_token;
#[path = "support/mod.rs"]
mod support;

#[path = "dev_auth/dpop.rs"]
mod dpop;

use std::collections::HashMap;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_token::openssl_sha256;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use scopegate::dev_auth::{DevAuth, DevAuthConfig, DevAuthError};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

/// Reads.
#[mcp_tool(scope = "docs:read")]
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

#[derive(McpServer)]
#[mcp(
    name = "docs",
    tools(read_doc, write_doc, hello),
    implies("docs:admin" => ["docs:read", "docs:write"]),
)]
struct Docs;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct Env {
    base: String,
    issuer: String,
    resource: String,
    http: reqwest::Client,
}

async fn start(config: DevAuthConfig) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    start_on(listener, &base, config, Serve::Scopegate).await
}

/// How a test serves the router.
#[derive(Clone, Copy, PartialEq)]
enum Serve {
    /// `scopegate::http::serve_on`, which tells each request its local address.
    Scopegate,
    /// Plain `axum::serve`, which does not.
    Axum,
}

/// [`start`] with a stateless resource server that accepts DPoP too.
async fn start_dpop(config: DevAuthConfig) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    start_serving(listener, &base, config, Serve::Scopegate, |http| {
        http.stateless(true)
            .dpop(scopegate::auth::DpopConfig::new())
    })
    .await
}

/// The docs server and the development server on `listener`, with `base` as the resource's
/// origin.
async fn start_on(
    listener: tokio::net::TcpListener,
    base: &str,
    config: DevAuthConfig,
    serve: Serve,
) -> Env {
    start_serving(listener, base, config, serve, |http| http).await
}

/// [`start_on`] with the resource server's settings changed by `http`.
async fn start_serving(
    listener: tokio::net::TcpListener,
    base: &str,
    config: DevAuthConfig,
    serve: Serve,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> Env {
    let base = base.to_owned();
    let resource = format!("{base}/mcp");
    let server = Server::new(Docs).unwrap();
    let dev = DevAuth::new(&server, &resource, config).unwrap();
    let issuer = dev.issuer().to_owned();
    let router = server
        .http(http(HttpConfig::new(&resource).jwt_issuer(&issuer)))
        .unwrap()
        .merge(dev.router());
    match serve {
        Serve::Scopegate => {
            tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
        }
        Serve::Axum => {
            tokio::spawn(async move { axum::serve(listener, router).await });
        }
    }
    Env {
        base,
        issuer,
        resource,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
    }
}

fn pkce() -> (String, String) {
    let verifier = "x".repeat(20) + &unique_suffix();
    let digest = openssl_sha256(verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

/// A fresh string for verifiers, unique per call.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:040}",
        N.fetch_add(1, Ordering::SeqCst) + u64::from(std::process::id())
    )
}

fn query_of(location: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Env {
    async fn register(&self, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/register", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn public_client(&self) -> String {
        self.client_with_grants(json!(["authorization_code", "refresh_token"]))
            .await
    }

    async fn client_with_grants(&self, grants: Value) -> String {
        let (status, body) = self
            .register(json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none","client_name":"t","grant_types":grants}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["client_id"].as_str().unwrap().to_owned()
    }

    async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!("{}/authorize", self.issuer))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Runs the authorization request through consent; returns the redirect's query.
    async fn code(&self, client: &str, challenge: &str, scope: &str) -> HashMap<String, String> {
        let r = self
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("scope", scope),
                ("state", "st4te"),
                ("resource", &self.resource),
            ])
            .await;
        let location = if r.status() == StatusCode::OK {
            let page = r.text().await.unwrap();
            let request = page
                .split("name=\"request\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            let r = self
                .http
                .post(format!("{}/authorize/decision", self.issuer))
                .form(&[("request", request.as_str()), ("decision", "approve")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            r.headers()["location"].to_str().unwrap().to_owned()
        } else {
            assert!(r.status().is_redirection(), "{}", r.status());
            r.headers()["location"].to_str().unwrap().to_owned()
        };
        assert!(location.starts_with(REDIRECT), "{location}");
        query_of(&location)
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        (r.status(), r.json().await.unwrap())
    }

    async fn exchange(&self, client: &str, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
            ("code_verifier", verifier),
            ("resource", &self.resource),
        ])
        .await
    }

    /// Calls a tool with a fresh session; returns the HTTP status.
    async fn call(&self, token: &str, tool: &str) -> StatusCode {
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
        let r = self
            .http
            .post(&self.resource)
            .bearer_auth(token)
            .json(&init)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":{}}});
        let r = self
            .http
            .post(&self.resource)
            .bearer_auth(token)
            .header("mcp-session-id", session)
            .json(&call)
            .send()
            .await
            .unwrap();
        r.status()
    }
}

fn claims(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (decode(), decode())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_rfc_8414_at_every_discovery_location() {
    let env = start(DevAuthConfig::default()).await;
    for url in [
        format!(
            "{}/.well-known/oauth-authorization-server/dev-auth",
            env.base
        ),
        format!("{}/.well-known/openid-configuration/dev-auth", env.base),
        format!("{}/dev-auth/.well-known/openid-configuration", env.base),
    ] {
        let doc: Value = env
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], env.issuer, "{url}");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["registration_endpoint"],
            format!("{}/register", env.issuer)
        );
        assert_eq!(
            doc["scopes_supported"],
            json!(["docs:admin", "docs:read", "docs:write"])
        );
        assert_eq!(
            doc["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_flow_with_consent_yields_an_at_jwt_the_mcp_server_accepts() {
    let env = start(DevAuthConfig::default()).await;
    let client = env.public_client().await;
    let (verifier, challenge) = pkce();

    // The consent page lists each requested scope with the tools it unlocks.
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("scope", "docs:admin"),
        ])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<code>docs:admin</code></td><td>read_doc, write_doc</td>"),
        "{page}"
    );
    assert!(page.contains("Development authorization server"));

    let query = env.code(&client, &challenge, "docs:read").await;
    assert_eq!(query["state"], "st4te");
    assert_eq!(query["iss"], env.issuer);
    let (status, tokens) = env.exchange(&client, &query["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    assert_eq!(tokens["scope"], "docs:read");
    let access = tokens["access_token"].as_str().unwrap();
    let (header, body) = claims(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(body["aud"], env.resource);
    assert_eq!(body["iss"], env.issuer);
    assert_eq!(body["client_id"], client);
    assert_eq!(body["sub"], "developer");

    assert_eq!(env.call(access, "read_doc").await, StatusCode::OK);
    assert_eq!(env.call(access, "write_doc").await, StatusCode::FORBIDDEN);

    // The code is single-use.
    let (status, body) = env.exchange(&client, &query["code"], &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_used_one_is_refused() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    let client = env.public_client().await;
    let (verifier, challenge) = pkce();
    let query = env.code(&client, &challenge, "docs:read docs:write").await;
    let (_, tokens) = env.exchange(&client, &query["code"], &verifier).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let refresh = |token: String, scope: Option<&'static str>| {
        let env = &env;
        let client = client.clone();
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", token),
                ("client_id", client),
            ];
            if let Some(scope) = scope {
                form.push(("scope", scope.to_owned()));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            env.token(&form).await
        }
    };
    let (status, rotated) = refresh(first.clone(), Some("docs:read")).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(
        rotated["scope"], "docs:read",
        "a refresh may narrow the scopes"
    );
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (status, body) = refresh(second.clone(), Some("docs:admin")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "never widened"
    );
    // The refused request did not spend the token, and the refresh token kept the original
    // scopes (RFC 6749 §6): only that one access token was narrowed.
    let (status, body) = refresh(second, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "docs:read docs:write");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(env.call(access, "write_doc").await, StatusCode::OK);
    let third = body["refresh_token"].as_str().unwrap().to_owned();

    // Replaying a rotated token revokes its whole family: the live successor dies too.
    let (status, body) = refresh(first, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh(third, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_the_refresh_grant_get_no_refresh_token() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    let client = env.client_with_grants(json!(["authorization_code"])).await;
    let (verifier, challenge) = pkce();
    let query = env.code(&client, &challenge, "docs:read").await;
    let (status, tokens) = env.exchange(&client, &query["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    // Registration defaults to the code grant alone (RFC 7591 §2).
    let (_, registered) = env
        .register(json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"}))
        .await;
    assert_eq!(registered["grant_types"], json!(["authorization_code"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_scopes_resources_and_redirects_are_enforced() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    let client = env.public_client().await;
    let (verifier, challenge) = pkce();
    let base = |extra: &[(&'static str, String)]| {
        let mut p: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", client.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("state", "s".into()),
        ];
        p.extend(extra.iter().cloned());
        p
    };
    let error_of = |r: &reqwest::Response| {
        query_of(r.headers()["location"].to_str().unwrap())
            .get("error")
            .cloned()
    };
    type Params = Vec<(&'static str, String)>;
    let cases: Vec<(&str, Params, &str)> = vec![
        ("no PKCE", base(&[]), "invalid_request"),
        (
            "plain PKCE",
            base(&[
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "plain".into()),
            ]),
            "invalid_request",
        ),
        (
            "unknown scope",
            base(&[
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "S256".into()),
                ("scope", "docs:read other:scope".into()),
            ]),
            "invalid_scope",
        ),
        (
            "another resource",
            base(&[
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "S256".into()),
                ("resource", "http://127.0.0.1:1/mcp".into()),
            ]),
            "invalid_target",
        ),
        (
            "token response type",
            base(&[
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "S256".into()),
            ])
            .into_iter()
            .map(|(k, v)| {
                if k == "response_type" {
                    (k, "token".to_owned())
                } else {
                    (k, v)
                }
            })
            .collect(),
            "unsupported_response_type",
        ),
    ];
    for (case, params, error) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = env.authorize(&params).await;
        assert!(r.status().is_redirection(), "{case}: {}", r.status());
        assert_eq!(error_of(&r).as_deref(), Some(error), "{case}");
    }
    // An unregistered redirect URI is never redirected to.
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client),
            ("redirect_uri", "http://127.0.0.1:9/evil"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());

    // A wrong verifier does not redeem the code.
    let query = env.code(&client, &challenge, "docs:read").await;
    let (other_verifier, _) = pkce();
    let (status, body) = env.exchange(&client, &query["code"], &other_verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let _ = verifier;

    // Registration refuses redirect URIs that are neither https nor loopback http.
    for uri in [
        "http://example.com/cb",
        "https://example.com/cb#frag",
        "javascript:alert(1)",
    ] {
        let (status, body) = env
            .register(json!({"redirect_uris":[uri],"token_endpoint_auth_method":"none"}))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")),
            "{uri}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_clients_authenticate_and_denials_redirect_with_access_denied() {
    let env = start(DevAuthConfig::default()).await;
    let (status, registered) = env
        .register(
            json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"client_secret_basic"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let client = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce();
    let query = env.code(&client, &challenge, "docs:read").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", query["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let r = env
        .http
        .post(format!("{}/token", env.issuer))
        .basic_auth(&client, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = env
        .http
        .post(format!("{}/token", env.issuer))
        .basic_auth(&client, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Deny on the consent page.
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "z"),
        ])
        .await;
    let page = r.text().await.unwrap();
    let request = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = env
        .http
        .post(format!("{}/authorize/decision", env.issuer))
        .form(&[("request", request), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    let query = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "z");
}

#[test]
fn it_refuses_non_loopback_addresses_unless_told() {
    let server = Server::new(Docs).unwrap();
    let err = DevAuth::new(
        &server,
        "http://10.1.2.3:8080/mcp",
        DevAuthConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DevAuthError::NotLoopback(_)), "{err}");
    assert!(err.to_string().contains("loopback"));
    assert!(
        DevAuth::new(
            &server,
            "https://mcp.example.com/mcp",
            DevAuthConfig::default()
        )
        .is_err()
    );
    let dev = DevAuth::new(
        &server,
        "http://10.1.2.3:8080/mcp",
        DevAuthConfig::default().allow_non_loopback(true),
    )
    .unwrap();
    assert_eq!(dev.issuer(), "http://10.1.2.3:8080/dev-auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_token_script_gets_a_working_token_with_curl() {
    let env = start(DevAuthConfig::default()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dev-token");
    let base = env.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(script)
            .args([&base, "docs:read"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(env.call(&token, "read_doc").await, StatusCode::OK);
    assert_eq!(env.call(&token, "write_doc").await, StatusCode::FORBIDDEN);
}

// ---- exposure: local address, Host, CORS ----------------------------------------------------

/// A request to the development server's router alone, through `oneshot`, with `Host`
/// `127.0.0.1:8080` and, when given, the local address the connection arrived on.
async fn oneshot(
    dev: &DevAuth,
    path: &str,
    local: Option<&str>,
) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder()
        .uri(path)
        .header("host", "127.0.0.1:8080")
        .body(axum::body::Body::empty())
        .unwrap();
    if let Some(local) = local {
        request
            .extensions_mut()
            .insert(scopegate::http::LocalAddr(local.parse().unwrap()));
    }
    let response = dev.router().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn only_requests_on_a_loopback_local_address_are_answered() {
    let server = Server::new(Docs).unwrap();
    let dev = DevAuth::new(
        &server,
        "http://127.0.0.1:8080/mcp",
        DevAuthConfig::default(),
    )
    .unwrap();
    let metadata = "/.well-known/oauth-authorization-server/dev-auth";
    let (status, body) = oneshot(&dev, metadata, Some("127.0.0.1:8080")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = oneshot(&dev, metadata, Some("[::1]:8080")).await;
    assert_eq!(status, StatusCode::OK);
    // Unknown: the router was served by something that did not say where the request arrived.
    let (status, body) = oneshot(&dev, metadata, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("serve_on"), "says how to serve it: {body}");
    for local in ["192.0.2.2:8080", "0.0.0.0:8080", "[::ffff:10.0.0.1]:8080"] {
        let (status, body) = oneshot(&dev, metadata, Some(local)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{local}");
        assert!(body.contains("loopback"), "{body}");
    }
    // The explicit opt-out answers anywhere.
    let open = DevAuth::new(
        &server,
        "http://127.0.0.1:8080/mcp",
        DevAuthConfig::default().allow_non_loopback(true),
    )
    .unwrap();
    assert_eq!(oneshot(&open, metadata, None).await.0, StatusCode::OK);
    assert_eq!(
        oneshot(&open, metadata, Some("192.0.2.2:8080")).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_served_by_plain_axum_refuses_to_mint_tokens() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let env = start_on(listener, &base, DevAuthConfig::default(), Serve::Axum).await;
    let r = env
        .http
        .post(format!("{}/register", env.issuer))
        .json(&json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("scopegate::http::serve_on"),
        "{body}"
    );
}

/// The machine's first non-loopback IPv4 address, if it has one (`ip -4 -o addr`).
fn non_loopback_ipv4() -> Option<std::net::Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let addr = line
                .split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)?;
            let ip: std::net::Ipv4Addr = addr.split('/').next()?.parse().ok()?;
            (!ip.is_loopback()).then_some(ip)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_to_every_address_it_answers_only_its_loopback_connections() {
    // Today's trap: 0.0.0.0 with a localhost resource starts, and used to answer the network.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = start_on(
        listener,
        &format!("http://localhost:{port}"),
        DevAuthConfig::default().auto_approve(true),
        Serve::Scopegate,
    )
    .await;
    let register = |host: String| {
        let env = &env;
        async move {
            env.http
                .post(format!("http://{host}:{port}/dev-auth/register"))
                .header("host", format!("localhost:{port}"))
                .json(&json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(register("127.0.0.1".into()).await, StatusCode::CREATED);
    match non_loopback_ipv4() {
        // The same machine, through its network address: refused, Host or not.
        Some(ip) => assert_eq!(
            register(ip.to_string()).await,
            StatusCode::FORBIDDEN,
            "{ip}"
        ),
        None => eprintln!("no non-loopback IPv4 address here: the oneshot test covers it"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_host() {
    let env = start(DevAuthConfig::default()).await;
    let port = env.base.rsplit(':').next().unwrap().to_owned();
    let routes = [
        ("GET", "/.well-known/oauth-authorization-server/dev-auth"),
        ("GET", "/.well-known/openid-configuration/dev-auth"),
        ("GET", "/dev-auth/.well-known/openid-configuration"),
        ("GET", "/dev-auth/jwks"),
        ("POST", "/dev-auth/register"),
        ("GET", "/dev-auth/authorize"),
        ("POST", "/dev-auth/authorize/decision"),
        ("POST", "/dev-auth/token"),
    ];
    for (method, path) in routes {
        for host in [
            format!("evil.example:{port}"),
            format!("localhost.evil.example:{port}"),
            format!("127.0.0.1.nip.io:{port}"),
            format!("[::1:{port}"),
        ] {
            let r = env
                .http
                .request(method.parse().unwrap(), format!("{}{path}", env.base))
                .header("host", &host)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} Host {host}"
            );
        }
        // A loopback name passes the check (whatever the route then says).
        let r = env
            .http
            .request(method.parse().unwrap(), format!("{}{path}", env.base))
            .header("host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_registration_and_token_answer_browser_clients_on_any_origin() {
    let env = start(DevAuthConfig::default()).await;
    for (method, path) in [
        ("GET", "/.well-known/oauth-authorization-server/dev-auth"),
        ("GET", "/.well-known/openid-configuration/dev-auth"),
        ("GET", "/dev-auth/.well-known/openid-configuration"),
        ("GET", "/dev-auth/jwks"),
        ("POST", "/dev-auth/register"),
        ("POST", "/dev-auth/token"),
    ] {
        // What the MCP Inspector's web UI sends before discovery.
        let r = env
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", env.base))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "mcp-protocol-version, content-type, authorization, dpop",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for h in [
            "mcp-protocol-version",
            "content-type",
            "authorization",
            "accept",
            "dpop",
        ] {
            assert!(allowed.contains(h), "{path}: {h} not in {allowed}");
        }
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{path}"
        );
    }
    let r = env
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/dev-auth",
            env.base
        ))
        .header("origin", "https://some.other.site")
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // The consent page and its decision are navigations: no page may read them.
    for (method, path) in [
        (reqwest::Method::GET, "/dev-auth/authorize"),
        (reqwest::Method::POST, "/dev-auth/authorize/decision"),
    ] {
        let r = env
            .http
            .request(method.clone(), format!("{}{path}", env.base))
            .header("origin", "http://localhost:6274")
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
        let r = env
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", env.base))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", method.as_str())
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path} preflight"
        );
    }
}

// ---- registration bounds --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_json_bounded_and_rate_limited() {
    let env = start(DevAuthConfig::default().registrations_per_minute(8)).await;
    let url = format!("{}/register", env.issuer);
    let ok = json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"});
    let post = |content_type: &'static str, body: String| {
        env.http
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let error = |r: reqwest::Response| async move {
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let cases: Vec<(&str, &'static str, String, StatusCode, &str)> = vec![
        (
            "form body",
            "application/x-www-form-urlencoded",
            "redirect_uris=x".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_client_metadata",
        ),
        (
            "text/plain JSON",
            "text/plain",
            ok.to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_client_metadata",
        ),
        (
            "over 64 KiB",
            "application/json",
            json!({"redirect_uris":[REDIRECT],"pad":"x".repeat(64 * 1024)}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_client_metadata",
        ),
        (
            "eleven redirect URIs",
            "application/json",
            json!({"redirect_uris": vec![REDIRECT; 11]}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
        ),
        (
            "a redirect URI of 3000 bytes",
            "application/json",
            json!({"redirect_uris": [format!("{REDIRECT}?{}", "a".repeat(3000))]}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
        ),
        (
            "a client_name of 1000 bytes",
            "application/json",
            json!({"redirect_uris":[REDIRECT],"client_name":"n".repeat(1000)}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
        ),
        (
            "control: JSON with a charset",
            "application/json; charset=utf-8",
            ok.to_string(),
            StatusCode::CREATED,
            "",
        ),
    ];
    for (case, content_type, body, status, code) in cases {
        let got = error(post(content_type, body).await.unwrap()).await;
        assert_eq!(got, (status, code.to_owned()), "{case}");
    }
    // 7 requests so far: one more is allowed this minute, then 429 with Retry-After.
    assert_eq!(env.register(ok.clone()).await.0, StatusCode::CREATED);
    let r = post("application/json", ok.to_string()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=8).contains(&retry), "retry after {retry} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_holds_a_bounded_number_of_clients() {
    let env = start(DevAuthConfig::default().max_clients_per_address(2)).await;
    let body = json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"});
    assert_eq!(env.register(body.clone()).await.0, StatusCode::CREATED);
    assert_eq!(env.register(body.clone()).await.0, StatusCode::CREATED);
    let (status, error) = env.register(body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert_eq!(error["error"], "temporarily_unavailable");
}

// ---- refresh families and code replay -------------------------------------------------------

impl Env {
    /// A client that may refresh, and its first token response.
    async fn first_tokens(&self, scope: &str) -> (String, Value) {
        let client = self.public_client().await;
        let (verifier, challenge) = pkce();
        let query = self.code(&client, &challenge, scope).await;
        let (status, tokens) = self.exchange(&client, &query["code"], &verifier).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        (client, tokens)
    }

    async fn refresh(&self, client: &str, token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client),
        ])
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_use_of_one_refresh_token_revokes_the_family() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    for _ in 0..5 {
        let (client, tokens) = env.first_tokens("docs:read").await;
        let token = tokens["refresh_token"].as_str().unwrap();
        let (a, b) = tokio::join!(env.refresh(&client, token), env.refresh(&client, token));
        let winners: Vec<&Value> = [&a, &b]
            .into_iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        assert!(winners.len() <= 1, "both succeeded: {a:?} {b:?}");
        // Whoever won, its successor died with the family.
        for winner in winners {
            let next = winner["refresh_token"].as_str().unwrap();
            let (status, body) = env.refresh(&client, next).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                "the family survived a concurrent reuse"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_ends_refresh_token_ttl_after_its_first_grant() {
    let env = start(
        DevAuthConfig::default()
            .auto_approve(true)
            .refresh_token_ttl(std::time::Duration::from_millis(1500)),
    )
    .await;
    let (client, tokens) = env.first_tokens("docs:read").await;
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let (status, rotated) = env
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    // 0.9 s later the fresh token is 0.9 s old, but its family is 1.8 s old.
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let (status, body) = env
        .refresh(&client, rotated["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_revokes_the_refresh_tokens_issued_from_it() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    let client = env.public_client().await;
    let (verifier, challenge) = pkce();
    let query = env.code(&client, &challenge, "docs:read").await;
    let (status, tokens) = env.exchange(&client, &query["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env.exchange(&client, &query["code"], &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let (status, body) = env
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the refresh token outlived the replay"
    );
    // The access token already issued lives out its short lifetime (documented).
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(env.call(access, "read_doc").await, StatusCode::OK);
}

// ---- the consent page -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_cannot_be_framed_names_the_client_and_expires() {
    let env =
        start(DevAuthConfig::default().consent_ttl(std::time::Duration::from_millis(400))).await;
    let redirect = "http://127.0.0.1:9/cb?x=<b>&y=\"1\"";
    let (status, registered) = env
        .register(json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
            "client_name": "<script>alert(1)</script> Notes CLI",
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let client = registered["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; Notes CLI"),
        "{page}"
    );
    assert!(!page.contains("<script>"));
    assert!(
        page.contains("http://127.0.0.1:9/cb?x=&lt;b&gt;&amp;y=&quot;1&quot;"),
        "the exact redirect URI, escaped: {page}"
    );
    let request = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let r = env
        .http
        .post(format!("{}/authorize/decision", env.issuer))
        .form(&[("request", request.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.headers().get("location").is_none(),
        "no code after expiry"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

// ---- consent requests: bounded, and reached by navigations only ------------------------------

/// The consent-page request id in a consent page.
fn request_id(page: &str) -> String {
    page.split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_consent_requests_are_bounded_and_reached_by_navigations_only() {
    let env = start(DevAuthConfig::default()).await;
    let client = env.public_client().await;
    let (_, challenge) = pkce();
    let with_state = |state: String| {
        let challenge = challenge.clone();
        let client = client.clone();
        move || {
            vec![
                ("response_type", "code".to_owned()),
                ("client_id", client.clone()),
                ("redirect_uri", REDIRECT.to_owned()),
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "S256".to_owned()),
                ("state", state.clone()),
            ]
        }
    };
    let get = |params: Vec<(&'static str, String)>, mode: Option<&'static str>| {
        let mut request = env
            .http
            .get(format!("{}/authorize", env.issuer))
            .query(&params);
        if let Some(mode) = mode {
            // What a browser sends: the mode and the site together.
            request = request
                .header("sec-fetch-mode", mode)
                .header("sec-fetch-site", "cross-site");
        }
        request.send()
    };

    // A state over 1 KiB: invalid_request, and the state is not echoed.
    let r = get(with_state("s".repeat(1025))(), None).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let query = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(query["error"], "invalid_request", "{query:?}");
    assert!(!query.contains_key("state"));
    // A state of exactly 1 KiB is fine.
    let r = get(with_state("s".repeat(1024))(), None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Fetch Metadata: an <img> or a fetch from another page is refused, a navigation is not.
    for mode in ["no-cors", "cors", "same-origin", "websocket", ""] {
        let r = get(with_state("a".into())(), Some(mode)).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "Sec-Fetch-Mode {mode:?}");
        assert!(r.headers().get("location").is_none());
    }
    // Node's fetch sends `Sec-Fetch-Mode: cors` without a site: a headless client following
    // the redirects, not a page, and served.
    let r = env
        .http
        .get(format!("{}/authorize", env.issuer))
        .query(&with_state("a".into())())
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "Sec-Fetch-Mode alone");
    let r = get(with_state("a".into())(), Some("navigate"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let id = request_id(&page);
    assert!(
        page.contains("action=\"/dev-auth/authorize/decision\""),
        "the form posts to its own origin: {page}"
    );

    // The decision: refused from another site, or not as a navigation, and still pending.
    let decide = |headers: &[(&'static str, &'static str)]| {
        let mut request = env
            .http
            .post(format!("{}/authorize/decision", env.issuer))
            .form(&[("request", id.as_str()), ("decision", "approve")]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for headers in [
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ][..],
        &[
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "navigate"),
        ][..],
        &[("sec-fetch-site", "none")][..],
        &[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "no-cors"),
        ][..],
    ] {
        let r = decide(headers).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.headers().get("location").is_none(), "{headers:?}");
    }
    // What the consent page's own form sends: the code, uncached, with no Referer after it.
    let r = decide(&[
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "navigate"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_of(r.headers()["location"].to_str().unwrap()).contains_key("code"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");

    // One client holds at most 20 pending requests; another client is not affected.
    let mut pending = 2; // the 1 KiB state and the request of Node's fetch above
    let refused = loop {
        let r = get(with_state("x".into())(), None).await.unwrap();
        if r.status() != StatusCode::OK {
            break r;
        }
        pending += 1;
        assert!(
            pending <= 20,
            "more than 20 pending requests for one client"
        );
    };
    assert_eq!(pending, 20);
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-frame-options"], "DENY");
    let other = env.public_client().await;
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &other),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_approved_and_denied_redirects_are_not_cached_nor_referred() {
    let env = start(DevAuthConfig::default().auto_approve(true)).await;
    let client = env.public_client().await;
    let (_, challenge) = pkce();
    let r = env
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_of(r.headers()["location"].to_str().unwrap()).contains_key("code"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

// ---- registration quotas per address and Origin ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_spends_its_quota_does_not_lock_out_the_developers_tools() {
    let env = start(
        DevAuthConfig::default()
            .max_clients_per_address(2)
            .registrations_per_minute(5),
    )
    .await;
    let body = json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none"});
    let register = |origin: Option<&'static str>| {
        let mut request = env
            .http
            .post(format!("{}/register", env.issuer))
            .json(&body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move { request.send().await.unwrap().status() }
    };
    let page = Some("https://evil.example");
    assert_eq!(register(page).await, StatusCode::CREATED);
    assert_eq!(register(page).await, StatusCode::CREATED);
    assert_eq!(register(page).await, StatusCode::TOO_MANY_REQUESTS, "quota");
    // Its rate limit, too, is its own: 3 of 5 spent, then 2 more, then 429.
    assert_eq!(register(page).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register(page).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register(page).await, StatusCode::TOO_MANY_REQUESTS);
    // Same address (127.0.0.1), but the developer's tools send no Origin; the Inspector
    // sends its own.
    assert_eq!(register(None).await, StatusCode::CREATED);
    assert_eq!(
        register(Some("http://localhost:6274")).await,
        StatusCode::CREATED
    );
}

// ---- proxies and tunnels in front of the development server -----------------------------------

#[tokio::test]
async fn requests_forwarded_by_a_proxy_are_refused_unless_told() {
    use tower::ServiceExt as _;
    let server = Server::new(Docs).unwrap();
    let config = DevAuthConfig::default();
    let dev = DevAuth::new(&server, "http://127.0.0.1:8080/mcp", config.clone()).unwrap();
    let open = DevAuth::new(
        &server,
        "http://127.0.0.1:8080/mcp",
        config.allow_non_loopback(true),
    )
    .unwrap();
    let send = |dev: &DevAuth, header: Option<(&'static str, &'static str)>| {
        let mut request = axum::http::Request::builder()
            .uri("/.well-known/oauth-authorization-server/dev-auth")
            .header("host", "127.0.0.1:8080");
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        // nginx on 0.0.0.0:443 with proxy_pass http://127.0.0.1:8080: a loopback local address.
        request.extensions_mut().insert(scopegate::http::LocalAddr(
            "127.0.0.1:8080".parse().unwrap(),
        ));
        let router = dev.router();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(send(&dev, None).await.0, StatusCode::OK, "control");
    for header in [
        ("forwarded", "for=192.0.2.60;proto=https"),
        ("x-forwarded-for", "192.0.2.60"),
        ("x-forwarded-host", "dev.example"),
        ("x-forwarded-proto", "https"),
        ("x-real-ip", "192.0.2.60"),
        ("via", "1.1 nginx"),
        ("X-Forwarded-For", ""),
    ] {
        let (status, body) = send(&dev, Some(header)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{header:?}");
        assert!(
            body.contains("allow_non_loopback"),
            "names the opt-out: {body}"
        );
        assert_eq!(
            send(&open, Some(header)).await.0,
            StatusCode::OK,
            "{header:?}"
        );
    }
}
