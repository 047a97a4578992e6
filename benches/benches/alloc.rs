//! Heap allocations per request on the hot path, counted by a counting global allocator:
//! a `tools/call` through the dispatcher alone, and through the whole HTTP router (no socket)
//! without authentication and with a warm token, beside bare axum JSON-RPC handlers (typed, the
//! ceiling, and `Value`-based).
//!
//! `cargo bench --bench alloc` from `benches/` (or `scripts/bench --micro`). Prints a table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use scopegate::auth::{JwtConfig, JwtVerifier, TokenVerifier};
use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use scopegate_bench::in_process::{ISSUER, RESOURCE, config, modern_request, request, send};
use scopegate_bench::support::{TestKey, TokenBuilder, jwk_set};
use scopegate_bench::{CALL, Echo, OpenEcho, bare_router, typed_router};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// The largest block asked for since the last reset: glibc serves blocks of up to 1 032 bytes
/// from a per-thread cache, and a larger one (a large boxed future) from its arena, several
/// times the cost.
static LARGEST: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        LARGEST.fetch_max(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        LARGEST.fetch_max(new_size as u64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: u64 = 10_000;

/// Runs `one` ROUNDS times (after a warm-up) and returns allocations and bytes per run, and the
/// largest block asked for.
async fn per_run<F: Future<Output = ()>>(mut one: impl FnMut() -> F) -> (f64, f64, u64) {
    for _ in 0..100 {
        one().await;
    }
    LARGEST.store(0, Ordering::Relaxed);
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..ROUNDS {
        one().await;
    }
    let (a1, b1) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    (
        (a1 - a0) as f64 / ROUNDS as f64,
        (b1 - b0) as f64 / ROUNDS as f64,
        LARGEST.load(Ordering::Relaxed),
    )
}

/// Allocations per request through `router` (as [`per_run`]), of requests made by `make`: all
/// built before anything is counted, as building one (its headers, the bearer header's text) is
/// the client's share.
async fn routed(
    router: &axum::Router,
    make: impl Fn() -> axum::http::Request<axum::body::Body>,
) -> (f64, f64, u64) {
    let built = (0..ROUNDS + 100).map(|_| make()).collect::<Vec<_>>();
    let requests = std::cell::RefCell::new(built);
    per_run(|| {
        let request = requests
            .borrow_mut()
            .pop()
            .expect("one request built per run");
        send(router, request)
    })
    .await
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let key = TestKey::rsa_a();
        let token = TokenBuilder::new(&key, ISSUER, RESOURCE, "echo")
            .sub("bench")
            .client_id("bench")
            .build();
        let verifier = JwtVerifier::with_jwks(JwtConfig::new(ISSUER, RESOURCE), &jwk_set(&[key]))
            .expect("the JWK set loads");
        let principal = verifier.verify(&token).await.expect("the token verifies");

        let caller = Principal::builder()
            .subject("bench")
            .scopes(ScopeSet::from_space_separated("echo"))
            .build();
        let server = Server::new(Echo).expect("the server builds");
        let dispatch = per_run(|| async {
            match server.handle_bytes(CALL.as_bytes(), &caller).await {
                Reply::Response(_) => {}
                other => panic!("unexpected reply: {other:?}"),
            }
        })
        .await;

        let warm = per_run(|| async {
            verifier.verify(&token).await.expect("cached");
        })
        .await;

        let open = Server::new(OpenEcho)
            .expect("the server builds")
            .http(config().without_authorization())
            .expect("the router builds");
        let authed = Server::new(Echo)
            .expect("the server builds")
            .http(
                config()
                    .verifier(verifier.clone())
                    .authorization_server(ISSUER),
            )
            .expect("the router builds");
        let bare = bare_router();
        let typed = typed_router();
        let bare_run = routed(&bare, || request(None)).await;
        let typed_run = routed(&typed, || request(None)).await;
        let open_run = routed(&open, || request(None)).await;
        let authed_run = routed(&authed, || request(Some(&token))).await;
        let modern_run = routed(&authed, || modern_request(&token)).await;
        drop(principal);

        println!(
            "allocations per request ({ROUNDS} requests, after 100 warm-up; router rows exclude \
             building the request, and include reading the response body)"
        );
        println!(
            "{:<44} {:>8} {:>10} {:>10}",
            "path", "allocs", "bytes", "largest"
        );
        for (name, (allocs, bytes, largest)) in [
            ("dispatcher: tools/call (handle_bytes)", dispatch),
            ("JwtVerifier::verify, warm token", warm),
            ("router: axum handler, typed (the ceiling)", typed_run),
            ("router: axum handler, Value-based", bare_run),
            ("router: scopegate tools/call, no auth", open_run),
            ("router: scopegate tools/call, warm token", authed_run),
            ("router: the same, 2026-07-28 request", modern_run),
        ] {
            println!("{name:<44} {allocs:>8.1} {bytes:>10.0} {largest:>10}");
        }
        println!(
            "(largest: the largest block asked for; glibc serves up to 1 032 bytes from a \
             per-thread cache, a larger block from its arena at several times the cost)"
        );
    });
}
