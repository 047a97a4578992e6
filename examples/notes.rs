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
//! `cargo run --example notes -- --help` lists the options.
//!
//! It prints `MCP endpoint: {resource}` once it listens, then the metadata URL and
//! `listening on: {address}`.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/notes.rs"]
mod notes;

use clap::Parser;
use notes::Notes;
use scopegate::prelude::*;

/// The notes MCP server: stdio by default (scopes from `SCOPEGATE_SCOPES`), or Streamable HTTP
/// with `--http ADDR` and either `--issuer URL` or `--no-auth`.
#[derive(Parser)]
#[command(name = "notes", version)]
struct Options {
    /// Serve Streamable HTTP on this address instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// The authorization server whose JWT access tokens are accepted.
    #[arg(
        long,
        value_name = "URL",
        requires = "http",
        conflicts_with = "no_auth"
    )]
    issuer: Option<String>,
    /// No authorization: public tools only.
    #[arg(long, requires = "http")]
    no_auth: bool,
    /// The public resource URI (a load balancer's URL behind one). Default: http://ADDR/mcp.
    #[arg(long, value_name = "URL", requires = "http")]
    resource: Option<String>,
    /// No sessions: any replica answers any request.
    #[arg(long, requires = "http")]
    stateless: bool,
    /// Sessions and rate-limit counts in this Redis, shared by every replica given it.
    #[arg(long, value_name = "URL", requires = "http")]
    redis: Option<String>,
    /// A load balancer in front of this replica (repeatable).
    #[arg(long = "trusted-proxy", value_name = "CIDR", requires = "http")]
    trusted_proxies: Vec<String>,
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
        (Some(issuer), _) => config.jwt_issuer(issuer),
        (None, true) => config.without_authorization(),
        (None, false) => return Err("with --http, give either --issuer URL or --no-auth".into()),
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
    let options = cli::parse::<Options>("notes");
    cli::main("notes", serve(options)).await
}
