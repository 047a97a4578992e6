//! The server under attack (the files server on 127.0.0.1, trusting a local key server) and
//! the requests the cases send it.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::capture::Capture;
use crate::files::{Files, Runs};
use crate::support::{self, KeyServer, TokenBuilder};

// ---- the server under attack ---------------------------------------------------------------

// The server under attack is `files` (tests/support/files.rs).

// ---- harness -------------------------------------------------------------------------------

/// A running MCP server on 127.0.0.1 plus the key server it trusts.
pub(crate) struct Harness {
    pub(crate) keys: KeyServer,
    pub(crate) base: String,
    pub(crate) resource: String,
    pub(crate) runs: Runs,
    pub(crate) client: reqwest::Client,
    pub(crate) capture: Capture,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn challenge(&self) -> Option<&str> {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("<not visible ASCII>"))
    }

    pub(crate) fn session(&self) -> Option<String> {
        self.headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// Starts the files server trusting `keys`, with `jwt` and `http` applied to the default
/// `JwtConfig::new(issuer, resource)` and `HttpConfig::new(resource)`.
pub(crate) async fn harness(
    keys: KeyServer,
    capture: &Capture,
    jwt: impl FnOnce(JwtConfig) -> JwtConfig,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> Harness {
    harness_of(|runs| Files { runs }, keys, capture, jwt, http).await
}

/// The server `make` builds around the run counter, on 127.0.0.1, trusting `keys`, with `jwt`
/// and `http` applied to the default `JwtConfig::new(issuer, resource)` and
/// `HttpConfig::new(resource)`.
pub(crate) async fn harness_of<S: McpServer>(
    make: impl FnOnce(Runs) -> S,
    keys: KeyServer,
    capture: &Capture,
    jwt: impl FnOnce(JwtConfig) -> JwtConfig,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let config =
        http(HttpConfig::new(&resource).jwt(jwt(JwtConfig::new(keys.issuer(), &resource))));
    let runs = Runs::default();
    let router = Server::new(make(runs.clone()))
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    }
}

pub(crate) async fn default_harness(capture: &Capture) -> Harness {
    harness(KeyServer::start().await, capture, |j| j, |c| c).await
}

pub(crate) fn call_body(tool: &str) -> Value {
    let args = if tool == "read_file" || tool == "write_file" {
        json!({"path": "secret.txt"})
    } else {
        json!({})
    };
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}})
}

impl Harness {
    pub(crate) fn token(&self, scope: &str) -> TokenBuilder {
        self.keys.token(&self.resource, scope)
    }

    pub(crate) fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.count()
    }

    /// Sends and reads the whole answer; `None` if that takes longer than 15 s (a hang).
    pub(crate) async fn try_send(&self, request: RequestBuilder) -> Option<Reply> {
        tokio::time::timeout(Duration::from_secs(15), async {
            let response = request.send().await.expect("the request is sent");
            let status = response.status();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
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
        })
        .await
        .ok()
    }

    pub(crate) async fn send(&self, request: RequestBuilder) -> Reply {
        self.try_send(request).await.expect("an answer within 15 s")
    }

    /// A POST of `body` to the MCP endpoint with the usual headers, and `Authorization: Bearer`
    /// and `Mcp-Session-Id` when given.
    pub(crate) fn post(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> RequestBuilder {
        let mut request = self.bare_post(session).body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request
    }

    /// A POST with content type, accept and session headers but no body and no credentials.
    pub(crate) fn bare_post(&self, session: Option<&str>) -> RequestBuilder {
        let mut request = self
            .client
            .post(&self.resource)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    }

    /// A `tools/call` of `tool` with `token` on `session`.
    pub(crate) fn call(&self, token: &str, session: &str, tool: &str) -> RequestBuilder {
        self.post(Some(token), Some(session), &call_body(tool))
    }

    /// A 2026-07-28 `tools/call` (no session) whose `Mcp-Name` header says `header_name` and
    /// whose body calls `tool`.
    pub(crate) fn modern_call(&self, token: &str, tool: &str, header_name: &str) -> RequestBuilder {
        let mut body = call_body(tool);
        body["params"]["_meta"] = support::modern_meta();
        self.post(Some(token), None, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", header_name)
    }

    /// Initializes a session with `token`; returns the session id.
    pub(crate) async fn initialize(&self, token: &str) -> String {
        let r = self
            .send(self.post(
                Some(token),
                None,
                &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "initialize: {:?}", r.body);
        r.session().expect("initialize issues a session id")
    }
}

pub(crate) fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(&challenge[start..end])
}
