//! The verified-token cache: bounded in entries and bytes, and safe against altered tokens and
//! far-future `exp`s.

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use serde_json::json;

use crate::harness::files;
use crate::support::{self, TestKey, TokenBuilder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verified_token_cache_is_bounded_and_lets_no_altered_token_through() {
    use scopegate::auth::{JwtVerifier, TokenVerifier};
    let key = TestKey::rsa_a();
    let (issuer, resource) = ("http://127.0.0.1:1", "http://127.0.0.1:2/mcp");
    let mut config = JwtConfig::new(issuer, resource);
    config.cache_capacity = 3;
    let verifier =
        JwtVerifier::with_jwks(config, &support::jwk_set(std::slice::from_ref(&key))).unwrap();
    let mint = || TokenBuilder::new(&key, issuer, resource, "files:read").build();
    for _ in 0..10 {
        let token = mint();
        verifier.verify(&token).await.unwrap();
        verifier.verify(&token).await.unwrap();
        assert!(verifier.cached() <= 3, "{} remembered", verifier.cached());
    }
    assert!(verifier.cached() >= 1, "verified tokens are remembered");
    // A remembered token, altered in any segment, is checked afresh and refused.
    let token = mint();
    verifier.verify(&token).await.unwrap();
    let segments: Vec<&str> = token.split('.').collect();
    for which in 0..3 {
        let mut altered: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
        let middle = altered[which].len() / 2;
        let flipped = if &altered[which][middle..=middle] == "A" {
            "B"
        } else {
            "A"
        };
        altered[which].replace_range(middle..=middle, flipped);
        let altered = altered.join(".");
        assert!(
            verifier.verify(&altered).await.is_err(),
            "segment {which} altered and accepted"
        );
    }
    // Refused tokens are not remembered.
    let before = verifier.cached();
    let expired = TokenBuilder::new(&key, issuer, resource, "files:read")
        .expired()
        .build();
    for _ in 0..2 {
        assert!(verifier.verify(&expired).await.is_err());
    }
    assert_eq!(verifier.cached(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verified_token_cache_is_bounded_in_bytes_too() {
    use scopegate::auth::{JwtVerifier, TokenVerifier};
    let key = TestKey::rsa_a();
    let (issuer, resource) = ("http://127.0.0.1:1", "http://127.0.0.1:2/mcp");
    let mint = |padding: usize| {
        TokenBuilder::new(&key, issuer, resource, "files:read")
            .claim("padding", "p".repeat(padding))
            .build()
    };
    let small = mint(0).len();
    let mut config = JwtConfig::new(issuer, resource);
    config.cache_capacity = 1000;
    // Room for three small tokens (each charged three times its length plus 512 bytes).
    config.cache_max_bytes = 3 * (3 * small + 512) + 100;
    let verifier =
        JwtVerifier::with_jwks(config, &support::jwk_set(std::slice::from_ref(&key))).unwrap();
    for _ in 0..10 {
        verifier.verify(&mint(0)).await.unwrap();
        assert!(verifier.cached() <= 3, "{} remembered", verifier.cached());
    }
    assert!(verifier.cached() >= 1, "verified tokens are remembered");
    // A token too large for the whole budget is verified, every time, and never remembered.
    let large = mint(4 * small);
    let before = verifier.cached();
    for _ in 0..2 {
        verifier.verify(&large).await.unwrap();
    }
    assert_eq!(verifier.cached(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_future_exp_does_not_overflow_the_cache() {
    // Found by the jwt_verify fuzz target: u64::MAX seconds does not fit a SystemTime.
    let h = files().await;
    let token = h.token("files:read").exp(u64::MAX).build();
    let session = h.initialize(&token).await;
    for _ in 0..2 {
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}
