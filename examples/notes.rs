//! A notes server with tools behind three scopes and a hierarchy, served over stdio or HTTP.
//!
//! ```sh
//! cargo run --example notes                                  # stdio, public tools only
//! SCOPEGATE_SCOPES="notes:read notes:write" cargo run --example notes
//! cargo run --example notes -- --http 127.0.0.1:8080 --issuer https://as.example.com
//! cargo run --example notes -- --http 127.0.0.1:8080 --no-auth   # HTTP, public tools only
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/notes.rs"]
mod notes;

use notes::Notes;
use scopegate::prelude::*;

/// Command-line options: stdio by default; `--http ADDR` with `--issuer URL` (or `--no-auth`).
struct Options {
    http: Option<std::net::SocketAddr>,
    issuer: Option<String>,
    no_auth: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        http: None,
        issuer: None,
        no_auth: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http" => {
                let addr = args
                    .next()
                    .ok_or("--http needs an address, e.g. 127.0.0.1:8080")?;
                options.http = Some(addr.parse().map_err(|e| format!("--http {addr}: {e}"))?);
            }
            "--issuer" => options.issuer = Some(args.next().ok_or("--issuer needs a URL")?),
            "--no-auth" => options.no_auth = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let Some(addr) = options.http else {
        Notes::default().serve_stdio().await?;
        return Ok(());
    };
    // Bind first: with port 0 the resource URI needs the port the system picked.
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let resource = format!("http://{addr}/mcp");
    let mut config = scopegate::http::HttpConfig::new(&resource).initial_scopes(["notes:read"]);
    config = match (options.issuer, options.no_auth) {
        (Some(issuer), false) => config.jwt_issuer(issuer),
        (None, true) => config.without_authorization(),
        _ => return Err("with --http, give either --issuer URL or --no-auth".into()),
    };
    let router = Notes::default().into_server()?.http(config)?;
    eprintln!("MCP endpoint: {resource}");
    eprintln!("metadata:     http://{addr}/.well-known/oauth-protected-resource/mcp");
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main("notes", async { serve(options()?).await }).await
}
