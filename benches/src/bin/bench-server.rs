//! The processes of `scripts/bench`, one per mode, each on 127.0.0.1:
//!
//! ```text
//! bench-server scopegate --addr A [--issuer URL] [--stateful] [--max-sessions N]
//!                         [--resource URL] [--redis URL]   (sessions + a rate limit in Redis)
//!                         [--via-router | --axum-serve]    (see `scopegate`)
//!                         [--suite]    (the `Suite` server: `echo`, `steps`, `rows`)
//!                         [--limits]   (rate limits on, quotas the load never reaches)
//! bench-server axum --addr A [--value]        the ceiling: a bare axum handler reading JSON-RPC
//!                                             into typed structs (`--value`: into a `Value`)
//! bench-server issuer                         a key server (discovery + JWKS, RSA 2048, RS256)
//! bench-server token --issuer URL --aud AUD [--scope S] [--count N] [--ttl SECS (3600)]
//! bench-server sessions --url URL --count N   opens N legacy sessions and leaves them idle
//! bench-server storm --url URL --issuer URL --count N [--over SECS] [--concurrency C]
//!                                             requests with tokens naming random unknown kids
//! ```
//!
//! Servers print `listening on ADDR` once bound and stop on SIGTERM or Ctrl-C. The issuer prints
//! `issuer URL` and `jwks URL`, then `jwks_fetches N` on SIGUSR1 and when it stops.

use std::net::SocketAddr;
use std::process::ExitCode;

use scopegate::http::{HttpConfig, Quota, RedisStore, ServeOptions, serve_with};
use scopegate::prelude::*;
use scopegate_bench::support::{KeyServer, TestKey, TokenBuilder, b64url, peek};
use scopegate_bench::{CALL, bare_router, typed_router};
use scopegate_bench::{Echo, OpenEcho, Suite};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `--name value` pairs and `--flag`s after the mode.
struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        let at = self.0.iter().position(|a| a == name)?;
        self.0.get(at + 1).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, Error> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required").into())
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn bind(args: &Args) -> Result<tokio::net::TcpListener, Error> {
    let addr: SocketAddr = args.required("--addr")?.parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    Ok(listener)
}

async fn scopegate(args: &Args) -> Result<(), Error> {
    let listener = bind(args).await?;
    // Behind a balancer the resource is the balancer's URL (`--resource`), not this address.
    let resource = match args.value("--resource") {
        Some(resource) => resource.to_owned(),
        None => format!("http://{}/mcp", listener.local_addr()?),
    };
    // Rate limits off: they exist to refuse a flood, and the load generator is one. With
    // `--redis`, sessions and a per-principal limit (too high to refuse anything here) go
    // through Redis, to measure what the shared state costs.
    let mut config = HttpConfig::new(&resource)
        .stateless(!args.flag("--stateful"))
        .rate_per_address(None)
        .rate_per_principal(None);
    // `--limits`: every limit of `HttpConfig` on (the in-flight cap and the timeouts are on by
    // default), the rate limits with quotas the load generator never reaches: what checking
    // them costs a request that passes.
    if args.flag("--limits") {
        let ample = Quota::new(10_000_000, 10_000_000.0);
        config = config
            .rate_per_address(Some(ample))
            .rate_per_principal(Some(ample));
    }
    if let Some(max) = args.value("--max-sessions") {
        let max: usize = max.parse()?;
        config = config.max_sessions(max, max);
    }
    if let Some(url) = args.value("--redis") {
        let redis = RedisStore::open(url)?;
        redis.ping().await?;
        config = config
            .session_store(redis.clone())
            .rate_limit_store(redis)
            .rate_per_principal(Some(Quota::new(1_000_000, 1_000_000.0)));
    }
    let config = match args.value("--issuer") {
        Some(issuer) => config.jwt_issuer(issuer),
        None => config.without_authorization(),
    };
    // As an application serves it: the MCP endpoint answered without axum's router.
    if !args.flag("--axum-serve") && !args.flag("--via-router") {
        let options = ServeOptions::default().shutdown_on(stopped());
        match args.value("--issuer") {
            Some(_) if args.flag("--suite") => {
                Suite.serve_http_with(listener, config, options).await?;
            }
            Some(_) => Echo.serve_http_with(listener, config, options).await?,
            None => OpenEcho.serve_http_with(listener, config, options).await?,
        }
        return Ok(());
    }
    let router = match args.value("--issuer") {
        Some(_) => Echo.into_server()?.http(config)?,
        None => OpenEcho.into_server()?.http(config)?,
    };
    // `--axum-serve`: the same router behind axum::serve (no connection limits), to tell the
    // serving loop's cost apart from the router's; `--via-router`: behind `serve_with`, every
    // request through axum's router.
    if args.flag("--axum-serve") {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped())
        .await?;
        return Ok(());
    }
    serve_with(
        listener,
        router,
        ServeOptions::default().shutdown_on(stopped()),
    )
    .await?;
    Ok(())
}

async fn axum_bare(args: &Args) -> Result<(), Error> {
    let listener = bind(args).await?;
    let router = if args.flag("--value") {
        bare_router()
    } else {
        typed_router()
    };
    // `--serve-with`: the same handler behind scopegate's own serving loop, to tell its cost
    // apart from the router's.
    if args.flag("--serve-with") {
        serve_with(
            listener,
            router,
            ServeOptions::default().shutdown_on(stopped()),
        )
        .await?;
        return Ok(());
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped())
        .await?;
    Ok(())
}

async fn issuer() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let server = KeyServer::start().await;
    println!("issuer {}", server.issuer());
    println!("jwks {}", server.jwks_uri());
    // SIGUSR1 asks how many times the key set has been fetched so far.
    let mut asked = signal(SignalKind::user_defined1())?;
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = asked.recv() => println!("jwks_fetches {}", server.jwks_fetches()),
            () = &mut stop => break,
        }
    }
    println!("jwks_fetches {}", server.jwks_fetches());
    Ok(())
}

/// Sends `--count` requests whose tokens name random, unknown `kid`s, spread evenly over
/// `--over` seconds, `--concurrency` at a time; prints how they were answered.
async fn storm(args: &Args) -> Result<(), Error> {
    let url = args.required("--url")?.to_owned();
    let issuer = args.required("--issuer")?;
    let count: usize = args.required("--count")?.parse()?;
    let over: f64 = args.value("--over").unwrap_or("10").parse()?;
    let concurrency: usize = args.value("--concurrency").unwrap_or("8").parse()?;
    // An attacker cannot sign: one signed token, its header's kid replaced each time (the kid
    // is refused before any signature check).
    let signed = TokenBuilder::new(&TestKey::rsa_a(), issuer, &url, "echo").build();
    let (header, _) = peek(&signed);
    let rest = signed
        .split_once('.')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    let tokens: Vec<String> = (0..count)
        .map(|i| {
            let mut header = header.clone();
            header["kid"] = json!(format!("storm-{i}-{}", std::process::id()));
            format!("{}.{rest}", b64url(header.to_string().as_bytes()))
        })
        .collect();
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let gap = std::time::Duration::from_secs_f64(over / count.max(1) as f64);
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        u16,
        usize,
    >::new()));
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        tokio::time::sleep_until((started + gap * i as u32).into()).await;
        let permit = std::sync::Arc::clone(&permits).acquire_owned().await?;
        let (http, url, statuses) = (http.clone(), url.clone(), std::sync::Arc::clone(&statuses));
        tasks.spawn(async move {
            let status = http
                .post(&url)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .bearer_auth(token)
                .body(CALL)
                .header("content-type", "application/json")
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            *statuses.lock().unwrap().entry(status).or_default() += 1;
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let statuses = statuses.lock().unwrap();
    println!(
        "storm {count} requests in {:.2} s: {statuses:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn token(args: &Args) -> Result<(), Error> {
    let issuer = args.required("--issuer")?;
    let audience = args.required("--aud")?;
    let scope = args.value("--scope").unwrap_or("echo");
    let count: usize = args.value("--count").unwrap_or("1").parse()?;
    // Long enough for the whole load comparison: a token past its `exp` is accepted only
    // through the verifier's leeway, and never remembered, so every request would be verified
    // in full.
    let ttl: u64 = args.value("--ttl").unwrap_or("3600").parse()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let key = TestKey::rsa_a();
    for _ in 0..count {
        println!(
            "{}",
            TokenBuilder::new(&key, issuer, audience, scope)
                .sub("bench")
                .client_id("bench")
                .exp(now + ttl)
                .build()
        );
    }
    Ok(())
}

/// Opens `--count` legacy sessions (initialize + initialized) and leaves them open.
async fn sessions(args: &Args) -> Result<(), Error> {
    let url = args.required("--url")?;
    let count: usize = args.required("--count")?.parse()?;
    let http = reqwest::Client::new();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "bench", "version": "0" },
        },
    });
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    for opened in 0..count {
        let response = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize)
            .send()
            .await?;
        let status = response.status();
        let Some(id) = response.headers().get("mcp-session-id").cloned() else {
            return Err(format!("session {opened}: {status}, no Mcp-Session-Id").into());
        };
        http.post(url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&initialized)
            .send()
            .await?
            .error_for_status()?;
    }
    println!("opened {count}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().unwrap_or_default();
    let args = Args(argv.collect());
    let result = match mode.as_str() {
        "scopegate" => scopegate(&args).await,
        "axum" => axum_bare(&args).await,
        "issuer" => issuer().await,
        "token" => token(&args),
        "sessions" => sessions(&args).await,
        "storm" => storm(&args).await,
        _ => Err("usage: bench-server scopegate|axum|issuer|token|sessions ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-server {mode}: {error}");
            ExitCode::FAILURE
        }
    }
}
