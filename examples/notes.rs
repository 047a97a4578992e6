//! A notes server with tools behind three scopes and a hierarchy, served over stdio or HTTP.
//!
//! ```sh
//! cargo run --example notes                                  # stdio, public tools only
//! SCOPEGATE_SCOPES="notes:read notes:write" cargo run --example notes
//! cargo run --example notes -- --http 127.0.0.1:8080 --issuer https://as.example.com
//! cargo run --example notes -- --http 127.0.0.1:8080 --no-auth   # HTTP, public tools only
//! # one replica of several behind a load balancer at https://mcp.example.com:
//! cargo run --example notes -- --http 127.0.0.1:8081 --issuer https://as.example.com \
//!     --resource https://mcp.example.com/mcp --stateless
//! # or with sessions, every replica given the same Redis:
//! cargo run --example notes -- --http 127.0.0.1:8081 --issuer https://as.example.com \
//!     --resource https://mcp.example.com/mcp --redis redis://127.0.0.1:6379
//! ```
//!
//! Options of `--http`:
//! - `--resource URL`: the public resource URI the server announces in its metadata and
//!   challenges, and that tokens' `aud` must name. Behind a load balancer it is the balancer's
//!   URL, not the replica's own address. Default: `http://{the bound address}/mcp`.
//! - `--stateless`: no sessions (`HttpConfig::stateless`), so any replica can answer any request
//!   of a legacy (2025-11-25) client; 2026-07-28 requests are stateless either way. The notes
//!   themselves stay in each replica's memory.
//! - `--redis URL`: legacy sessions and the rate-limit counts (per address and per principal) in
//!   Redis (`HttpConfig::session_store`, `HttpConfig::rate_limit_store`), shared by every replica
//!   given the same URL: a session created on one replica is served by all, one ended is gone
//!   from all, and a client's allowance is counted once. The server pings Redis at start-up and
//!   stops, saying so, if it does not answer. The notes still stay in each replica's memory.
//!
//! - `--trusted-proxy CIDR` (repeatable): the load balancers in front of the replica
//!   (`HttpConfig::trusted_proxies`); requests from them are rate-limited and audited by the
//!   address in their `X-Forwarded-For`.
//!
//! It prints `MCP endpoint: {resource}` once it listens, then the metadata URL and
//! `listening on: {address}`.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/notes.rs"]
mod notes;

use notes::Notes;
use scopegate::prelude::*;

const USAGE: &str = "usage: notes [--http ADDR (--issuer URL | --no-auth) [--resource URL] \
                     [--stateless] [--redis URL] [--trusted-proxy CIDR]...]";

/// Command-line options: stdio by default; `--http ADDR` with `--issuer URL` (or `--no-auth`),
/// optionally `--resource URL`, `--stateless` and `--redis URL`.
struct Options {
    http: Option<std::net::SocketAddr>,
    issuer: Option<String>,
    no_auth: bool,
    resource: Option<String>,
    stateless: bool,
    redis: Option<String>,
    trusted_proxies: Vec<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        http: None,
        issuer: None,
        no_auth: false,
        resource: None,
        stateless: false,
        redis: None,
        trusted_proxies: Vec::new(),
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
            "--resource" => {
                options.resource = Some(
                    args.next()
                        .ok_or("--resource needs a URL, e.g. https://mcp.example.com/mcp")?,
                );
            }
            "--stateless" => options.stateless = true,
            "--redis" => {
                options.redis = Some(
                    args.next()
                        .ok_or("--redis needs a URL, e.g. redis://127.0.0.1:6379")?,
                );
            }
            "--trusted-proxy" => options.trusted_proxies.push(
                args.next()
                    .ok_or("--trusted-proxy needs a CIDR range, e.g. 10.0.0.0/24")?,
            ),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if options.http.is_none()
        && (options.resource.is_some()
            || options.stateless
            || options.redis.is_some()
            || !options.trusted_proxies.is_empty())
    {
        return Err(format!(
            "--resource, --stateless, --redis and --trusted-proxy need --http\n{USAGE}"
        ));
    }
    Ok(options)
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let Some(addr) = options.http else {
        Notes::default().serve_stdio().await?;
        return Ok(());
    };
    // Bind first: with port 0 the default resource URI needs the port the system picked.
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let resource = options
        .resource
        .unwrap_or_else(|| format!("http://{addr}/mcp"));
    let mut config = scopegate::http::HttpConfig::new(&resource)
        .initial_scopes(["notes:read"])
        .stateless(options.stateless);
    if !options.trusted_proxies.is_empty() {
        let proxies = scopegate::http::TrustedProxies::new(&options.trusted_proxies)
            .map_err(|e| format!("--trusted-proxy: {e}"))?;
        config = config.trusted_proxies(proxies);
    }
    if let Some(url) = &options.redis {
        let redis =
            scopegate::http::RedisStore::open(url).map_err(|e| format!("--redis {url}: {e}"))?;
        // The store connects lazily: ask now, so an unreachable Redis stops the server here
        // rather than failing its first session.
        redis
            .ping()
            .await
            .map_err(|e| format!("--redis {url}: Redis does not answer ({e})"))?;
        config = config.session_store(redis.clone()).rate_limit_store(redis);
    }
    config = match (options.issuer, options.no_auth) {
        (Some(issuer), false) => config.jwt_issuer(issuer),
        (None, true) => config.without_authorization(),
        _ => {
            return Err(
                format!("with --http, give either --issuer URL or --no-auth\n{USAGE}").into(),
            );
        }
    };
    let router = Notes::default().into_server()?.http(config)?;
    eprintln!("MCP endpoint: {resource}");
    let canonical = scopegate::metadata::canonical_resource(&resource)?;
    eprintln!(
        "metadata:     {}",
        scopegate::metadata::metadata_url(&canonical)
    );
    eprintln!("listening on: {addr}");
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main("notes", async { serve(options()?).await }).await
}
