//! The issuer's keys and the URLs they come from: what a JWKS refresh keeps and drops, when the
//! unknown-`kid` cooldown starts, and plain `http://` off loopback refused (when the router is
//! built, or when a discovered URL would be fetched). Against the local key server on
//! 127.0.0.1.

#[path = "support/files.rs"]
mod files;
mod support;

use std::time::Duration;

use files::Files;
use reqwest::StatusCode;
use scopegate::auth::{AuthError, IntrospectionConfig, IntrospectionVerifier, JwtConfig};
use scopegate::auth::{JwtVerifier, TokenVerifier};
use scopegate::http::{HttpConfig, HttpError};
use scopegate::prelude::*;
use serde_json::{Value, json};
use support::{KeyServer, TestKey};

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

/// A verifier trusting `keys`, whose every refresh is allowed at once unless `cooldown`.
fn verifier(keys: &KeyServer, cooldown: Duration) -> JwtVerifier {
    JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE).refresh_cooldown(cooldown))
}

/// A token from `keys` signed by `key`.
fn token(keys: &KeyServer, key: &TestKey) -> String {
    keys.token_with_key(key, RESOURCE, "files:read").build()
}

/// Makes `verifier` fetch the keys again now (an unknown `kid` asks once).
async fn refresh(verifier: &JwtVerifier, keys: &KeyServer) {
    let before = keys.jwks_fetches();
    let unknown = keys
        .token(RESOURCE, "files:read")
        .kid("not-published")
        .build();
    assert_eq!(
        verifier.verify(&unknown).await.unwrap_err(),
        AuthError::UnknownKey
    );
    assert_eq!(keys.jwks_fetches(), before + 1, "the unknown kid refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_finds_the_same_keys_keeps_the_verified_tokens() {
    let keys = KeyServer::start().await;
    let verifier = verifier(&keys, Duration::ZERO);
    let (a, b) = (TestKey::rsa_a(), TestKey::rsa_b());
    keys.set_keys(vec![a.clone(), b.clone()]);
    let (by_a, by_b) = (token(&keys, &a), token(&keys, &b));
    verifier.verify(&by_a).await.unwrap();
    verifier.verify(&by_b).await.unwrap();
    assert_eq!(verifier.cached(), 2);

    // The same keys: in another order, as other JSON (members reordered, `use` gone, an
    // unknown member), then with a key added. Nothing verified is forgotten.
    refresh(&verifier, &keys).await;
    let rewritten: Vec<Value> = [b.clone(), a.clone()]
        .iter()
        .map(|k| {
            let mut jwk = k.jwk().as_object().unwrap().clone();
            jwk.remove("use");
            jwk.insert("x5t".into(), json!("not looked at"));
            Value::Object(jwk.into_iter().rev().collect())
        })
        .collect();
    keys.set_raw_jwks(Some(json!({ "keys": rewritten })));
    refresh(&verifier, &keys).await;
    keys.set_raw_jwks(None);
    keys.set_keys(vec![a.clone(), b.clone(), TestKey::ec_p256()]);
    refresh(&verifier, &keys).await;
    assert_eq!(
        verifier.cached(),
        2,
        "an unchanged key set keeps what it verified"
    );
    let fetches = keys.jwks_fetches();
    verifier.verify(&by_a).await.unwrap();
    verifier.verify(&by_b).await.unwrap();
    assert_eq!(keys.jwks_fetches(), fetches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_or_changed_key_drops_what_it_verified() {
    let keys = KeyServer::start().await;
    let verifier = verifier(&keys, Duration::ZERO);
    let (a, b, ec) = (TestKey::rsa_a(), TestKey::rsa_b(), TestKey::ec_p256());
    keys.set_keys(vec![a.clone(), b.clone(), ec.clone()]);
    let (by_a, by_b, by_ec) = (token(&keys, &a), token(&keys, &b), token(&keys, &ec));
    for t in [&by_a, &by_b, &by_ec] {
        verifier.verify(t).await.unwrap();
    }
    assert_eq!(verifier.cached(), 3);

    // `rsa-b` withdrawn: its token is forgotten and refused; the others stay remembered.
    keys.set_keys(vec![a.clone(), ec.clone()]);
    refresh(&verifier, &keys).await;
    assert_eq!(verifier.cached(), 2);
    assert_eq!(
        verifier.verify(&by_b).await.unwrap_err(),
        AuthError::UnknownKey
    );

    // Another key published under `rsa-a`'s kid: what the old `rsa-a` verified is checked
    // again, and its signature no longer holds.
    keys.set_keys(vec![b.clone().with_kid(a.kid()), ec.clone()]);
    refresh(&verifier, &keys).await;
    assert_eq!(verifier.cached(), 1);
    assert_eq!(
        verifier.verify(&by_a).await.unwrap_err(),
        AuthError::Signature
    );
    verifier.verify(&by_ec).await.unwrap();
    assert_eq!(verifier.cached(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_published_just_after_the_first_fetch_is_found_at_once() {
    // However the first fetch happened (a token, the readiness probe, a prefetch), the default
    // 30 s cooldown does not hold back the first unknown kid; that refresh starts it.
    for first in ["token", "ready", "prefetch"] {
        let keys = KeyServer::start().await;
        let verifier = JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE));
        match first {
            "token" => {
                let first_token = keys.token(RESOURCE, "files:read").build();
                verifier.verify(&first_token).await.unwrap();
            }
            "ready" => assert!(verifier.ready().await),
            _ => verifier.prefetch().await.unwrap(),
        }
        assert_eq!(keys.jwks_fetches(), 1, "{first}");
        let rotated = TestKey::rsa_b();
        keys.set_keys(vec![TestKey::rsa_a(), rotated.clone()]);
        let principal = verifier.verify(&token(&keys, &rotated)).await;
        assert!(principal.is_ok(), "{first}: {principal:?}");
        assert_eq!(keys.jwks_fetches(), 2, "{first}");
        // The cooldown now holds: another unknown kid does not reach the issuer.
        let unknown = keys.token(RESOURCE, "files:read").kid("made-up").build();
        assert_eq!(
            verifier.verify(&unknown).await.unwrap_err(),
            AuthError::UnknownKey
        );
        assert_eq!(keys.jwks_fetches(), 2, "{first}");
    }
}

/// The router `config` builds, or why not.
fn build(config: HttpConfig) -> Result<(), HttpError> {
    Server::new(Files::default())
        .unwrap()
        .http(config)
        .map(|_| ())
}

/// The message of an `HttpError::InsecureHttp`, which must name `url` and the opt-out.
fn insecure(built: Result<(), HttpError>, url: &str) -> String {
    let Err(HttpError::InsecureHttp(error)) = built else {
        panic!("{url}: {built:?}");
    };
    let text = error.to_string();
    assert_eq!(error.url(), url);
    assert!(text.contains("allow_insecure_http(true)"), "{text}");
    text
}

#[test]
fn plain_http_off_loopback_is_refused_when_the_router_is_built() {
    let lan = "http://10.0.0.7";
    // The resource, a listed issuer, the JWT verifier's issuer or JWKS: refused, each named.
    let text = insecure(
        build(HttpConfig::new(format!("{lan}/mcp")).without_authorization()),
        &format!("{lan}/mcp"),
    );
    assert!(text.contains("resource URI"), "{text}");
    let text = insecure(build(HttpConfig::new(RESOURCE).jwt_issuer(lan)), lan);
    assert!(
        text.contains("authorization server") && text.contains("HttpConfig"),
        "{text}"
    );
    let by_hand = JwtVerifier::new(
        JwtConfig::new("http://127.0.0.1:1", RESOURCE).jwks_uri(format!("{lan}/jwks")),
    );
    let config = HttpConfig::new(RESOURCE)
        .verifier(by_hand)
        .authorization_server("http://127.0.0.1:1");
    let text = insecure(build(config), &format!("{lan}/jwks"));
    assert!(
        text.contains("JWKS URI") && text.contains("JwtConfig"),
        "{text}"
    );
    // A fixed key set is never fetched: its issuer is only a name to compare `iss` with.
    let fixed = JwtVerifier::with_jwks(
        JwtConfig::new(lan, RESOURCE),
        &support::jwk_set(&[TestKey::rsa_a()]),
    )
    .unwrap();
    build(
        HttpConfig::new(RESOURCE)
            .verifier(fixed)
            .authorization_server("https://as.example.com"),
    )
    .unwrap();
    // An introspection endpoint (RFC 7662 §4: TLS), opted out on its own configuration.
    let introspection = |allow| {
        let config = IntrospectionConfig::new(format!("{lan}/introspect"), "rs", "s", RESOURCE)
            .allow_insecure_http(allow);
        HttpConfig::new(RESOURCE)
            .verifier(IntrospectionVerifier::new(config))
            .authorization_server("https://as.example.com")
    };
    let text = insecure(build(introspection(false)), &format!("{lan}/introspect"));
    assert!(text.contains("IntrospectionConfig"), "{text}");
    build(introspection(true)).unwrap();

    // Opted out once, before or after `jwt_issuer`: the resource, the issuer and the verifier
    // it builds all pass. https and loopback never needed it.
    build(
        HttpConfig::new(format!("{lan}/mcp"))
            .allow_insecure_http(true)
            .jwt_issuer(lan),
    )
    .unwrap();
    build(
        HttpConfig::new(format!("{lan}/mcp"))
            .jwt_issuer(lan)
            .allow_insecure_http(true),
    )
    .unwrap();
    build(HttpConfig::new("https://mcp.example.com/mcp").jwt_issuer("https://as.example.com"))
        .unwrap();
    for loopback in [
        "http://127.0.0.1:1",
        "http://127.3.2.1:1",
        "http://[::1]:1",
        "http://localhost:1",
    ] {
        build(HttpConfig::new(format!("{loopback}/mcp")).jwt_issuer(loopback)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_plain_http_jwks_uri_off_loopback_is_not_fetched() {
    let keys = KeyServer::start().await;
    // `0.0.0.0` is not loopback by name, yet Linux connects it to this machine: the opted-out
    // verifier below reaches the key server there, and nothing leaves the machine.
    let port = keys.addr().port();
    let jwks_uri = format!("http://0.0.0.0:{port}/jwks");
    let mut metadata = keys.metadata();
    metadata["jwks_uri"] = json!(jwks_uri);
    keys.set_raw_metadata(Some(metadata));
    let token = keys.token(RESOURCE, "files:read").build();

    let refused = JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE));
    assert_eq!(
        refused.verify(&token).await.unwrap_err(),
        AuthError::Unavailable
    );
    let error = refused.prefetch().await.unwrap_err();
    assert!(
        error.to_string().contains(&jwks_uri) && error.to_string().contains("allow_insecure_http"),
        "{error}"
    );
    assert_eq!(keys.jwks_fetches(), 0, "the JWKS was never asked for");
    assert!(!refused.ready().await, "the issuer counts as failing");

    let allowed =
        JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE).allow_insecure_http(true));
    allowed.verify(&token).await.unwrap();
    assert_eq!(keys.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_without_s256_is_ready_with_a_warning() {
    let keys = KeyServer::start().await;
    let mut metadata = keys.metadata();
    metadata
        .as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    keys.set_raw_metadata(Some(metadata));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let config = HttpConfig::new(&resource)
        .jwt(JwtConfig::new(keys.issuer(), &resource))
        .stateless(true)
        .health_checks(true);
    let router = Server::new(Files::default()).unwrap().http(config).unwrap();
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });

    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let warnings = body["warnings"].as_array().expect("warnings listed");
    assert_eq!(warnings.len(), 1, "{body}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains(&keys.issuer())
            && warning.contains("S256")
            && warning.contains("must refuse"),
        "{warning}"
    );
    // Tokens are served all the same, and the warning is not repeated.
    let token = keys.token(&resource, "files:read").build();
    let ping = reqwest::Client::new()
        .post(&resource)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);
    let again: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, body);
}

/// Waits (at most 5 s) until `verifier` has `warnings` warnings.
async fn warnings_after_start(verifier: &JwtVerifier, warnings: usize) -> Vec<String> {
    for _ in 0..500 {
        if verifier.warnings().len() >= warnings {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    verifier.warnings()
}

/// Metadata without `code_challenge_methods_supported`.
fn without_s256(keys: &KeyServer) {
    let mut metadata = keys.metadata();
    metadata
        .as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    keys.set_raw_metadata(Some(metadata));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_are_fetched_and_s256_checked_when_the_router_is_built() {
    let keys = KeyServer::start().await;
    without_s256(&keys);
    let verifier = JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE));
    build(
        HttpConfig::new(RESOURCE)
            .authorization_server(keys.issuer())
            .verifier(verifier.clone()),
    )
    .unwrap();
    // No token, no readiness probe: the router's start-up fetch found the keys and the warning.
    let warnings = warnings_after_start(&verifier, 1).await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("S256"), "{warnings:?}");
    assert!(verifier.has_keys());
    assert_eq!(keys.jwks_fetches(), 1);
    // A second router with the same verifier fetches nothing more.
    build(
        HttpConfig::new(RESOURCE)
            .authorization_server(keys.issuer())
            .verifier(verifier.clone()),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(keys.jwks_fetches(), 1);
    // The start-up fetch did not start the unknown-kid cooldown (default 30 s): a key published
    // just after it is found at once.
    let rotated = TestKey::rsa_b();
    keys.set_keys(vec![TestKey::rsa_a(), rotated.clone()]);
    let principal = verifier.verify(&token(&keys, &rotated)).await;
    assert!(principal.is_ok(), "{principal:?}");
    assert_eq!(keys.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_configured_jwks_uri_the_issuer_metadata_is_still_checked_at_start() {
    let keys = KeyServer::start().await;
    without_s256(&keys);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let verifier =
        JwtVerifier::new(JwtConfig::new(keys.issuer(), &resource).jwks_uri(keys.jwks_uri()));
    let config = HttpConfig::new(&resource)
        .authorization_server(keys.issuer())
        .verifier(verifier.clone())
        .stateless(true)
        .health_checks(true);
    let router = Server::new(Files::default()).unwrap().http(config).unwrap();
    let warnings = warnings_after_start(&verifier, 1).await;
    assert!(
        warnings.len() == 1 && warnings[0].contains("S256") && warnings[0].contains(&keys.issuer()),
        "{warnings:?}"
    );
    assert!(
        keys.metadata_fetches() >= 1,
        "the metadata was read for the check"
    );
    assert_eq!(keys.jwks_fetches(), 1);
    tokio::spawn(async move { scopegate::http::serve_on(listener, router).await });
    let body: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["warnings"], json!(warnings));
    assert_eq!(keys.jwks_fetches(), 1, "readiness fetched nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_without_metadata_is_a_warning_not_a_failure() {
    let keys = KeyServer::builder()
        .serve_oauth_metadata(false)
        .serve_openid_configuration(false)
        .start()
        .await;
    let verifier =
        JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE).jwks_uri(keys.jwks_uri()));
    build(
        HttpConfig::new(RESOURCE)
            .authorization_server(keys.issuer())
            .verifier(verifier.clone()),
    )
    .unwrap();
    let warnings = warnings_after_start(&verifier, 1).await;
    assert!(
        warnings.len() == 1 && warnings[0].contains("no metadata") && warnings[0].contains("S256"),
        "{warnings:?}"
    );
    assert!(verifier.has_keys());
    assert!(verifier.ready().await);
    verifier
        .verify(&keys.token(RESOURCE, "files:read").build())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_up_fetch_does_not_hold_back_the_first_token() {
    let keys = KeyServer::start().await;
    keys.set_mode(support::JwksMode::Down);
    let verifier = JwtVerifier::new(JwtConfig::new(keys.issuer(), RESOURCE));
    build(
        HttpConfig::new(RESOURCE)
            .authorization_server(keys.issuer())
            .verifier(verifier.clone()),
    )
    .unwrap();
    for _ in 0..500 {
        if keys.jwks_fetches() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(keys.jwks_fetches(), 1, "the start-up fetch was tried");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!verifier.has_keys());
    // The issuer is back: the first token fetches at once, despite the 30 s cooldown.
    keys.set_mode(support::JwksMode::Normal);
    verifier
        .verify(&keys.token(RESOURCE, "files:read").build())
        .await
        .unwrap();
    assert_eq!(keys.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_shadowed_by_a_later_one_under_its_kid_drops_what_it_verified() {
    let keys = KeyServer::start().await;
    let verifier = verifier(&keys, Duration::ZERO);
    let a = TestKey::rsa_a();
    keys.set_keys(vec![a.clone()]);
    let by_a = token(&keys, &a);
    verifier.verify(&by_a).await.unwrap();
    assert_eq!(verifier.cached(), 1);
    // Another RSA key published under a's kid, after it: the kid names the later key, so a's
    // token is no longer vouched for, remembered or not.
    let impostor = TestKey::rsa_b().with_kid(a.kid());
    keys.set_keys(vec![a.clone(), impostor]);
    refresh(&verifier, &keys).await;
    assert_eq!(
        verifier.cached(),
        0,
        "the shadowed key's tokens are forgotten"
    );
    assert_eq!(
        verifier.verify(&by_a).await.unwrap_err(),
        AuthError::Signature
    );
}
