//! The development authorization server, driven over real HTTP as an OAuth client drives it:
//! metadata, registration, authorization with PKCE and consent, token, refresh rotation, and the
//! MCP server accepting what it issues.

use std::collections::HashMap;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    let resource = format!("{base}/mcp");
    let server = Server::new(Docs).unwrap();
    let dev = DevAuth::new(&server, &resource, config).unwrap();
    let issuer = dev.issuer().to_owned();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(&issuer))
        .unwrap()
        .merge(dev.router());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
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

/// SHA-256 through the openssl command line: an implementation independent of the server's.
fn openssl_sha256(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
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
