//! The audit's requests to the MCP endpoint: one POST with or without a token, an `Origin`, a
//! token in the query string, and the answer read as far as the checks need.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

use super::challenge::{self, Bearer};
use crate::protocol::Method;

/// The protocol revision the audit asks for in `initialize`: widely served; a server that does
/// not know it answers with its own (MCP lifecycle, version negotiation).
const PROTOCOL_VERSION: &str = "2025-11-25";

/// A foreign origin: a page on a host that cannot exist (RFC 2606 `.invalid`).
pub(super) const FOREIGN_ORIGIN: &str = "http://scopegate-audit.invalid";

/// A token no authorization server issued.
pub(super) const GARBAGE_TOKEN: &str = "scopegate-audit-not-a-token";

/// One request to the endpoint.
#[derive(Default, Clone, Copy)]
pub(super) struct Request<'a> {
    /// Sent as `Authorization: Bearer …`.
    pub(super) token: Option<&'a str>,
    /// Sent as `?access_token=…`.
    pub(super) query_token: Option<&'a str>,
    /// Sent as `Origin`.
    pub(super) origin: Option<&'a str>,
}

/// What came back.
pub(super) struct Answer {
    pub(super) status: u16,
    /// The Bearer challenge of `WWW-Authenticate`, if any.
    pub(super) bearer: Option<Bearer>,
    /// Whether there was a `WWW-Authenticate` at all.
    pub(super) challenged: bool,
    pub(super) session: Option<String>,
    /// The JSON-RPC message of a 2xx answer (JSON, or the response in an event stream).
    pub(super) message: Option<Value>,
}

impl Answer {
    pub(super) fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `HTTP 401 (Bearer error="invalid_token")`, for the report.
    pub(super) fn describe(&self) -> String {
        let mut out = format!("HTTP {}", self.status);
        if let Some(error) = self.bearer.as_ref().and_then(|b| b.get("error")) {
            out.push_str(&format!(" ({error})"));
        } else if let Some(error) = self
            .message
            .as_ref()
            .and_then(|m| m.pointer("/error/message"))
            .and_then(Value::as_str)
        {
            out.push_str(&format!(" (JSON-RPC error: {error})"));
        }
        out
    }
}

/// The endpoint and the client that talks to it.
pub(super) struct Probe {
    client: reqwest::Client,
    endpoint: String,
}

impl Probe {
    pub(super) fn new(endpoint: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(Self {
            client,
            endpoint: endpoint.to_owned(),
        })
    }

    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs `initialize`, which changes nothing but a session; a session the server opens is
    /// ended at once.
    pub(super) async fn initialize(&self, request: Request<'_>) -> Result<Answer, String> {
        let answer = self.initialize_kept(request).await?;
        if let (Some(session), Some(token)) = (&answer.session, request.token) {
            self.end(token, session).await;
        }
        Ok(answer)
    }

    /// POSTs `initialize` and keeps the session the server opens, if any.
    pub(super) async fn initialize_kept(&self, request: Request<'_>) -> Result<Answer, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": Method::Initialize.as_str(), "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "scopegate-audit", "version": env!("CARGO_PKG_VERSION")},
        }});
        self.post(request, None, None, &body).await
    }

    /// POSTs one JSON-RPC message.
    pub(super) async fn post(
        &self,
        request: Request<'_>,
        session: Option<&str>,
        version: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        let url = match request.query_token {
            Some(token) => {
                let mut url = url::Url::parse(&self.endpoint).map_err(|e| e.to_string())?;
                url.query_pairs_mut().append_pair("access_token", token);
                url.to_string()
            }
            None => self.endpoint.clone(),
        };
        let mut builder = self
            .client
            .post(url)
            .header(header::ACCEPT, "application/json, text/event-stream")
            .json(body);
        if let Some(token) = request.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(origin) = request.origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        if let Some(session) = session {
            builder = builder.header("mcp-session-id", session);
        }
        if let Some(version) = version {
            builder = builder.header("mcp-protocol-version", version);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| format!("no answer: {}", e.without_url()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let stream = content_type(&headers).starts_with("text/event-stream");
        let text = response.text().await.unwrap_or_default();
        let message = if (200..300).contains(&status) {
            read_message(&text, stream)
        } else {
            None
        };
        Ok(Answer {
            status,
            bearer: challenge::bearer(
                headers
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            ),
            challenged: headers.contains_key(header::WWW_AUTHENTICATE),
            session: headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            message,
        })
    }

    /// Ends a session (best effort: the server would forget it at its idle timeout anyway).
    pub(super) async fn end(&self, token: &str, session: &str) {
        let _ = self
            .client
            .delete(&self.endpoint)
            .bearer_auth(token)
            .header("mcp-session-id", session)
            .send()
            .await;
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The JSON-RPC response in a body: JSON, or the first `data:` of an event stream that is a
/// response.
fn read_message(text: &str, stream: bool) -> Option<Value> {
    if !stream {
        return serde_json::from_str(text).ok();
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some() && message.get("method").is_none())
}

/// The protocol revision to send on a session's later requests.
pub(super) fn negotiated_version(initialize: &Answer) -> String {
    initialize
        .message
        .as_ref()
        .and_then(|m| m.pointer("/result/protocolVersion"))
        .and_then(Value::as_str)
        .unwrap_or(PROTOCOL_VERSION)
        .to_owned()
}
