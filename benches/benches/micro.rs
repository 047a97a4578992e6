//! Criterion micro-benchmarks of the hot path, each beside its baseline:
//!
//! - `auth`: one RS256 verify with jsonwebtoken alone (the baseline), scopegate's `JwtVerifier`
//!   on a token it has never seen (cold) and on one it has (warm);
//! - `dispatch`: `tools/call` and `tools/list` (100 tools) through the transport-free
//!   dispatcher; building a 100-tool server;
//! - `router`: a whole HTTP `tools/call` through the axum router, without a socket, with and
//!   without authentication, beside a bare axum JSON-RPC handler;
//! - `dpop`: a DPoP proof's checks per algorithm beside one raw signature verification, and a
//!   whole DPoP `tools/call` beside the same call with a warm bearer token;
//! - `tokens`: per algorithm (RS256, ES256, EdDSA), a whole `tools/call` with a token seen for
//!   the first time beside one raw verification and the warm path, and 8 000 distinct
//!   remembered tokens in turn beside one repeated.
//!
//! `cargo bench --bench micro` from `benches/` (or `scripts/bench --micro`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Validation;
use scopegate::auth::{
    DpopConfig, JwtConfig, JwtVerifier, ProofKeys, ProofTarget, TokenVerifier, verify_proof,
    verify_proof_cached,
};
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use scopegate_bench::hundred::Hundred;
use scopegate_bench::in_process::{ISSUER, RESOURCE, call, config, dpop_request, send};
use scopegate_bench::support::{TestKey, TokenBuilder, dpop_jwk, dpop_proof, jkt, jwk_set};
use scopegate_bench::{CALL, Echo, EchoRules, OpenEcho, bare_router, call_of, typed_router};
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
    let typed = typed_router();

    let mut group = c.benchmark_group("router");
    group.bench_function("typed_axum", |b| {
        b.to_async(&rt).iter(|| call(&typed, None));
    });
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

/// DPoP: what a proof costs beside one raw signature verification in its algorithm, and a whole
/// DPoP `tools/call` beside the same call with a warm bearer token.
fn dpop(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("dpop");
    // A window wide enough for the whole run: the proofs below are made once.
    let config = DpopConfig::new().window(std::time::Duration::from_secs(3600));
    let token = mint(&TestKey::rsa_a());
    let keys = [
        ("es256", TestKey::ec_p256()),
        ("eddsa", TestKey::ed25519()),
        ("rs256", TestKey::rsa_a()),
        (
            "ps256",
            TestKey::rsa_a().with_alg(jsonwebtoken::Algorithm::PS256),
        ),
    ];
    for (name, key) in &keys {
        // A thousand distinct proofs, cycled: a signature's verification time depends a little
        // on its value, and a fresh proof comes with every request.
        let proofs: Vec<String> = (0..1_000)
            .map(|_| dpop_proof(key, "POST", RESOURCE, Some(&token)).build())
            .collect();
        // The baseline: each proof's signature verified by jsonwebtoken with the key made from
        // the header's JWK, as any verifier of a proof must make it, on every proof.
        let signed: Vec<(&str, &str)> = proofs
            .iter()
            .map(|proof| proof.rsplit_once('.').expect("a compact JWS"))
            .collect();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(dpop_jwk(key)).expect("the JWK parses");
        let mut turn = 0;
        group.bench_function(format!("raw_verify_{name}"), |b| {
            b.iter(|| {
                turn = (turn + 1) % signed.len();
                let (message, signature) = signed[turn];
                let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("a key");
                assert!(
                    jsonwebtoken::crypto::verify(
                        black_box(signature),
                        message.as_bytes(),
                        &decoding,
                        key.alg()
                    )
                    .expect("verifies")
                );
            });
        });
        let target = ProofTarget {
            method: "POST",
            uri: RESOURCE,
            access_token: Some(&token),
            now: scopegate_bench::support::now(),
        };
        group.bench_function(format!("proof_{name}"), |b| {
            b.iter(|| {
                turn = (turn + 1) % proofs.len();
                verify_proof(black_box(&proofs[turn]), &config, &target)
                    .expect("the proof verifies")
            });
        });
        // As the HTTP transport checks them: the client's key, from its header, kept.
        let keys = ProofKeys::default();
        group.bench_function(format!("proof_cached_{name}"), |b| {
            b.iter(|| {
                turn = (turn + 1) % proofs.len();
                verify_proof_cached(black_box(&proofs[turn]), &config, &target, &keys)
                    .expect("the proof verifies")
            });
        });
    }

    // A whole stateless `tools/call` through the router: a warm bearer token, then the same
    // token bound to the client's key in the DPoP scheme with a fresh proof per request (made
    // before the timed part; a new router, so a new replay store, every 50 000 requests).
    let issuer_key = TestKey::rsa_a();
    let bearer_router = Server::new(Echo)
        .expect("the server builds")
        .http(config_with(&issuer_key))
        .expect("the router builds");
    let bearer = mint(&issuer_key);
    group.bench_function("router_bearer_warm", |b| {
        b.to_async(&rt).iter(|| call(&bearer_router, Some(&bearer)));
    });
    // One proof sent again and again to a server whose replay store forgets (never in
    // production): the DPoP path without the store and without a new signature each time.
    {
        let key = &keys[0].1;
        let bound = TokenBuilder::new(&issuer_key, ISSUER, RESOURCE, "echo")
            .sub("bench")
            .client_id("bench")
            .claim("cnf", serde_json::json!({ "jkt": jkt(key) }))
            .build();
        let proof = dpop_proof(key, "POST", RESOURCE, Some(&bound)).build();
        let forgetful = Server::with_options(
            Echo,
            scopegate::server::ServerOptions::default().replay_store(Forgetful),
        )
        .expect("the server builds")
        .http(config_with(&issuer_key).dpop(DpopConfig::new()))
        .expect("the router builds");
        group.bench_function("router_dpop_es256_one_proof_no_store", |b| {
            b.to_async(&rt)
                .iter(|| send(&forgetful, dpop_request(&bound, &proof)));
        });
    }
    for (name, key) in keys.iter().take(3) {
        let bound = TokenBuilder::new(&issuer_key, ISSUER, RESOURCE, "echo")
            .sub("bench")
            .client_id("bench")
            .claim("cnf", serde_json::json!({ "jkt": jkt(key) }))
            .build();
        group.bench_function(format!("router_dpop_{name}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (bound, key, issuer_key) = (&bound, key, &issuer_key);
                async move {
                    let mut total = std::time::Duration::ZERO;
                    let mut left = iters as usize;
                    while left > 0 {
                        let batch = left.min(50_000);
                        left -= batch;
                        let router = Server::new(Echo)
                            .expect("the server builds")
                            .http(config_with(issuer_key).dpop(DpopConfig::new()))
                            .expect("the router builds");
                        // Each request made just before it is sent (untimed), so its bytes are
                        // in the cache as a request just read off a socket would be.
                        for _ in 0..batch {
                            let proof = dpop_proof(key, "POST", RESOURCE, Some(bound)).build();
                            let request = dpop_request(bound, &proof);
                            let started = std::time::Instant::now();
                            send(&router, request).await;
                            total += started.elapsed();
                        }
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

/// What a token costs a whole `tools/call` through the router, per signing algorithm: a token
/// seen for the first time beside one raw verification (jsonwebtoken, the same checks) and the
/// warm path, and many distinct remembered tokens in turn beside one repeated.
fn tokens(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("tokens");
    let keys = [
        ("rs256", TestKey::rsa_a()),
        ("es256", TestKey::ec_p256()),
        ("eddsa", TestKey::ed25519()),
    ];
    // Valid for the whole run (the default five minutes would not be).
    let mint = |key: &TestKey| {
        TokenBuilder::new(key, ISSUER, RESOURCE, "echo")
            .sub("bench")
            .client_id("bench")
            .exp(scopegate_bench::support::now() + 3_600)
            .build()
    };
    for (name, key) in &keys {
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.jwk()).expect("the test key's JWK parses");
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("a decoding key");
        let mut validation = Validation::new(key.alg());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[RESOURCE]);
        let pool: Vec<String> = (0..2_000).map(|_| mint(key)).collect();
        let mut turn = 0;
        group.bench_function(format!("raw_verify_{name}"), |b| {
            b.iter(|| {
                turn = (turn + 1) % pool.len();
                jsonwebtoken::decode::<Value>(black_box(&pool[turn]), &decoding, &validation)
                    .expect("the token verifies")
            });
        });
        let router = || {
            Server::new(Echo)
                .expect("the server builds")
                .http(config_with(key))
                .expect("the router builds")
        };
        let warm = router();
        rt.block_on(call(&warm, Some(&pool[0])));
        group.bench_function(format!("router_warm_{name}"), |b| {
            b.to_async(&rt).iter(|| call(&warm, Some(&pool[0])));
        });
        // Every request a token the router has not seen: a new router for each pass over the
        // pool, made outside the timed part.
        group.bench_function(format!("router_first_seen_{name}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let pool = &pool;
                async move {
                    let mut total = std::time::Duration::ZERO;
                    let mut fresh = router();
                    for i in 0..iters as usize {
                        if i > 0 && i % pool.len() == 0 {
                            fresh = router();
                        }
                        let token = &pool[i % pool.len()];
                        let started = std::time::Instant::now();
                        call(&fresh, Some(token)).await;
                        total += started.elapsed();
                    }
                    total
                }
            });
        });
        // 8 000 distinct tokens, all remembered (within the default 10 000), sent in turn.
        let many: Vec<String> = (0..8_000).map(|_| mint(key)).collect();
        let remembering = router();
        rt.block_on(async {
            for token in &many {
                call(&remembering, Some(token)).await;
            }
        });
        let mut turn = 0;
        group.bench_function(format!("router_distinct_8000_{name}"), |b| {
            b.to_async(&rt).iter(|| {
                turn = (turn + 1) % many.len();
                call(&remembering, Some(&many[turn]))
            });
        });
    }
    group.finish();
}

/// A replay store that remembers nothing: every proof is new to it.
#[derive(Debug)]
struct Forgetful;

impl scopegate::server::ReplayStore for Forgetful {
    fn first_use<'a>(
        &'a self,
        _: &'a str,
        _: std::time::Duration,
    ) -> scopegate::server::StoreFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(true)))
    }
}

/// The benchmarks' router settings with JWTs from [`ISSUER`] signed by `key`.
fn config_with(key: &TestKey) -> scopegate::http::HttpConfig {
    config()
        .verifier(verifier(key))
        .authorization_server(ISSUER)
}

criterion_group!(benches, auth, dispatch, router, dpop, tokens);
criterion_main!(benches);
