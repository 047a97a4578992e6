//! Many remembered tokens sent in turn through the whole router, in process: what a token the
//! CPU's caches no longer hold costs, for callgrind's cache model (BENCHMARKS.md, "What does a
//! token cost?").
//!
//! ```text
//! cargo run --release --example token_table -- mint 8000       # writes the tokens once
//! valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 \
//!     target/release/examples/token_table run 8000 1            # every token remembered, then
//! valgrind ... token_table run 8000 3                           # one pass, or three
//! ```
//!
//! The difference between the two counts, divided by 16 000, is one request's cost with a token
//! not in the caches (`--LL` sized as this machine's per-core L2). `run N PASSES one` sends the
//! first token every time instead, and `TIME=1` prints the best pass's time a request.

use scopegate::auth::{JwtConfig, JwtVerifier};
use scopegate::prelude::*;
use scopegate_bench::Echo;
use scopegate_bench::in_process::{ISSUER, RESOURCE, call, config};
use scopegate_bench::support::{TestKey, TokenBuilder, jwk_set, now};

/// Where `mint` writes the tokens and `run` reads them.
const TOKENS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/bench/token-table.txt"
);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |at: usize| -> usize {
        args.get(at)
            .and_then(|n| n.parse().ok())
            .expect("usage: token_table mint N | run N PASSES [one]")
    };
    let key = TestKey::rsa_a();
    match args.first().map(String::as_str) {
        Some("mint") => {
            let tokens: Vec<String> = (0..count(1))
                .map(|_| {
                    TokenBuilder::new(&key, ISSUER, RESOURCE, "echo")
                        .sub("bench")
                        .client_id("bench")
                        .exp(now() + 24 * 3_600)
                        .build()
                })
                .collect();
            std::fs::create_dir_all(std::path::Path::new(TOKENS).parent().expect("a parent"))
                .expect("the directory is made");
            std::fs::write(TOKENS, tokens.join("\n")).expect("the tokens are written");
        }
        Some("run") => run(
            &key,
            count(1),
            count(2),
            args.get(3).is_some_and(|a| a == "one"),
        ),
        _ => panic!("usage: token_table mint N | run N PASSES [one]"),
    }
}

fn run(key: &TestKey, count: usize, passes: usize, one: bool) {
    let text = std::fs::read_to_string(TOKENS).expect("tokens minted first (`mint N`)");
    let tokens: Vec<&str> = text.lines().take(count).collect();
    assert_eq!(tokens.len(), count, "fewer tokens minted than asked for");
    let verifier = JwtVerifier::with_jwks(
        JwtConfig::new(ISSUER, RESOURCE),
        &jwk_set(std::slice::from_ref(key)),
    )
    .expect("the JWK set loads");
    let router = Server::new(Echo)
        .expect("the server builds")
        .http(config().verifier(verifier).authorization_server(ISSUER))
        .expect("the router builds");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Every token verified once, and so remembered.
        for token in &tokens {
            call(&router, Some(token)).await;
        }
        let mut best = f64::MAX;
        for _ in 0..passes {
            let started = std::time::Instant::now();
            for token in &tokens {
                call(&router, Some(if one { tokens[0] } else { token })).await;
            }
            #[allow(clippy::cast_precision_loss)]
            let each = started.elapsed().as_nanos() as f64 / count as f64;
            best = best.min(each);
        }
        if std::env::var_os("TIME").is_some() {
            println!("{best:.0} ns a request (the best of {passes} passes)");
        }
    });
}
