//! Against the development authorization server, over real HTTP on 127.0.0.1: a tool calls a
//! downstream API (an axum app that accepts only tokens for its own audience) with a token
//! exchanged for the caller's; the development server's exchange policy; refusals as tool
//! errors; and the `downstream` example run as a user runs it.

use std::sync::{Arc, Mutex};

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use scopegate::auth::{
    ClientAuth, ExchangeError, ExchangeErrorCode, JwtConfig, JwtVerifier, TokenExchange,
    TokenVerifier,
};
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use scopegate::{Downstream, ServerOptions};
use serde_json::{Value, json};

use crate::dev_token::dev_token;
use crate::e2e::McpServer as Example;
use crate::logs;

const MAIL: &str = "https://mail.example";
const FILES: &str = "https://files.example";

/// Where the mail API listens.
#[derive(Clone)]
struct MailApi(String);

/// Sends mail through the mail API, with a token for it.
#[mcp_tool(scope = "mail:send", downstream = "https://mail.example")]
async fn send_mail(api: State<MailApi>, to: String, apis: Downstream) -> Result<String, ToolError> {
    let token = apis.token(MAIL).await?;
    let answer = reqwest::Client::new()
        .post(format!("{}/send", api.0.0))
        .header(reqwest::header::AUTHORIZATION, token.authorization())
        .json(&json!({ "to": to }))
        .send()
        .await?;
    Ok(format!(
        "{} {}",
        answer.status().as_u16(),
        answer.text().await?
    ))
}

/// Asks for a token for an API it did not declare.
#[mcp_tool(scope = "mail:send", downstream = "https://mail.example")]
async fn stray(apis: Downstream) -> Result<String, ToolError> {
    apis.token(FILES).await?;
    Ok("a token for an undeclared API".into())
}

/// Asks for a token for the files API with a scope.
#[mcp_tool(scope = "mail:send", downstream = ["https://mail.example", "https://files.example"])]
async fn with_scope(apis: Downstream, scope: String) -> Result<String, ToolError> {
    let token = apis.token_with_scopes(FILES, &[&scope]).await?;
    Ok(format!("a token for {}", token.audience()))
}

#[derive(McpServer, Clone)]
#[mcp(name = "mailer", tools(send_mail, stray, with_scope))]
struct Mailer {
    #[mcp(state)]
    api: MailApi,
}

/// What the mail API saw: the tokens it was sent.
type Received = Arc<Mutex<Vec<String>>>;

/// `POST /send`: accepts tokens for `MAIL` only, and says what the token said.
async fn send(
    AxumState((verifier, received)): AxumState<(Arc<JwtVerifier>, Received)>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    received.lock().unwrap().push(token.to_owned());
    match verifier.verify(token).await {
        Ok(who) => axum::Json(json!({
            "sub": who.subject(),
            "client_id": who.client_id(),
            "scope": who.scopes().to_string(),
            "aud": who.claims().get("aud"),
        }))
        .into_response(),
        Err(error) => (StatusCode::UNAUTHORIZED, error.to_string()).into_response(),
    }
}

/// The mailer, the development server beside it and the mail API, on 127.0.0.1.
struct World {
    resource: String,
    issuer: String,
    mail: String,
    received: Received,
    config: DevAuthConfig,
    http: reqwest::Client,
}

impl World {
    async fn start(config: DevAuthConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
        let mail_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mail = format!("http://{}", mail_listener.local_addr().unwrap());
        let exchange = config.token_exchange(&resource).unwrap();
        let server = Server::with_options(
            Mailer {
                api: MailApi(mail.clone()),
            },
            ServerOptions::default().token_exchange(exchange),
        )
        .unwrap();
        let dev = DevAuth::new(&server, &resource, config.clone()).unwrap();
        let issuer = dev.issuer().to_owned();
        let router = server
            .http(
                HttpConfig::new(&resource)
                    .jwt_issuer(&issuer)
                    .stateless(true),
            )
            .unwrap()
            .merge(dev.router());
        tokio::spawn(scopegate::http::serve_on(listener, router));
        let verifier = Arc::new(JwtVerifier::new(JwtConfig::new(&issuer, MAIL)));
        let received = Received::default();
        let app = axum::Router::new()
            .route("/send", axum::routing::post(send))
            .with_state((verifier, received.clone()));
        tokio::spawn(async move { axum::serve(mail_listener, app).await });
        Self {
            resource,
            issuer,
            mail,
            received,
            config,
            http: reqwest::Client::new(),
        }
    }

    async fn user_token(&self, scope: &str) -> String {
        dev_token(&self.issuer, &self.resource, scope).await
    }

    /// `tools/call` of `tool` with `token`: the result.
    async fn call(&self, token: &str, tool: &str, arguments: Value) -> Value {
        call(&self.http, &self.resource, token, tool, arguments).await
    }

    /// The exchange client the mailer uses (the same client id and secret).
    fn exchange(&self) -> TokenExchange {
        self.config.token_exchange(&self.resource).unwrap()
    }
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    arguments: Value,
) -> Value {
    let answer: Value = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["result"].clone()
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// The claims of a JWT, unverified (the test's own reading).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_tool_calls_its_downstream_api_with_an_exchanged_token_never_the_callers() {
    let (logs, _guard) = logs::capture();
    let world = World::start(DevAuthConfig::default().auto_approve(true)).await;
    let token = world.user_token("mail:send").await;
    let result = world.call(&token, "send_mail", json!({"to": "bob"})).await;
    assert_ne!(result["isError"], true, "{result}");
    let (status, body) = text(&result).split_once(' ').unwrap();
    assert_eq!(status, "200", "{result}");
    let said: Value = serde_json::from_str(body).unwrap();
    assert_eq!(said["aud"], MAIL);
    assert_eq!(said["sub"], "developer", "the caller, on whose behalf");
    assert_eq!(
        said["client_id"], "scopegate-resource-server",
        "issued to the MCP server"
    );
    assert_eq!(said["scope"], "mail:send", "the caller's scopes, no more");

    let received = world.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_ne!(
        received[0], token,
        "the caller's token never went downstream"
    );
    let exchanged = &received[0];
    assert!(
        claims(exchanged)["exp"].as_u64() <= claims(&token)["exp"].as_u64(),
        "the exchanged token expires with the caller's at the latest"
    );
    // Sent there, the caller's own token is refused: it is for the MCP server.
    let direct = world
        .http
        .post(format!("{}/send", world.mail))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);

    // A second call uses the cached token: the mail API sees the same one.
    world
        .call(&token, "send_mail", json!({"to": "carol"}))
        .await;
    let received = world.received.lock().unwrap().clone();
    assert_eq!(
        received.len(),
        3,
        "the first call, the direct one, the second call"
    );
    assert_eq!(received[2], received[0], "the cached token again");
    logs.assert_free_of(&[
        ("the caller's token", &token),
        ("the exchanged token", exchanged),
    ]);
}

#[tokio::test(flavor = "current_thread")]
async fn an_api_the_tool_did_not_declare_is_refused_and_logged() {
    let (logs, _guard) = logs::capture();
    let world = World::start(DevAuthConfig::default().auto_approve(true)).await;
    let token = world.user_token("mail:send").await;
    let result = world.call(&token, "stray", json!({})).await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        text(&result),
        "`stray` asked for a token for `https://files.example`, which it does not declare in `downstream = ..`"
    );
    let logged = logs.text();
    assert!(logged.contains("undeclared_downstream"), "{logged}");
    assert!(
        !logged.contains("token_exchanged") && !logged.contains("exchange_failed"),
        "the issuer was never asked: {logged}"
    );
    logs.assert_free_of(&[("the caller's token", &token)]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_by_the_issuer_is_a_tool_error_without_tokens() {
    let world = World::start(DevAuthConfig::default().auto_approve(true)).await;
    let token = world.user_token("mail:send").await;
    let result = world
        .call(&token, "with_scope", json!({"scope": "files:write"}))
        .await;
    assert_eq!(result["isError"], true, "{result}");
    let message = text(&result);
    assert!(
        message.starts_with("`with_scope` could not get a token for https://files.example: the authorization server refused the exchange: invalid_scope"),
        "{message}"
    );
    assert!(!message.contains(&token));
    let result = world
        .call(&token, "with_scope", json!({"scope": "mail:send"}))
        .await;
    assert_eq!(
        text(&result),
        "a token for https://files.example",
        "{result}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_development_server_holds_to_its_exchange_policy() {
    let world = World::start(DevAuthConfig::default().auto_approve(true)).await;
    let token = world.user_token("mail:send").await;
    let exchange = world.exchange().cache_capacity(0);
    let code = |result: Result<_, ExchangeError>| result.err().and_then(|e| e.code().cloned());

    let secret = &world.config.exchange_client.secret;
    assert!(!format!("{:?} {exchange:?}", world.config).contains(secret.as_str()));
    let issued = exchange.exchange(&token, MAIL, &[]).await.unwrap();
    let issued = issued.authorization().to_str().unwrap()["Bearer ".len()..].to_owned();
    let said = claims(&issued);
    assert_eq!(said["aud"], MAIL);
    assert_eq!(said["iss"], world.issuer.as_str());

    // An API the server does not declare.
    assert_eq!(
        code(exchange.exchange(&token, "https://evil.example", &[]).await),
        Some(ExchangeErrorCode::InvalidTarget)
    );
    // More scopes than the caller's token holds.
    assert_eq!(
        code(exchange.exchange(&token, MAIL, &["mail:admin"]).await),
        Some(ExchangeErrorCode::InvalidScope)
    );
    // A subject token that is not one of its tokens for the MCP server: the exchanged one
    // (for the API), and a stranger.
    for subject in [issued.as_str(), "not-a-token"] {
        assert_eq!(
            code(exchange.exchange(subject, MAIL, &[]).await),
            Some(ExchangeErrorCode::InvalidGrant)
        );
    }
    // A wrong secret, and a client other than the MCP server's.
    let wrong = TokenExchange::new(
        format!("{}/token", world.issuer),
        "scopegate-resource-server",
        ClientAuth::secret_basic("guess"),
    );
    assert_eq!(
        code(wrong.exchange(&token, MAIL, &[]).await),
        Some(ExchangeErrorCode::InvalidClient)
    );
    let registered: Value = world
        .http
        .post(format!("{}/register", world.issuer))
        .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "client_secret_post"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = TokenExchange::new(
        format!("{}/token", world.issuer),
        registered["client_id"].as_str().unwrap(),
        ClientAuth::secret_post(registered["client_secret"].as_str().unwrap()),
    );
    assert_eq!(
        code(other.exchange(&token, MAIL, &[]).await),
        Some(ExchangeErrorCode::UnauthorizedClient)
    );
    // The metadata says it.
    let metadata: Value = world
        .http
        .get(world.issuer.replace(
            "/dev-auth",
            "/.well-known/oauth-authorization-server/dev-auth",
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:ietf:params:oauth:grant-type:token-exchange")),
        "{metadata}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_caller_token_is_not_exchanged_and_wider_scopes_only_when_configured() {
    let config = DevAuthConfig::default()
        .auto_approve(true)
        .access_token_ttl(std::time::Duration::from_secs(1))
        .exchange_any_scope(true);
    let world = World::start(config).await;
    let token = world.user_token("mail:send").await;
    let exchange = world.exchange().cache_capacity(0);
    exchange
        .exchange(&token, MAIL, &["mail:admin"])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let error = exchange.exchange(&token, MAIL, &[]).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some(&ExchangeErrorCode::InvalidGrant),
        "{error}"
    );
}

/// No downstream API.
#[mcp_tool(public)]
fn hello() -> String {
    "hello".into()
}

#[derive(McpServer)]
#[mcp(name = "plain", tools(hello))]
struct Plain;

#[tokio::test(flavor = "current_thread")]
async fn without_downstream_apis_the_grant_is_neither_advertised_nor_answered() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let config = DevAuthConfig::default().auto_approve(true);
    let server = Server::new(Plain).unwrap();
    let dev = DevAuth::new(&server, &resource, config.clone()).unwrap();
    let router = server
        .http(HttpConfig::new(&resource).jwt_issuer(dev.issuer()))
        .unwrap()
        .merge(dev.router());
    tokio::spawn(scopegate::http::serve_on(listener, router));
    let metadata: Value = reqwest::get(format!(
        "{base}/.well-known/oauth-authorization-server/dev-auth"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    let exchange = config.token_exchange(&resource).unwrap();
    let error = exchange.exchange("any-token", MAIL, &[]).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some(&ExchangeErrorCode::UnsupportedGrantType),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downstream_example_calls_its_calendar_api_with_an_exchanged_token() {
    let mut example =
        Example::start("downstream", &["--addr", "127.0.0.1:0", "--auto-approve"]).await;
    let resource = example.url.clone();
    let base = resource.trim_end_matches("/mcp");
    let calendar = example.process.wait_for("calendar API: ").await;
    let calendar = calendar.split_whitespace().next().unwrap().to_owned();
    let token = dev_token(&format!("{base}/dev-auth"), &resource, "calendar:read").await;
    let http = reqwest::Client::new();
    let result = call(&http, &resource, &token, "next_meeting", json!({})).await;
    assert_ne!(
        result["isError"],
        true,
        "{result}\n{}",
        example.process.log()
    );
    let said: Value = serde_json::from_str(text(&result)).unwrap();
    assert_eq!(said["meeting"], "Design review, tomorrow 10:00");
    assert_eq!(said["audience"], "https://calendar.example");
    assert_eq!(said["subject"], "developer");
    assert_eq!(said["client_id"], "scopegate-resource-server");
    let direct = http
        .get(format!("{calendar}/next"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.status(),
        401,
        "the caller's token is not for the calendar API"
    );
}
