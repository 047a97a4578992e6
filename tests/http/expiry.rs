//! A token's `exp`: never outlived by the remembered token, nor by the stream it opened.

use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use serde_json::json;

use crate::harness::{files, files_with, param};
use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_token_never_outlives_its_exp() {
    let h = files_with(|c, k, r| c.jwt(JwtConfig::new(k.issuer(), r).leeway(Duration::ZERO))).await;
    let token = h.token("files:read").exp(support::now() + 2).build();
    let session = h.initialize(&token).await;
    for _ in 0..3 {
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "verified, then remembered");
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = h
        .call(&token, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "expired, remembered or not"
    );
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
    assert_eq!(h.runs(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_its_exp_opens_no_stream_even_within_the_leeway() {
    let h = files().await;
    let lasting = h.token("files:read").build();
    let session = h.initialize(&lasting).await;
    // Expired five seconds ago: still accepted (60 s of leeway), but a stream would end at once.
    let late = h.token("files:read").exp(support::now() - 5).build();
    let r = h
        .call(&late, &session, "read_file", json!({"path": "x"}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the leeway still holds for requests"
    );
    let r = h.send(h.open_stream(&late, &session)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_stream_ends_when_the_token_that_opened_it_expires() {
    let h = files_with(|c, k, r| c.jwt(JwtConfig::new(k.issuer(), r).leeway(Duration::ZERO))).await;
    let brief = h.token("files:read").exp(support::now() + 2).build();
    let lasting = h.token("files:read").build();
    let session = h.initialize(&lasting).await;
    let open = |token: &str| h.open_stream(token, &session).send();
    let mut stream = open(&brief).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let opened = std::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(6), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended with its token");
    assert!(
        opened.elapsed() > Duration::from_millis(200),
        "and not before: {:?}",
        opened.elapsed()
    );
    // A stream opened with a token that lasts stays open.
    let mut stream = open(&lasting).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let pending = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(pending.is_err(), "the stream stays open: {pending:?}");
}
