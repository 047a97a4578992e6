//! Criterion micro-benchmarks of the hot path, each beside its baseline:
//!
//! - `auth`: one RS256 verify with jsonwebtoken alone (the baseline), scopegate's `JwtVerifier`
//!   on a token it has never seen (cold) and on one it has (warm);
//! - `dispatch`: `tools/call` and `tools/list` (100 tools) through the transport-free
//!   dispatcher; building a 100-tool server;
//! - `router`: a whole HTTP `tools/call` through the axum router, without a socket, with and
//!   without authentication, beside a bare axum JSON-RPC handler.
//!
//! `cargo bench --bench micro` from `benches/` (or `scripts/bench --micro`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Validation;
use scopegate::auth::{JwtConfig, JwtVerifier, TokenVerifier};
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use scopegate_bench::hundred::Hundred;
use scopegate_bench::in_process::{ISSUER, RESOURCE, call, config};
use scopegate_bench::support::{TestKey, TokenBuilder, jwk_set};
use scopegate_bench::{CALL, Echo, EchoRules, OpenEcho, bare_router, call_of};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn mint(key: &TestKey) -> String {
    TokenBuilder::new(key, ISSUER, RESOURCE, "echo")
        .sub("bench")
        .client_id("bench")
        .build()
}

fn verifier(key: &TestKey) -> JwtVerifier {
    JwtVerifier::with_jwks(
        JwtConfig::new(ISSUER, RESOURCE),
        &jwk_set(std::slice::from_ref(key)),
    )
    .expect("the JWK set loads")
}

fn auth(c: &mut Criterion) {
    let rt = runtime();
    let key = TestKey::rsa_a();
    let mut group = c.benchmark_group("auth");

    // The baseline: jsonwebtoken's own RS256 verify with the same checks (iss, aud, exp), the
    // key made from the JWK as anyone verifying against a JWKS makes it.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(key.jwk()).expect("the test key's JWK parses");
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("a decoding key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[RESOURCE]);
    let token = mint(&key);
    group.bench_function("jsonwebtoken_rs256", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Value>(black_box(&token), &decoding, &validation)
                .expect("the token verifies")
        });
    });

    // Cold: every token new to the verifier, whose cache has room (a fresh verifier for each
    // pass over the pool, made outside the timed part).
    let pool: Vec<String> = (0..2_000).map(|_| mint(&key)).collect();
    group.bench_function("scopegate_cold", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (pool, key) = (&pool, &key);
            async move {
                let mut total = std::time::Duration::ZERO;
                let mut fresh = verifier(key);
                for i in 0..iters as usize {
                    if i > 0 && i % pool.len() == 0 {
                        fresh = verifier(key);
                    }
                    let token = &pool[i % pool.len()];
                    let started = std::time::Instant::now();
                    black_box(fresh.verify(token).await.expect("the token verifies"));
                    total += started.elapsed();
                }
                total
            }
        });
    });
    // Cold again, with a full cache: a pool twice the capacity, so the cache is emptied every
    // 1 000 tokens (the worst case: more distinct live tokens than the capacity).
    let mut config = JwtConfig::new(ISSUER, RESOURCE);
    config.cache_capacity = 1_000;
    let full = JwtVerifier::with_jwks(config, &jwk_set(std::slice::from_ref(&key)))
        .expect("the JWK set loads");
    let mut turn = 0;
    group.bench_function("scopegate_cold_full_cache", |b| {
        b.to_async(&rt).iter(|| {
            turn = (turn + 1) % pool.len();
            let (full, token) = (&full, &pool[turn]);
            async move { full.verify(token).await.expect("the token verifies") }
        });
    });
    // The same with no cache at all: what the cache's bookkeeping adds to a cold token.
    let mut config = JwtConfig::new(ISSUER, RESOURCE);
    config.cache_capacity = 0;
    let uncached = JwtVerifier::with_jwks(config, &jwk_set(std::slice::from_ref(&key)))
        .expect("the JWK set loads");
    group.bench_function("scopegate_uncached", |b| {
        b.to_async(&rt).iter(|| async {
            uncached
                .verify(black_box(&token))
                .await
                .expect("the token verifies")
        });
    });

    let warm = verifier(&key);
    rt.block_on(warm.verify(&token))
        .expect("the token verifies");
    group.bench_function("scopegate_warm", |b| {
        b.to_async(&rt)
            .iter(|| async { warm.verify(black_box(&token)).await.expect("cached") });
    });
    group.finish();
}

fn principal() -> Principal {
    Principal::builder()
        .subject("bench")
        .scopes(ScopeSet::from_space_separated("echo"))
        .build()
}

fn expect_result(reply: Reply) -> Reply {
    match &reply {
        Reply::Response(response) if !response.to_json().contains("\"error\"") => reply,
        other => panic!("unexpected reply: {other:?}"),
    }
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let caller = principal();
    let mut group = c.benchmark_group("dispatch");

    let echo = Server::new(Echo).expect("the server builds");
    group.bench_function("tools_call", |b| {
        b.to_async(&rt)
            .iter(|| async { expect_result(echo.handle_bytes(CALL.as_bytes(), &caller).await) });
    });

    // The same call of a tool with each scope rule (all satisfied), on a server that has them.
    let rules = Server::new(EchoRules).expect("the server builds");
    for tool in ["echo", "any_of", "when", "may_require", "quota"] {
        let call = call_of(tool);
        group.bench_function(format!("tools_call_rule_{tool}"), |b| {
            b.to_async(&rt).iter(|| async {
                expect_result(rules.handle_bytes(call.as_bytes(), &caller).await)
            });
        });
    }

    let hundred = Server::new(Hundred).expect("the server builds");
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    group.bench_function("tools_list_100", |b| {
        b.to_async(&rt)
            .iter(|| async { expect_result(hundred.handle_bytes(list, &caller).await) });
    });

    group.bench_function("server_new_100", |b| {
        b.iter(|| Server::new(black_box(Hundred)).expect("the server builds"));
    });
    group.finish();
}

fn router(c: &mut Criterion) {
    let rt = runtime();
    let key = TestKey::rsa_a();
    let token = mint(&key);
    let authed = Server::new(Echo)
        .expect("the server builds")
        .http(
            config()
                .verifier(verifier(&key))
                .authorization_server(ISSUER),
        )
        .expect("the router builds");
    let open = Server::new(OpenEcho)
        .expect("the server builds")
        .http(config().without_authorization())
        .expect("the router builds");
    let bare = bare_router();

    let mut group = c.benchmark_group("router");
    group.bench_function("bare_axum", |b| {
        b.to_async(&rt).iter(|| call(&bare, None));
    });
    group.bench_function("scopegate_no_auth", |b| {
        b.to_async(&rt).iter(|| call(&open, None));
    });
    group.bench_function("scopegate_auth_warm", |b| {
        b.to_async(&rt).iter(|| call(&authed, Some(&token)));
    });
    group.finish();
}

criterion_group!(benches, auth, dispatch, router);
criterion_main!(benches);
