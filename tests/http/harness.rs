//! The files server on 127.0.0.1, served as an application serves it, trusting a local key
//! server; and the requests the tests send it.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use scopegate::auth::JwtConfig;
use scopegate::http::{HttpConfig, ServeOptions};
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::files::{Files, Runs};
use crate::support::{KeyServer, TokenBuilder};

/// A running MCP server on 127.0.0.1 plus the key server it trusts.
pub(crate) struct Harness {
    pub(crate) keys: KeyServer,
    pub(crate) base: String,
    pub(crate) resource: String,
    pub(crate) runs: Runs,
    pub(crate) client: reqwest::Client,
}

pub(crate) async fn start<S: McpServer>(
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
pub(crate) async fn files() -> Harness {
    files_with(|c, _, _| c).await
}

pub(crate) async fn files_with(
    extra: impl FnOnce(HttpConfig, &KeyServer, &str) -> HttpConfig,
) -> Harness {
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

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub(crate) fn session(&self) -> Option<String> {
        self.headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned())
    }
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

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
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

    pub(crate) fn post(
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

    pub(crate) async fn rpc(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: Value,
    ) -> Reply {
        self.send(self.post(token, session, &body)).await
    }

    /// Initializes a session with `token`; returns the session id.
    pub(crate) async fn initialize(&self, token: &str) -> String {
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
    pub(crate) fn open_stream(&self, token: &str, session: &str) -> reqwest::RequestBuilder {
        self.client
            .get(&self.resource)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", session)
    }

    pub(crate) async fn call(&self, token: &str, session: &str, tool: &str, args: Value) -> Reply {
        self.rpc(
            Some(token),
            Some(session),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}}),
        )
        .await
    }
}

pub(crate) fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(&challenge[start..end])
}
