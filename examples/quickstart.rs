//! The whole OAuth dance on one machine: the notes MCP server over Streamable HTTP, protected by
//! scopes, with the development authorization server mounted beside it.
//!
//! ```sh
//! cargo run --example quickstart                       # http://127.0.0.1:8080/mcp, consent page
//! cargo run --example quickstart -- --auto-approve     # no consent page (scripts, tests)
//! cargo run --example quickstart -- --addr 127.0.0.1:0 # any free port
//! cargo run --example quickstart -- --issuer https://your-tenant.example.com   # a real provider
//! cargo run --example quickstart -- --scope-table markdown   # the scopes to configure there
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

use notes::Notes;
use scopegate::dev_auth::{DevAuth, DevAuthConfig};
use scopegate::http::{DEFAULT_BIND, HttpConfig};
use scopegate::prelude::*;

struct Options {
    addr: SocketAddr,
    auto_approve: bool,
    issuer: Option<String>,
    scope_table: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        addr: DEFAULT_BIND,
        auto_approve: false,
        issuer: None,
        scope_table: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let addr = args
                    .next()
                    .ok_or("--addr needs an address, e.g. 127.0.0.1:8080")?;
                options.addr = addr.parse().map_err(|e| format!("--addr {addr}: {e}"))?;
            }
            "--auto-approve" => options.auto_approve = true,
            "--issuer" => options.issuer = Some(args.next().ok_or("--issuer needs a URL")?),
            "--scope-table" => {
                options.scope_table =
                    Some(args.next().ok_or("--scope-table needs json or markdown")?);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(format) = &options.scope_table {
        // What to configure in an authorization server: every scope and the tools it unlocks.
        let server = Notes::default().into_server()?;
        match format.as_str() {
            "json" => println!("{:#}", server.scope_table_json()),
            "markdown" => print!("{}", server.scope_table_markdown()),
            other => return Err(format!("--scope-table {other}: use json or markdown").into()),
        }
        return Ok(());
    }
    // Bind first: with port 0 the resource URI needs the port the system picked.
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let resource = format!("{base}/mcp");
    let server = Notes::default().into_server()?;
    // The first authorization asks for read access only; writing needs a step-up.
    let config = HttpConfig::new(&resource).initial_scopes(["notes:read"]);

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
    print_banner(&base, &resource, &issuer);
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

fn print_banner(base: &str, resource: &str, issuer: &str) {
    eprintln!(
        r#"
MCP endpoint: {resource}
metadata:     {base}/.well-known/oauth-protected-resource/mcp
issuer:       {issuer}

Connect a client (it discovers the issuer, registers, and asks you to approve):
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
    cli::main("quickstart", async { run(options()?).await }).await
}
