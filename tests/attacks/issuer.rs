//! The issuer's key sets and metadata: broken, unreachable, slow, or discovered on plain
//! `http://`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use scopegate::auth::{JwtConfig, JwtVerifier};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::capture::{AUTH, capture};
use crate::cases::{Expect, SIGNATURE, UNAVAILABLE, UNKNOWN_KEY, assert_no_failures, case, run};
use crate::files::{Files, Runs};
use crate::harness::{Harness, call_body, default_harness, harness, param};
use crate::support::{self, JwksMode, KeyServer, TestKey, b64url};

// ---- 7. broken key sets and metadata: 401, never 500 -----------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn broken_key_sets_and_metadata_mean_401_never_500() {
    let (capture, _guard) = capture();
    let rsa_a = TestKey::rsa_a();
    let oct =
        json!({"keys": [{"kty": "oct", "kid": "rsa-a", "alg": "HS256", "k": b64url(b"secret")}]});
    let with = |extra: Value| {
        let mut jwk = rsa_a.jwk();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                jwk.as_object_mut().unwrap().remove(k);
            } else {
                jwk[k] = v.clone();
            }
        }
        json!({ "keys": [jwk] })
    };
    type Setup = Box<dyn Fn(&KeyServer)>;
    let faults: Vec<(&str, Setup)> = vec![
        (
            "JWKS 503",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Down)),
        ),
        (
            "JWKS served as HTML",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Html)),
        ),
        (
            "JWKS garbage JSON",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Garbage)),
        ),
        (
            "JWKS empty set",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Empty)),
        ),
        (
            "JWKS oversized (5 MiB)",
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Oversized)),
        ),
        (
            "JWKS with only a use=enc key",
            Box::new(|k: &KeyServer| k.set_keys(vec![TestKey::rsa_a().with_use("enc")])),
        ),
        (
            "JWKS with only an RSA-1024 key",
            Box::new(|k: &KeyServer| k.set_keys(vec![TestKey::rsa_1024().with_kid("rsa-a")])),
        ),
        (
            "JWKS with only a symmetric (oct) key",
            Box::new(move |k: &KeyServer| k.set_raw_jwks(Some(oct.clone()))),
        ),
        (
            "JWKS key with key_ops [encrypt]",
            Box::new({
                let set = with(json!({"use": null, "key_ops": ["encrypt"]}));
                move |k: &KeyServer| k.set_raw_jwks(Some(set.clone()))
            }),
        ),
        (
            "JWKS key with alg RSA-OAEP",
            Box::new({
                let set = with(json!({"use": null, "alg": "RSA-OAEP"}));
                move |k: &KeyServer| k.set_raw_jwks(Some(set.clone()))
            }),
        ),
        (
            "metadata served as HTML",
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Html)),
        ),
        (
            "metadata garbage JSON",
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Garbage)),
        ),
        (
            "metadata naming another issuer",
            Box::new(|k: &KeyServer| k.set_issuer_override(Some("https://evil.example".into()))),
        ),
        (
            "metadata without jwks_uri",
            Box::new(|k: &KeyServer| {
                let mut m = k.metadata();
                m.as_object_mut().unwrap().remove("jwks_uri");
                k.set_raw_metadata(Some(m));
            }),
        ),
        (
            "metadata whose jwks_uri is a closed port",
            Box::new(|k: &KeyServer| {
                let mut m = k.metadata();
                m["jwks_uri"] = json!("http://127.0.0.1:9/jwks");
                k.set_raw_metadata(Some(m));
            }),
        ),
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, setup) in faults {
        let h = default_harness(&capture).await;
        setup(&h.keys);
        let token = h.token("files:read").build();
        count += run(
            &h,
            vec![case(
                name,
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
    }

    // A fixed key set never fetches: an unknown kid is refused on the spot.
    let keys = KeyServer::start().await;
    let issuer = keys.issuer();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let verifier = JwtVerifier::with_jwks(
        JwtConfig::new(&issuer, &resource),
        &support::jwk_set(&[TestKey::rsa_a()]),
    )
    .unwrap();
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(
            HttpConfig::new(&resource)
                .verifier(verifier)
                .authorization_server(&issuer),
        )
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    };
    let unknown = h
        .keys
        .token_with_key(
            &TestKey::rsa_b().with_kid("elsewhere"),
            &h.resource,
            "files:read",
        )
        .build();
    count += run(
        &h,
        vec![case(
            "fixed JWK set, unknown kid",
            h.post(Some(&unknown), None, &call_body("whoami")),
            Expect::InvalidToken(UNKNOWN_KEY),
        )],
        &mut failures,
    )
    .await;
    if !h.keys.requests().is_empty() {
        failures.push(format!(
            "[fixed JWK set] the issuer was contacted: {:?}",
            h.keys.requests()
        ));
    }
    assert_no_failures("broken key sets", count, &failures);
}

// ---- 8. issuer unreachable -----------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_issuer_keeps_cached_keys_and_fails_fast_without_them() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;

    // With keys cached, and the cache expired so every request tries to refresh: valid tokens
    // keep working while the issuer is down; unknown kids are refused.
    let keys = KeyServer::builder().cache_max_age(0).start().await;
    let h = harness(
        keys,
        &capture,
        |mut j| {
            j.min_cache = Duration::ZERO;
            j.refresh_cooldown(Duration::ZERO)
        },
        |c| c,
    )
    .await;
    let session = h.initialize(&h.token("files:read").build()).await;
    h.keys.set_mode(JwksMode::Down);
    h.keys.set_metadata_mode(JwksMode::Down);
    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(case(
            format!("issuer down, cached keys: valid token #{i}"),
            h.call(&h.token("files:read").build(), &session, "read_file"),
            Expect::Accepted,
        ));
    }
    cases.push(case(
        "issuer down, cached keys: unknown kid",
        h.call(
            &h.token("files:read").kid("new-kid").build(),
            &session,
            "read_file",
        ),
        Expect::InvalidToken(UNKNOWN_KEY),
    ));
    cases.push(case(
        "issuer down, cached keys: forged signature",
        h.call(
            &h.token("files:read").flipped_signature(),
            &session,
            "read_file",
        ),
        Expect::InvalidToken(SIGNATURE),
    ));
    count += run(&h, cases, &mut failures).await;

    // Without keys: refused quickly with a short timeout, whatever way the issuer fails.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    type Setup = Box<dyn Fn(&KeyServer)>;
    let modes: Vec<(&str, Option<String>, Setup)> = vec![
        (
            "JWKS at a closed port (connection refused)",
            Some(format!("http://127.0.0.1:{closed_port}/jwks")),
            Box::new(|_: &KeyServer| {}),
        ),
        (
            "JWKS that never answers",
            None,
            Box::new(|k: &KeyServer| k.set_mode(JwksMode::Slow(Duration::from_secs(30)))),
        ),
        (
            "metadata that never answers",
            None,
            Box::new(|k: &KeyServer| k.set_metadata_mode(JwksMode::Slow(Duration::from_secs(30)))),
        ),
    ];
    for (name, jwks_uri, setup) in modes {
        let h = harness(
            KeyServer::start().await,
            &capture,
            |j| {
                let j = j.http_timeout(Duration::from_millis(400));
                match jwks_uri {
                    Some(uri) => j.jwks_uri(uri),
                    None => j,
                }
            },
            |c| c,
        )
        .await;
        setup(&h.keys);
        let token = h.token("files:read").build();
        let started = Instant::now();
        count += run(
            &h,
            vec![case(
                format!("no cached keys: {name}"),
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_secs(2) {
            failures.push(format!(
                "[no cached keys: {name}] took {elapsed:?} (expected under 2 s)"
            ));
        }
        // The next request within the cooldown does not wait again.
        let started = Instant::now();
        count += run(
            &h,
            vec![case(
                format!("no cached keys, second request: {name}"),
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_millis(300) {
            failures.push(format!(
                "[no cached keys, second request: {name}] took {elapsed:?} (the cooldown should answer at once)"
            ));
        }
    }
    assert_no_failures("unreachable issuer", count, &failures);
}

// ---- 9. a slow issuer does not serialise requests with known kids --------------------------

#[tokio::test(flavor = "current_thread")]
async fn a_slow_issuer_does_not_hold_requests_with_known_kids() {
    let (capture, _guard) = capture();
    let keys = KeyServer::builder().cache_max_age(0).start().await;
    let h = Arc::new(
        harness(
            keys,
            &capture,
            |mut j| {
                j.min_cache = Duration::ZERO;
                j.refresh_cooldown(Duration::ZERO)
            },
            |c| c,
        )
        .await,
    );
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.keys.set_mode(JwksMode::Slow(Duration::from_secs(2)));
    let mark = capture.len();
    let runs_before = h.runs();
    let mut failures = Vec::new();

    // An unknown kid: its request waits for the (slow) fetch, holding the refresh.
    let pending = {
        let h = Arc::clone(&h);
        let session = session.clone();
        tokio::spawn(async move {
            let unknown = h.token("files:read").kid("not-yet-published").build();
            let started = Instant::now();
            let reply = h.try_send(h.call(&unknown, &session, "read_file")).await;
            (reply, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Meanwhile, requests with the known kid go through at once, concurrently. The cases run
    // concurrently, so their runs and events are checked together.
    let started = Instant::now();
    let mut known = Vec::new();
    for i in 0..5 {
        let h = Arc::clone(&h);
        let session = session.clone();
        known.push(tokio::spawn(async move {
            let token = h.token("files:read").build();
            let started = Instant::now();
            let reply = h.try_send(h.call(&token, &session, "read_file")).await;
            (i, reply, started.elapsed())
        }));
    }
    for task in known {
        let (i, reply, elapsed) = task.await.unwrap();
        let name = format!("known kid #{i} while a slow fetch is under way");
        match reply {
            None => failures.push(format!("[{name}] no answer within 15 s")),
            Some(r) if r.status != StatusCode::OK => {
                failures.push(format!("[{name}] status {} body {}", r.status, r.body));
            }
            Some(_) if elapsed >= Duration::from_secs(1) => {
                failures.push(format!(
                    "[{name}] took {elapsed:?}: held behind the slow fetch"
                ));
            }
            Some(_) => {}
        }
    }
    let all_known = started.elapsed();
    if all_known >= Duration::from_secs(1) {
        failures.push(format!(
            "[known kids] five requests took {all_known:?} together"
        ));
    }
    let name = "unknown kid while the issuer is slow";
    let (reply, elapsed) = pending.await.unwrap();
    match reply {
        None => failures.push(format!("[{name}] no answer within 15 s")),
        Some(r) => {
            let challenge = r.challenge().unwrap_or_default();
            if r.status != StatusCode::UNAUTHORIZED
                || param(challenge, "error") != Some("invalid_token")
                || param(challenge, "resource_metadata") != Some(h.metadata_url().as_str())
            {
                failures.push(format!(
                    "[{name}] status {}, challenge {challenge:?} (expected 401 invalid_token)",
                    r.status
                ));
            }
        }
    }
    if elapsed >= Duration::from_secs(8) {
        failures.push(format!("[{name}] took {elapsed:?}"));
    }
    let events = capture.since(mark);
    let accepted = events
        .iter()
        .filter(|e| e.is(AUTH, "token_accepted"))
        .count();
    if accepted != 5 {
        failures.push(format!(
            "[all] {accepted} token_accepted events (expected 5)"
        ));
    }
    if !events
        .iter()
        .any(|e| e.is(AUTH, "token_rejected") && e.field("reason") == Some("unknown_key"))
    {
        failures.push(format!(
            "[{name}] audit: no token_rejected with reason unknown_key in {events:?}"
        ));
    }
    let ran = h.runs() - runs_before;
    if ran != 5 {
        failures.push(format!(
            "[all] {ran} tool runs (expected 5, one per known kid)"
        ));
    }
    assert_no_failures("slow issuer", 6, &failures);
}

// ---- plain http:// found by discovery: never fetched -------------------------------------------
//
// An issuer's metadata (fetched over https, or loopback) can name a `jwks_uri` on plain http://.
// Whoever is on that path would choose the keys, and with them which tokens are genuine
// (issue 18, item 8). Such a URL off loopback is refused before any request: the issuer counts
// as failing. The JWKS at `0.0.0.0` below is the key server's own (Linux connects `0.0.0.0` to
// this machine), so a 401 proves the refusal, not a network failure.

#[tokio::test(flavor = "current_thread")]
async fn a_discovered_plain_http_jwks_uri_is_refused_not_fetched() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, host) in [
        ("discovered http jwks_uri on 0.0.0.0", "0.0.0.0"),
        (
            "discovered http jwks_uri on a LAN name",
            "jwks.internal.example",
        ),
    ] {
        let h = default_harness(&capture).await;
        let port = h.keys.addr().port();
        let mut metadata = h.keys.metadata();
        metadata["jwks_uri"] = json!(format!("http://{host}:{port}/jwks"));
        h.keys.set_raw_metadata(Some(metadata));
        let token = h.token("files:read").build();
        let mark = h.capture.len();
        count += run(
            &h,
            vec![case(
                name,
                h.post(Some(&token), None, &call_body("whoami")),
                Expect::InvalidToken(UNAVAILABLE),
            )],
            &mut failures,
        )
        .await;
        let refused = h.capture.since(mark).iter().any(|e| {
            e.is(AUTH, "jwks_fetch_failed")
                && e.field("error").is_some_and(|error| {
                    error.contains("allow_insecure_http") && error.contains(host)
                })
        });
        if !refused {
            failures.push(format!("[{name}] no jwks_fetch_failed naming the opt-out"));
        }
        if h.keys.jwks_fetches() != 0 {
            failures.push(format!("[{name}] the JWKS was fetched"));
        }
    }
    assert_no_failures("plain http discovery", count, &failures);
}
