//! Client ID Metadata Documents on the development authorization server, over real HTTP: a
//! client whose `client_id` is the `https` URL of its metadata document, served on 127.0.0.1
//! with a certificate from a CA the test generates (trusted through
//! `DevAuthConfig::metadata_document_ca`), authorizes and gets tokens with no registration; the
//! document is fetched once and cached; every way a document can be wrong is a clear OAuth
//! error, never a redirect to an unverified URI.

#[path = "support/tls.rs"]
mod tls;

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

use tls::{DocumentServer, TestCa};

/// Reads.
#[mcp_tool(scope = "docs:read")]
fn read_doc() -> String {
    "a doc".into()
}

#[derive(McpServer)]
#[mcp(name = "docs", tools(read_doc))]
struct Docs;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PATH: &str = "/oauth/client.json";

struct Env {
    issuer: String,
    resource: String,
    http: reqwest::Client,
}

async fn start(config: DevAuthConfig) -> Env {
    start_as(None, config).await
}

/// The same, with the resource (so the issuer) on `origin` instead of the listener's address.
async fn start_as(origin: Option<&str>, config: DevAuthConfig) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listening = format!("http://{}", listener.local_addr().unwrap());
    let base = origin.unwrap_or(&listening);
    let resource = format!("{base}/mcp");
    let server = Server::new(Docs).unwrap();
    let dev = DevAuth::new(&server, &resource, config).unwrap();
    let issuer = dev.issuer().to_owned();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(&issuer))
        .unwrap()
        .merge(dev.router());
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    Env {
        issuer: issuer.replacen(base, &listening, 1),
        resource,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
    }
}

/// A document server with the CA that signed its certificate, and a development server that
/// trusts that CA.
async fn setup() -> (TestCa, DocumentServer, Env) {
    let ca = TestCa::new();
    let docs = DocumentServer::start(&ca).await;
    let env = start(DevAuthConfig::default().metadata_document_ca(ca.pem())).await;
    (ca, docs, env)
}

fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "CIMD Test Client",
        "client_uri": "https://client.example",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// A PKCE pair; SHA-256 through the openssl command line, independent of the server's.
fn pkce() -> (String, String) {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let verifier = format!(
        "cimd-verifier-{:040}",
        N.fetch_add(1, Ordering::SeqCst) + u64::from(std::process::id())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(verifier.as_bytes())
        .unwrap();
    let digest = child.wait_with_output().unwrap().stdout;
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

fn query_of(location: &str) -> HashMap<String, String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Env {
    async fn authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
    ) -> reqwest::Response {
        self.http
            .get(format!("{}/authorize", self.issuer))
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("scope", "docs:read"),
                ("state", "st4te"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// An authorization refused before any redirect: the page's status and text.
    async fn refused(&self, client_id: &str, redirect_uri: &str) -> (StatusCode, String) {
        let (_, challenge) = pkce();
        let r = self.authorize(client_id, redirect_uri, &challenge).await;
        assert!(
            r.headers().get("location").is_none(),
            "an unverified redirect URI is never redirected to"
        );
        (r.status(), r.text().await.unwrap())
    }

    /// Approves the consent page; returns the redirect's query.
    async fn approve(&self, page: &str) -> HashMap<String, String> {
        let request = page
            .split("name=\"request\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let r = self
            .http
            .post(format!("{}/authorize/decision", self.issuer))
            .form(&[("request", request), ("decision", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let location = r.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        query_of(location)
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn exchange(&self, client_id: &str, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// The whole flow for `client_id`, consent included; returns the token response.
    async fn flow(&self, client_id: &str) -> Value {
        let (verifier, challenge) = pkce();
        let r = self.authorize(client_id, REDIRECT, &challenge).await;
        assert_eq!(r.status(), StatusCode::OK);
        let query = self.approve(&r.text().await.unwrap()).await;
        let (status, tokens) = self.exchange(client_id, &query["code"], &verifier).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        tokens
    }
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_identified_by_its_metadata_document_gets_tokens_without_registering() {
    let (_ca, docs, env) = setup().await;
    let client_id = docs.url(PATH);
    docs.json(PATH, 60, &document(&client_id));

    let metadata: Value = env
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/dev-auth",
            env.resource.trim_end_matches("/mcp")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    // The consent page names the client from its document, and shows the document's URL and
    // host.
    let (verifier, challenge) = pkce();
    let r = env.authorize(&client_id, REDIRECT, &challenge).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("<strong>CIMD Test Client</strong>"), "{page}");
    assert!(
        page.contains(&format!("<code>{client_id}</code>")),
        "{page}"
    );
    assert!(
        page.contains("on the host <strong>127.0.0.1</strong>"),
        "{page}"
    );
    let query = env.approve(&page).await;
    assert_eq!(query["state"], "st4te");
    assert_eq!(query["iss"], env.issuer);

    let (status, tokens) = env.exchange(&client_id, &query["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "docs:read");
    let access = tokens["access_token"].as_str().unwrap();
    let body = claims(access);
    assert_eq!(body["client_id"], client_id);
    assert_eq!(body["aud"], env.resource);

    // The MCP server accepts the token.
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = env
        .http
        .post(&env.resource)
        .bearer_auth(access)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The document lists the refresh grant: refresh tokens rotate as for any client.
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let (status, refreshed) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    // Authorize, token and refresh: one fetch, then the cache (max-age=60).
    assert_eq!(docs.hits(PATH), 1);

    // A client that sends a secret is not the public client its document describes.
    let (status, body) = env
        .token(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", &client_id),
            ("client_secret", "guess"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_without_the_refresh_grant_gets_no_refresh_token_and_no_store_is_fetched_each_time()
 {
    let (_ca, docs, env) = setup().await;
    let client_id = docs.url(PATH);
    let mut doc = document(&client_id);
    doc.as_object_mut().unwrap().remove("grant_types");
    doc.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_method");
    docs.reply(
        PATH,
        200,
        &[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        &doc.to_string(),
    );
    let tokens = env.flow(&client_id).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    // no-store: fetched for /authorize and again for /token.
    assert_eq!(docs.hits(PATH), 2);
}

/// Sets up what a document server answers.
type Serve = Box<dyn Fn(&DocumentServer)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_documents_are_clear_oauth_errors_and_never_cached() {
    let (_ca, docs, env) = setup().await;
    let url = |path: &str| docs.url(path);

    let cases: Vec<(&str, Serve, &str)> = vec![
        ("/missing.json", Box::new(|_| {}), "HTTP 404"),
        (
            "/other-id.json",
            Box::new(|d: &DocumentServer| {
                d.json("/other-id.json", 60, &document(&d.url("/elsewhere.json")))
            }),
            "is not the URL it was fetched from",
        ),
        (
            "/secret.json",
            Box::new(|d: &DocumentServer| {
                let mut doc = document(&d.url("/secret.json"));
                doc["token_endpoint_auth_method"] = "client_secret_basic".into();
                d.json("/secret.json", 60, &doc);
            }),
            "public client",
        ),
        (
            "/no-redirects.json",
            Box::new(|d: &DocumentServer| {
                let mut doc = document(&d.url("/no-redirects.json"));
                doc.as_object_mut().unwrap().remove("redirect_uris");
                d.json("/no-redirects.json", 60, &doc);
            }),
            "lists no redirect_uris",
        ),
        (
            "/large.json",
            Box::new(|d: &DocumentServer| {
                let mut doc = document(&d.url("/large.json"));
                doc["padding"] = "x".repeat(6 * 1024).into();
                d.json("/large.json", 60, &doc);
            }),
            "more than 5120 bytes",
        ),
        (
            "/moved.json",
            Box::new(|d: &DocumentServer| {
                let target = d.url("/target.json");
                d.reply("/moved.json", 302, &[("location", target.as_str())], "");
                d.json("/target.json", 60, &document(&d.url("/moved.json")));
            }),
            "HTTP 302",
        ),
        (
            "/not-json.json",
            Box::new(|d: &DocumentServer| d.reply("/not-json.json", 200, &[], "<html>")),
            "did not answer with JSON",
        ),
    ];
    for (path, serve, why) in cases {
        serve(&docs);
        let (status, page) = env.refused(&url(path), REDIRECT).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
        assert!(page.contains("invalid_client"), "{path}: {page}");
        assert!(page.contains(why), "{path}: expected {why}: {page}");
        // The token endpoint says the same, as an RFC 6749 §5.2 error.
        let (status, body) = env
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", &url(path)),
            ])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["error"], "invalid_client", "{path}");
        assert!(
            body["error_description"].as_str().unwrap().contains(why),
            "{body}"
        );
        // Errors are not cached: fetched once per request.
        assert_eq!(docs.hits(path), 2, "{path}");
    }
    assert_eq!(docs.hits("/target.json"), 0, "a redirect is not followed");

    // Once the document is fixed, the next request uses it (nothing was cached).
    docs.json("/missing.json", 60, &document(&url("/missing.json")));
    env.flow(&url("/missing.json")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_uri_must_be_listed_and_an_edited_document_is_fetched_again() {
    let (_ca, docs, env) = setup().await;
    let client_id = docs.url(PATH);
    docs.json(PATH, 3600, &document(&client_id));
    env.flow(&client_id).await;
    assert_eq!(docs.hits(PATH), 1);

    let other = "http://127.0.0.1:9/other-callback";
    let (status, page) = env.refused(&client_id, other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("invalid_request"), "{page}");
    assert!(
        page.contains("is not listed in the client ID metadata document"),
        "{page}"
    );
    assert_eq!(
        docs.hits(PATH),
        2,
        "a cached document lacking it is fetched again once"
    );

    // The developer adds the redirect URI: it works at once, despite max-age=3600.
    let mut doc = document(&client_id);
    doc["redirect_uris"] = json!([REDIRECT, other]);
    docs.json(PATH, 3600, &doc);
    let (_, challenge) = pkce();
    let r = env.authorize(&client_id, other, &challenge).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(docs.hits(PATH), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_the_draft_forbids_are_refused_without_a_fetch() {
    let (_ca, docs, env) = setup().await;
    docs.json(PATH, 60, &document(&docs.url(PATH)));
    for (client_id, why) in [
        ("http://192.0.2.1/client.json".to_owned(), "must be https"),
        (docs.origin.clone() + "/", "path other than /"),
        (docs.url("/a/../oauth/client.json"), ". or .."),
        (docs.url(PATH) + "#f", "fragment"),
        (
            docs.url(PATH).replace("https://", "https://u:p@"),
            "userinfo",
        ),
        (
            "https://10.1.2.3/client.json".to_owned(),
            "special-use address",
        ),
        (
            "https://169.254.169.254/latest".to_owned(),
            "special-use address",
        ),
    ] {
        let (status, page) = env.refused(&client_id, REDIRECT).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(
            page.contains("invalid_client") && page.contains(why),
            "{client_id}: {page}"
        );
    }
    assert_eq!(docs.hits(PATH), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_off_loopback_fetches_nothing_from_loopback_by_address_or_by_name() {
    let ca = TestCa::new();
    let docs = DocumentServer::start(&ca).await;
    let env = start_as(
        Some("https://dev.example:8443"),
        DevAuthConfig::default()
            .allow_non_loopback(true)
            .metadata_document_ca(ca.pem()),
    )
    .await;
    let by_address = docs.url(PATH);
    docs.json(PATH, 60, &document(&by_address));
    let (status, page) = env.refused(&by_address, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("special-use address"), "{page}");
    // `localhost` resolves to loopback: the resolver drops those addresses, so nothing is
    // fetched (the certificate is valid for `localhost`: only the resolver stops it).
    let by_name = by_address.replace("127.0.0.1", "localhost");
    docs.json(PATH, 60, &document(&by_name));
    let (status, page) = env.refused(&by_name, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("invalid_client") && page.contains("fetching it failed"),
        "{page}"
    );
    assert_eq!(docs.hits(PATH), 0);

    // The same document by name, with the issuer on loopback: fetched.
    let env = start(DevAuthConfig::default().metadata_document_ca(ca.pem())).await;
    env.flow(&by_name).await;
    assert_eq!(docs.hits(PATH), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_signed_by_an_untrusted_ca_is_refused() {
    let ca = TestCa::new();
    let docs = DocumentServer::start(&ca).await;
    let client_id = docs.url(PATH);
    docs.json(PATH, 60, &document(&client_id));
    // Trusting another CA, or none of its own.
    for config in [
        DevAuthConfig::default().metadata_document_ca(TestCa::new().pem()),
        DevAuthConfig::default(),
    ] {
        let env = start(config).await;
        let (status, page) = env.refused(&client_id, REDIRECT).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            page.contains("invalid_client") && page.contains("fetching it failed"),
            "{page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_documents_are_served_from_loopback() {
    // A document over plain http on 127.0.0.1, as scopegate allows http to loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client_id = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let doc = document(&client_id);
    let app = axum::Router::new().route(
        PATH,
        axum::routing::get(move || async move { axum::Json(doc) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let env = start(DevAuthConfig::default()).await;
    let tokens = env.flow(&client_id).await;
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        client_id
    );
}

#[test]
fn an_unusable_ca_stops_the_server_from_starting() {
    let server = Server::new(Docs).unwrap();
    for pem in ["", "not a certificate"] {
        let error = DevAuth::new(
            &server,
            "http://127.0.0.1:8080/mcp",
            DevAuthConfig::default().metadata_document_ca(pem),
        )
        .unwrap_err();
        assert!(
            matches!(error, DevAuthError::MetadataDocumentCa(_)),
            "{pem}: {error}"
        );
        assert!(
            error.to_string().contains("client ID metadata documents"),
            "{error}"
        );
    }
}
