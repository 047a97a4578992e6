//! Benchmark peer: rmcp (the official Rust MCP SDK) serving one `echo` tool over stateless
//! Streamable HTTP at `/mcp`, with plain JSON responses.
//!
//! ```text
//! rmcp-echo --addr 127.0.0.1:PORT [--jwks-url URL --issuer ISS --audience AUD]
//! ```
//!
//! With the three auth flags, every request must carry an RS256 access token signed by a key of
//! that JWKS and granting the `echo` scope (see `auth.rs`). Without them there is no auth.

mod auth;

use std::{io::Write as _, net::SocketAddr, process::ExitCode, sync::Arc};

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

#[derive(Debug, Clone)]
struct Echo {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Returns its text argument unchanged")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

// The router is built once (in `Echo::new`) and cloned per request with the service; the bare
// `#[tool_handler]` would call `Self::tool_router()` and rebuild it on every tools/call.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

struct Args {
    addr: SocketAddr,
    auth: Option<auth::Config>,
}

const USAGE: &str =
    "usage: rmcp-echo --addr 127.0.0.1:PORT [--jwks-url URL --issuer ISS --audience AUD]";

fn parse_args() -> Result<Args, String> {
    let (mut addr, mut jwks_url, mut issuer, mut audience) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--addr" => &mut addr,
            "--jwks-url" => &mut jwks_url,
            "--issuer" => &mut issuer,
            "--audience" => &mut audience,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
        let value = args
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"))?;
        if slot.replace(value).is_some() {
            return Err(format!("`{flag}` given twice"));
        }
    }
    let addr = addr
        .ok_or_else(|| format!("`--addr` is required\n{USAGE}"))?
        .parse()
        .map_err(|e| format!("`--addr`: {e}"))?;
    let auth = match (jwks_url, issuer, audience) {
        (None, None, None) => None,
        (Some(jwks_url), Some(issuer), Some(audience)) => Some(auth::Config {
            jwks_url,
            issuer,
            audience,
        }),
        _ => return Err("`--jwks-url`, `--issuer` and `--audience` go together".to_owned()),
    };
    Ok(Args { addr, auth })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rmcp-echo: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let shutdown = CancellationToken::new();

    // Stateless (no Mcp-Session-Id, no initialize needed) with `application/json` answers.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(shutdown.child_token());
    let echo = Echo::new();
    let mcp = StreamableHttpService::new(
        move || Ok(echo.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let mut app = axum::Router::new().nest_service("/mcp", mcp);

    if let Some(config) = args.auth {
        // The keys are fetched and turned into decoding keys once, before serving.
        let verifier = auth::Verifier::fetch(&config).await?;
        app = app.layer(axum::middleware::from_fn_with_state(
            Arc::new(verifier),
            auth::require_echo_scope,
        ));
    }

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {bound}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }

    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            wait_for_signal().await;
            shutdown.cancel();
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| format!("serve: {e}"))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
