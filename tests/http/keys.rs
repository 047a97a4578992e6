//! Signing keys and discovery: rotation, an issuer down or broken, a storm of unknown kids,
//! background refresh and a fixed key set.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use serde_json::json;

use crate::files::{Files, Runs};
use crate::harness::{files, files_with, param, start};
use crate::support::{self, JwksMode, KeyServer, TestKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_picked_up_without_a_restart() {
    let h = files_with(|c, k, r| {
        c.jwt(JwtConfig::new(k.issuer(), r).refresh_cooldown(Duration::from_millis(200)))
    })
    .await;
    let old = h.token("files:read").build();
    let session = h.initialize(&old).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new_key = TestKey::rsa_b().with_kid("rotated");
    h.keys.set_keys(vec![TestKey::rsa_a(), new_key.clone()]);
    let new = h
        .keys
        .token_with_key(&new_key, &h.resource, "files:read")
        .build();
    let r = h
        .call(&new, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(h.keys.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_working_while_the_issuer_is_down() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.keys.set_mode(JwksMode::Down);
    let again = h.token("files:read").build();
    let r = h
        .call(&again, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // An unknown kid while the issuer is down: refused, not a 500, not a hang.
    let r = h
        .call(
            &h.token("files:read").kid("new").build(),
            &session,
            "read_file",
            json!({"path": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_keys_an_unreachable_or_broken_issuer_means_401_not_500() {
    for mode in [
        JwksMode::Down,
        JwksMode::Html,
        JwksMode::Garbage,
        JwksMode::Empty,
        JwksMode::Oversized,
    ] {
        // Broken before the router is built: its start-up fetch of the keys fails too, so
        // there are no keys at all (set afterwards, the start-up fetch could win the race).
        let h = files_with(|config, keys, _| {
            keys.set_mode(mode);
            config
        })
        .await;
        let token = h.token("files:read").build();
        let r = h
            .rpc(
                Some(&token),
                None,
                json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode:?}");
        assert_eq!(
            param(r.challenge(), "error"),
            Some("invalid_token"),
            "{mode:?}"
        );
        assert!(
            param(r.challenge(), "error_description")
                .unwrap()
                .contains("could not be reached"),
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_unknown_kids_fetches_the_keys_at_most_once_per_cooldown() {
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    let h = Arc::new(h);
    // 10,000 tokens naming random kids, 32 in flight at a time, with a valid call after every
    // hundredth: every forged one refused, every valid one served, and at most one fetch per
    // 30 s cooldown window. The kid is refused before any signature check, so the forged tokens
    // share one signature (signing 10,000 would dominate the test).
    let signed = h.token("files:read").kid("random").build();
    let (header, _) = support::peek(&signed);
    let rest = signed.split_once('.').unwrap().1.to_owned();
    let forge = move |i: usize| {
        let mut header = header.clone();
        header["kid"] = json!(format!("random-{i}"));
        format!("{}.{rest}", support::b64url(header.to_string().as_bytes()))
    };
    let started = std::time::Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000 {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let (h, session) = (Arc::clone(&h), session.clone());
        let (valid, forged) = (token.clone(), forge(i));
        tasks.spawn(async move {
            let status = h
                .call(&forged, &session, "read_file", json!({"path": "x"}))
                .await
                .status;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "forged token {i}");
            if i % 100 == 0 {
                let status = h
                    .call(&valid, &session, "read_file", json!({"path": "x"}))
                    .await
                    .status;
                assert_eq!(status, StatusCode::OK, "valid call beside forged token {i}");
            }
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let windows = started.elapsed().as_secs() / 30 + 1;
    let fetched = h.keys.jwks_fetches() - 1;
    assert!(
        fetched as u64 <= windows,
        "{fetched} fetches in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_follows_the_path_aware_order_and_checks_the_issuer() {
    // A path issuer found only through OpenID path-appended discovery.
    let keys = KeyServer::builder()
        .issuer_path("tenant")
        .serve_oauth_metadata(false)
        .serve_openid_configuration(false)
        .serve_openid_path_appended(true)
        .start()
        .await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, k, r| {
        c.jwt(JwtConfig::new(k.issuer(), r))
    })
    .await;
    let token = h.token("files:read").build();
    let r = h
        .rpc(
            Some(&token),
            None,
            json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "authenticated (the session id is what is missing)"
    );

    // Metadata naming another issuer is not trusted (from the start: the router's start-up
    // fetch reads it too).
    let h = files_with(|c, k, _| {
        k.set_issuer_override(Some("http://127.0.0.1:9".into()));
        c
    })
    .await;
    let r = h
        .rpc(
            Some(&h.token("files:read").build()),
            None,
            json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_refreshed_in_the_background_without_holding_requests() {
    let h = files_with(|c, k, r| {
        let mut jwt = JwtConfig::new(k.issuer(), r).refresh_cooldown(Duration::ZERO);
        jwt.min_cache = Duration::ZERO;
        // Before the router is built: the keys its start-up fetch finds are expired at once.
        k.set_cache_max_age(0);
        c.jwt(jwt)
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    // The start-up fetch (which the first token may have joined), then maybe refreshes of the
    // expired keys that requests started in the background, all done by now (a fast issuer).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fetched = h.keys.jwks_fetches();
    assert!(fetched >= 1, "{fetched}");
    h.keys.set_mode(JwksMode::Slow(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a slow issuer does not hold requests with known keys"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.keys.jwks_fetches(),
        fetched + 1,
        "the expired keys were refetched in the background"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_jwk_set_verifies_without_fetching() {
    use scopegate::auth::JwtVerifier;
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(Files { runs: runs.clone() }, runs, keys, |c, k, r| {
        let jwks = support::jwk_set(&[TestKey::rsa_a()]);
        let verifier = JwtVerifier::with_jwks(JwtConfig::new(k.issuer(), r), &jwks).unwrap();
        c.verifier(verifier).authorization_server(k.issuer())
    })
    .await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let unknown = h.token("files:read").kid("elsewhere").build();
    let r = h
        .call(&unknown, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.keys.jwks_fetches(), 0, "a fixed set is never fetched");
    assert_eq!(h.keys.metadata_fetches(), 0);
    // A set with no usable key is refused when the verifier is built.
    let empty =
        JwtVerifier::with_jwks(JwtConfig::new("http://i", "http://r"), &json!({"keys": []}));
    assert!(empty.is_err());
}
