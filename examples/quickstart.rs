//! The whole OAuth dance on one machine: the notes MCP server over Streamable HTTP, protected by
//! scopes, with the development authorization server mounted beside it.
//!
//! ```sh
//! cargo run --example quickstart                       # http://127.0.0.1:8080/mcp, consent page
//! cargo run --example quickstart -- --auto-approve     # no consent page (scripts, tests)
//! cargo run --example quickstart -- --addr 127.0.0.1:0 # any free port
//! cargo run --example quickstart -- --issuer https://your-tenant.example.com   # a real provider
//! cargo run --example quickstart -- --export keycloak   # the scopes to configure there
//!     # FORMAT: keycloak, auth0, entra, okta, json or markdown; --resource URL for your own
//! cargo run --example quickstart -- --doctor http://127.0.0.1:8080/mcp [--token T] [--strict]
//!     # checks a running server's metadata, issuer and keys, and explains a token against it
//! cargo run --example quickstart -- --audit http://127.0.0.1:8080/mcp [--token T] [--tool NAME] [--strict]
//!     # checks any MCP server's authorization from outside: metadata, 401, refusals, forgeries
//! cargo run --example quickstart -- --help
//! # then open http://127.0.0.1:8080/dev-auth/console: scopes, mint a token, call a tool
//! ```
//!
//! Clients may skip registration with a Client ID Metadata Document: a `client_id` that is the
//! `https` URL of their metadata. `SCOPEGATE_DEV_AUTH_EXTRA_CA=ca.pem` makes the development
//! server trust that CA too when it fetches such documents (a test serving one on loopback).

#[path = "common/cli.rs"]
mod cli;
#[path = "common/notes.rs"]
mod notes;

use std::net::SocketAddr;

use clap::Parser;
use notes::Notes;
use scopegate::auth::DpopConfig;
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::export::Format;
use scopegate::http::{DEFAULT_BIND, HttpConfig};
use scopegate::prelude::*;

/// The notes MCP server over Streamable HTTP with the development authorization server beside
/// it, or, with `--export`, the configuration of a real one.
#[derive(Parser)]
#[command(name = "quickstart", version)]
#[command(group(clap::ArgGroup::new("check").args(["doctor", "audit"])))]
struct Options {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_BIND)]
    addr: SocketAddr,
    /// Approve every authorization without the consent page (scripts, tests).
    #[arg(long)]
    auto_approve: bool,
    /// A real authorization server's issuer instead of the development one.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The resource URI tokens must name in `aud` (default: http://ADDR/mcp).
    #[arg(long, value_name = "URL")]
    resource: Option<String>,
    #[command(flatten)]
    action: Action,
    #[command(flatten)]
    check: CheckArgs,
}

/// What to do instead of serving: at most one.
#[derive(clap::Args)]
#[group(multiple = false)]
struct Action {
    /// Print the server's scopes as FORMAT's configuration (keycloak, auth0, entra, okta, json,
    /// markdown) on stdout, notes on stderr, and exit.
    #[arg(long, value_name = "FORMAT")]
    export: Option<Format>,
    /// The former name of `--export json|markdown`.
    #[arg(long, value_name = "FORMAT", hide = true)]
    scope_table: Option<Format>,
    /// Check the running MCP server at URL (its metadata, issuer and keys; with `--token`, the
    /// token against it), print one line per check, and exit 1 on a failure.
    #[arg(long, value_name = "URL")]
    doctor: Option<String>,
    /// Audit the authorization of any running MCP server at URL from outside (its metadata, the
    /// 401, refusals; with `--token`, forgeries of the token; with `--tool`, the 403), print one
    /// line per check, and exit 1 on a failure.
    #[arg(long, value_name = "URL")]
    audit: Option<String>,
}

/// Options of `--doctor` and `--audit`.
#[derive(clap::Args)]
struct CheckArgs {
    /// With `--doctor`: an access token to explain against the server. With `--audit`: a
    /// genuine token, checked accepted, and forgeries of it checked refused.
    #[arg(long, value_name = "TOKEN", requires = "check")]
    token: Option<String>,
    /// With `--audit` and `--token`: a tool the token lacks the scope for, expecting 403
    /// `insufficient_scope`. Called only if the server marks it read-only.
    #[arg(long, value_name = "NAME", requires_all = ["audit", "token"])]
    tool: Option<String>,
    /// With `--audit --tool`: call the tool even though it is not marked read-only (it may
    /// change data).
    #[arg(long, requires = "tool")]
    allow_writes: bool,
    /// With `--doctor` or `--audit`: warnings fail too.
    #[arg(long, requires = "check")]
    strict: bool,
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(url) = options.action.audit {
        let check = options.check;
        let mut audit = scopegate::audit::AuditOptions::new(url)
            .strict(check.strict)
            .allow_writes(check.allow_writes);
        audit.token = check.token;
        audit.tool = check.tool;
        let report = scopegate::audit::run(audit).await;
        print!("{report}");
        std::process::exit(i32::from(report.exit_code()));
    }
    if let Some(url) = options.action.doctor {
        let mut doctor = scopegate::doctor::DoctorOptions::new(url).strict(options.check.strict);
        if let Some(token) = options.check.token {
            doctor = doctor.token(token);
        }
        let report = scopegate::doctor::run(doctor).await;
        print!("{report}");
        std::process::exit(i32::from(report.exit_code()));
    }
    if let Some(format) = options.action.export.or(options.action.scope_table) {
        // What to configure in an authorization server: every scope and the tools it unlocks.
        let resource = options
            .resource
            .unwrap_or_else(|| format!("http://{}/mcp", options.addr));
        let export = Notes::default().into_server()?.export(format, &resource);
        print!("{export}");
        for note in export.notes() {
            eprintln!("note: {note}");
        }
        return Ok(());
    }
    // Bind first: with port 0 the resource URI needs the port the system picked.
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let resource = options.resource.unwrap_or_else(|| format!("{base}/mcp"));
    let server = Notes::default().into_server()?;
    // The first authorization asks for read access only; writing needs a step-up. Clients that
    // can may bind their tokens to a key (DPoP): a stolen token is then of no use.
    let config = HttpConfig::new(&resource)
        .initial_scopes(["notes:read"])
        .dpop(DpopConfig::new());

    let dev_auth = options.issuer.is_none();
    let (router, issuer) = match options.issuer {
        Some(issuer) => (server.http(config.jwt_issuer(&issuer))?, issuer),
        None => {
            let mut dev_config = DevAuthConfig::default().auto_approve(options.auto_approve);
            if let Some(path) = std::env::var_os("SCOPEGATE_DEV_AUTH_EXTRA_CA") {
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "SCOPEGATE_DEV_AUTH_EXTRA_CA={}: {e}",
                        path.to_string_lossy()
                    )
                })?;
                dev_config = dev_config.metadata_document_ca(pem);
            }
            let dev = DevAuth::new(&server, &resource, dev_config)?;
            let issuer = dev.issuer().to_owned();
            let router = server.http(config.jwt_issuer(&issuer))?.merge(dev.router());
            (router, issuer)
        }
    };
    print_banner(&base, &resource, &issuer, dev_auth);
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

fn print_banner(base: &str, resource: &str, issuer: &str, dev_auth: bool) {
    let console = if dev_auth {
        format!(
            "Open the development console (scopes, mint a token, call a tool) in your browser:\n  {issuer}/console\n\n"
        )
    } else {
        String::new()
    };
    eprintln!(
        r#"
MCP endpoint: {resource}
metadata:     {base}/.well-known/oauth-protected-resource/mcp
issuer:       {issuer}

{console}Connect a client (it discovers the issuer, registers, and asks you to approve):
  npx @modelcontextprotocol/inspector          # then: Streamable HTTP, URL {resource}
  client config: {{"mcpServers": {{"notes": {{"type": "http", "url": "{resource}"}}}}}}

Get a token with curl (the script answers the consent page for you):
  scripts/dev-token {base} "notes:read notes:write"

Try it:
  curl -si {resource} -X POST -H 'content-type: application/json' -d '{{"jsonrpc":"2.0","id":1,"method":"ping"}}'
"#
    );
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = cli::parse::<Options>("quickstart");
    cli::main("quickstart", run(options)).await
}
