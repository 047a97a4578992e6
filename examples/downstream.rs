//! A tool that calls a downstream API on the caller's behalf, with a token exchanged for the
//! caller's (RFC 8693 token exchange), never the caller's own: the whole flow on one machine.
//!
//! ```sh
//! cargo run --example downstream                        # http://127.0.0.1:8080/mcp
//! cargo run --example downstream -- --auto-approve      # no consent page (scripts, tests)
//! cargo run --example downstream -- --addr 127.0.0.1:0  # any free port
//! ```
//!
//! Three servers, all on loopback:
//! - the MCP server, whose tool `next_meeting` declares
//!   `downstream = "https://calendar.example"`: the API it calls, named by its resource URI;
//! - the development authorization server beside it, which issues tokens for the MCP server,
//!   and, to the MCP server's own client, exchanges them for tokens for the declared API (its
//!   policy: a token it issued for this MCP server, an API the server declared, no more scopes);
//! - the calendar API, a small axum app, which accepts only tokens whose `aud` is
//!   `https://calendar.example`: the caller's token, issued for the MCP server, is refused there.
//!
//! The tool asks its `Downstream` parameter for a token; the server exchanges the caller's token
//! at the authorization server (cached until shortly before it expires) and hands the tool a
//! token it can only put in an `Authorization` header.

#[path = "common/cli.rs"]
mod cli;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use scopegate::auth::{JwtConfig, JwtVerifier, TokenVerifier};
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::http::{DEFAULT_BIND, HttpConfig};
use scopegate::prelude::*;
use scopegate::{Downstream, ServerOptions};
use serde_json::json;

/// The calendar API's resource URI: what the exchanged token's `aud` names.
const CALENDAR: &str = "https://calendar.example";

/// Where the calendar API actually listens (a loopback port picked at start).
#[derive(Clone)]
struct CalendarApi(String);

/// The caller's next meeting, from the calendar API.
#[mcp_tool(
    scope = "calendar:read",
    read_only,
    downstream = "https://calendar.example"
)]
async fn next_meeting(api: State<CalendarApi>, apis: Downstream) -> Result<String, ToolError> {
    let token = apis.token(CALENDAR).await?;
    let answer = reqwest::Client::new()
        .get(format!("{}/next", api.0.0))
        .header(reqwest::header::AUTHORIZATION, token.authorization())
        .send()
        .await?;
    if !answer.status().is_success() {
        return Err(ToolError::new(format!(
            "the calendar API answered {}",
            answer.status()
        )));
    }
    Ok(answer.text().await?)
}

/// The calendar MCP server.
#[derive(McpServer, Clone)]
#[mcp(name = "calendar", tools(next_meeting))]
struct Calendar {
    #[mcp(state)]
    api: CalendarApi,
}

/// `GET /next` of the calendar API: the next meeting of the token's subject, and what the token
/// said, once the token is checked for this API (signature, issuer, `aud`, expiry).
async fn next(AxumState(verifier): AxumState<Arc<JwtVerifier>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match verifier.verify(token).await {
        Ok(who) => axum::Json(json!({
            "meeting": "Design review, tomorrow 10:00",
            "subject": who.subject(),
            "audience": CALENDAR,
            "client_id": who.client_id(),
            "scope": who.scopes().to_string(),
        }))
        .into_response(),
        Err(error) => (StatusCode::UNAUTHORIZED, error.to_string()).into_response(),
    }
}

/// A tool calling a downstream API with an exchanged token, beside the development
/// authorization server and the downstream API itself.
#[derive(Parser)]
#[command(name = "downstream", version)]
struct Options {
    /// Address of the MCP server (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_BIND)]
    addr: SocketAddr,
    /// Approve every authorization without the consent page (scripts, tests).
    #[arg(long)]
    auto_approve: bool,
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let resource = format!("{base}/mcp");
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_base = format!("http://{}", api_listener.local_addr()?);

    // The exchange client comes from the development server's configuration, so it is known
    // before the server is built; the development server is built from the same one.
    let dev_config = DevAuthConfig::default().auto_approve(options.auto_approve);
    let exchange = dev_config.token_exchange(&resource)?;
    let server = Server::with_options(
        Calendar {
            api: CalendarApi(api_base.clone()),
        },
        ServerOptions::default().token_exchange(exchange),
    )?;
    let dev = DevAuth::new(&server, &resource, dev_config)?;
    let issuer = dev.issuer().to_owned();
    let router = server
        // Stateless: a `tools/call` needs no session, so one curl line can make it.
        .http(
            HttpConfig::new(&resource)
                .jwt_issuer(&issuer)
                .stateless(true),
        )?
        .merge(dev.router());

    // The downstream API trusts the same issuer, for its own audience only.
    let verifier = Arc::new(JwtVerifier::new(JwtConfig::new(&issuer, CALENDAR)));
    let api = axum::Router::new()
        .route("/next", axum::routing::get(next))
        .with_state(verifier);
    tokio::spawn(async move { axum::serve(api_listener, api).await });

    eprintln!(
        r#"
MCP endpoint: {resource}
issuer:       {issuer}
calendar API: {api_base} (accepts tokens for {CALENDAR} only)

Get a token for the MCP server and call the tool:
  TOKEN=$(scripts/dev-token {base} "calendar:read")
  curl -s {resource} -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25' \
    -d '{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"next_meeting","arguments":{{}}}}}}'
The same token sent to {api_base}/next is refused: it is for the MCP server, not the API.
"#
    );
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = cli::parse::<Options>("downstream");
    cli::main("downstream", run(options)).await
}
