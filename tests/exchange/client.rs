//! The token exchange client (`scopegate::auth::TokenExchange`) against a fake authorization
//! server: the RFC 8693 request, client authentication, errors, timeouts, the audience check,
//! the cache's expiry and bound, and tokens kept out of logs and `Debug`.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, Validation};
use scopegate::auth::{
    ClientAuth, ExchangeError, ExchangeErrorCode, ExchangeTarget, TokenExchange,
};
use serde_json::{Value, json};

use crate::issuer::{Issuer, form_decode, grant, jwt, refusal};
use crate::logs;
use crate::support::{TestKey, now};

const API: &str = "https://mail.example";

/// A caller's token as the server holds it: a JWT for the MCP server, expiring in an hour.
fn subject() -> String {
    jwt(&json!({"sub": "alice", "aud": "https://mcp.example/mcp", "exp": now() + 3600}))
}

/// An issued token for `aud`.
fn issued(aud: &str) -> String {
    jwt(&json!({"sub": "alice", "aud": aud, "exp": now() + 3600}))
}

fn client(issuer: &Issuer) -> TokenExchange {
    TokenExchange::new(
        issuer.token_endpoint(),
        "mcp-server",
        ClientAuth::secret_basic("s3cret"),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn the_request_is_rfc_8693_and_the_token_is_handed_back() {
    let token = issued(API);
    let issuer = Issuer::granting(token.clone(), 300).await;
    let subject = subject();
    let got = client(&issuer)
        .exchange(&subject, API, &["mail.send", "mail.read"])
        .await
        .unwrap();
    assert_eq!(got.audience(), API);
    let header = got.authorization();
    assert!(header.is_sensitive());
    assert_eq!(header.to_str().unwrap(), format!("Bearer {token}"));
    let seen = &issuer.seen()[0];
    for (field, value) in [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", subject.as_str()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("resource", API),
        ("audience", API),
        ("scope", "mail.send mail.read"),
    ] {
        assert_eq!(seen.field(field), Some(value), "{field}");
        assert_eq!(seen.counts[field], 1, "{field} sent once");
    }
    assert_eq!(
        seen.field("client_secret"),
        None,
        "basic: the secret is not in the form"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_api_is_named_by_the_parameters_configured() {
    let issuer = Issuer::granting("opaque-issued".into(), 300).await;
    for (target, resource, audience) in [
        (ExchangeTarget::Resource, Some(API), None),
        (ExchangeTarget::Audience, None, Some(API)),
    ] {
        let exchange = client(&issuer).target(target).cache_capacity(0);
        exchange.exchange(&subject(), API, &[]).await.unwrap();
        let seen = issuer.seen().pop().unwrap();
        assert_eq!(seen.field("resource"), resource, "{target:?}");
        assert_eq!(seen.field("audience"), audience, "{target:?}");
        assert_eq!(seen.field("scope"), None, "no scope asked: none sent");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn client_secret_basic_encodes_the_credentials_of_rfc_6749() {
    let issuer = Issuer::start(Duration::ZERO, |seen, _| {
        // RFC 6749 §2.3.1: form-urlencoded id and secret, then base64.
        let basic = seen
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Basic "));
        let pair = basic.map(|b| String::from_utf8(STANDARD.decode(b).unwrap()).unwrap());
        match pair.as_deref().and_then(|p| p.split_once(':')) {
            Some((id, secret))
                if form_decode(id) == "mcp server" && form_decode(secret) == "p@ss:w/rd" =>
            {
                (StatusCode::OK, grant("opaque", 300))
            }
            _ => (StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})),
        }
    })
    .await;
    let exchange = TokenExchange::new(
        issuer.token_endpoint(),
        "mcp server",
        ClientAuth::secret_basic("p@ss:w/rd"),
    );
    exchange.exchange(&subject(), API, &[]).await.unwrap();
    let wrong = TokenExchange::new(
        issuer.token_endpoint(),
        "mcp server",
        ClientAuth::secret_basic("guess"),
    );
    let refused = wrong.exchange(&subject(), API, &[]).await.unwrap_err();
    assert_eq!(refused.code(), Some(&ExchangeErrorCode::InvalidClient));
}

#[tokio::test(flavor = "current_thread")]
async fn client_secret_post_puts_the_credentials_in_the_form() {
    let issuer = Issuer::start(Duration::ZERO, |seen, _| {
        if seen.authorization.is_none()
            && seen.field("client_id") == Some("mcp-server")
            && seen.field("client_secret") == Some("s3cret")
        {
            (StatusCode::OK, grant("opaque", 300))
        } else {
            (StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}))
        }
    })
    .await;
    let exchange = TokenExchange::new(
        issuer.token_endpoint(),
        "mcp-server",
        ClientAuth::secret_post("s3cret"),
    );
    exchange.exchange(&subject(), API, &[]).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn private_key_jwt_is_an_assertion_the_issuer_verifies_with_the_public_key() {
    let key = TestKey::ec_p256();
    let public = key.decoding_key();
    let issuer = Issuer::start(Duration::ZERO, move |seen, endpoint| {
        let ok = seen.field("client_assertion_type")
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && seen.field("client_id") == Some("mcp-server")
            && seen.authorization.is_none()
            && seen.field("client_assertion").is_some_and(|assertion| {
                // RFC 7523 §3: signed by the client's key, iss = sub = the client, aud = the
                // token endpoint, an expiry, a jti.
                let mut validation = Validation::new(Algorithm::ES256);
                validation.set_audience(&[endpoint]);
                validation.set_issuer(&["mcp-server"]);
                validation.sub = Some("mcp-server".into());
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                jsonwebtoken::decode::<Value>(assertion, &public, &validation).is_ok_and(|data| {
                    data.claims["jti"].as_str().is_some_and(|j| j.len() >= 16)
                        && data.header.kid.as_deref() == Some("client-key-1")
                })
            });
        if ok {
            (StatusCode::OK, grant("opaque", 300))
        } else {
            (StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}))
        }
    })
    .await;
    let exchange = |key: &TestKey| {
        TokenExchange::new(
            issuer.token_endpoint(),
            "mcp-server",
            ClientAuth::private_key_jwt(
                key.encoding_key().clone(),
                Algorithm::ES256,
                Some("client-key-1".into()),
            ),
        )
        .cache_capacity(0)
    };
    exchange(&key).exchange(&subject(), API, &[]).await.unwrap();
    exchange(&key).exchange(&subject(), API, &[]).await.unwrap();
    let (first, second) = (issuer.seen()[0].clone(), issuer.seen()[1].clone());
    assert_ne!(
        first.field("client_assertion"),
        second.field("client_assertion"),
        "a fresh assertion (jti) each time"
    );
    // Another key: the issuer's check fails, and the client says the issuer refused.
    let stranger = TokenExchange::new(
        issuer.token_endpoint(),
        "mcp-server",
        ClientAuth::private_key_jwt(
            TestKey::rsa_a().encoding_key().clone(),
            Algorithm::RS256,
            Some("client-key-1".into()),
        ),
    );
    let refused = stranger.exchange(&subject(), API, &[]).await.unwrap_err();
    assert_eq!(refused.code(), Some(&ExchangeErrorCode::InvalidClient));
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_target_is_a_typed_refusal_that_echoes_no_token() {
    let subject = subject();
    let echoed = subject.clone();
    let issuer = Issuer::start(Duration::ZERO, move |_, _| {
        refusal(
            "invalid_target",
            &format!("no exchange policy allows {API} for {echoed}"),
        )
    })
    .await;
    let error = client(&issuer)
        .exchange(&subject, API, &[])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ExchangeErrorCode::InvalidTarget));
    let message = error.to_string();
    assert!(message.contains("invalid_target"), "{message}");
    assert!(message.contains("[subject token]"), "{message}");
    assert!(
        !message.contains(&subject),
        "the issuer's echo of the token is blotted out"
    );
    assert!(!format!("{error:?}").contains(&subject));
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_issuer_times_out() {
    let issuer = Issuer::granting_after(Duration::from_secs(5)).await;
    let exchange = client(&issuer).timeout(Duration::from_millis(300));
    let started = Instant::now();
    let error = exchange.exchange(&subject(), API, &[]).await.unwrap_err();
    assert!(
        matches!(&error, ExchangeError::Timeout { url } if *url == issuer.token_endpoint()),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_for_another_audience_is_refused_and_not_cached() {
    let issuer = Issuer::granting(issued("https://evil.example"), 300).await;
    let exchange = client(&issuer);
    for _ in 0..2 {
        let error = exchange.exchange(&subject(), API, &[]).await.unwrap_err();
        assert_eq!(
            error,
            ExchangeError::WrongAudience {
                expected: API.into(),
                found: "https://evil.example".into()
            }
        );
    }
    assert_eq!(issuer.requests(), 2, "never cached");
    assert_eq!(exchange.cached(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn answers_that_are_not_tokens_are_errors() {
    for (status, body) in [
        (
            StatusCode::OK,
            json!({"access_token": "x", "token_type": "N_A"}),
        ),
        (StatusCode::OK, json!({"token_type": "Bearer"})),
        (StatusCode::INTERNAL_SERVER_ERROR, json!("oops")),
    ] {
        let issuer = Issuer::start(Duration::ZERO, move |_, _| (status, body.clone())).await;
        let error = client(&issuer)
            .exchange(&subject(), API, &[])
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ExchangeError::InvalidResponse(_) | ExchangeError::Unreachable(_)
            ),
            "{error:?}"
        );
        assert_eq!(error.code(), None);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tokens_are_cached_per_subject_api_and_scopes_until_shortly_before_expiry() {
    // 31 s of life, a 30 s margin: kept for one second.
    let issuer = Issuer::granting(issued(API), 31).await;
    let exchange = client(&issuer);
    let subject = subject();
    exchange.exchange(&subject, API, &["a", "b"]).await.unwrap();
    exchange.exchange(&subject, API, &["b", "a"]).await.unwrap();
    assert_eq!(issuer.requests(), 1, "the second came from the cache");
    exchange.exchange(&subject, API, &["a"]).await.unwrap();
    assert_eq!(issuer.requests(), 2, "other scopes: another exchange");
    let other = jwt(&json!({"sub": "bob", "exp": now() + 3600}));
    exchange.exchange(&other, API, &["a", "b"]).await.unwrap();
    assert_eq!(issuer.requests(), 3, "another caller: another exchange");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    exchange.exchange(&subject, API, &["a", "b"]).await.unwrap();
    assert_eq!(
        issuer.requests(),
        4,
        "expired in the cache: exchanged again"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_callers_expiry_bounds_the_cache_too() {
    // The issued token lasts an hour; the caller's expires in 31 s: kept one second.
    let issuer = Issuer::granting(issued(API), 3600).await;
    let exchange = client(&issuer);
    let short = jwt(&json!({"sub": "alice", "exp": now() + 31}));
    exchange.exchange(&short, API, &[]).await.unwrap();
    exchange.exchange(&short, API, &[]).await.unwrap();
    assert_eq!(issuer.requests(), 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    exchange.exchange(&short, API, &[]).await.unwrap();
    assert_eq!(issuer.requests(), 2, "not kept past the caller's token");
    // A token whose expiry nobody tells is not cached at all.
    let silent = Issuer::start(Duration::ZERO, |_, _| {
        (
            StatusCode::OK,
            json!({"access_token": "opaque", "token_type": "Bearer"}),
        )
    })
    .await;
    let exchange = client(&silent);
    let opaque_subject = "an-opaque-caller-token";
    exchange.exchange(opaque_subject, API, &[]).await.unwrap();
    exchange.exchange(opaque_subject, API, &[]).await.unwrap();
    assert_eq!(silent.requests(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_cache_is_bounded() {
    let issuer = Issuer::granting(issued(API), 3600).await;
    let exchange = client(&issuer).cache_capacity(2);
    let callers: Vec<String> = (0..3)
        .map(|i| jwt(&json!({"sub": format!("user{i}"), "exp": now() + 3600 + i})))
        .collect();
    for caller in &callers {
        exchange.exchange(caller, API, &[]).await.unwrap();
    }
    assert_eq!(issuer.requests(), 3);
    assert_eq!(exchange.cached(), 2, "never more than the capacity");
    // The first caller's token was due soonest: it made room, and is exchanged again.
    exchange.exchange(&callers[0], API, &[]).await.unwrap();
    assert_eq!(issuer.requests(), 4);
    exchange.exchange(&callers[2], API, &[]).await.unwrap();
    assert_eq!(issuer.requests(), 4, "the last caller's is still kept");
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_endpoint_is_discovered_from_the_issuer() {
    let issuer = Issuer::granting("opaque".into(), 300).await;
    let exchange = TokenExchange::discover(
        issuer.base(),
        "mcp-server",
        ClientAuth::secret_basic("s3cret"),
    );
    exchange.exchange(&subject(), API, &[]).await.unwrap();
    assert_eq!(issuer.requests(), 1);
    let nowhere = TokenExchange::discover(
        "http://127.0.0.1:9",
        "mcp-server",
        ClientAuth::secret_basic("s3cret"),
    );
    let error = nowhere.exchange(&subject(), API, &[]).await.unwrap_err();
    assert!(matches!(error, ExchangeError::Unreachable(_)), "{error:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn neither_token_reaches_the_logs_or_debug_output() {
    let (logs, _guard) = logs::capture();
    let token = issued(API);
    let issuer = Issuer::granting(token.clone(), 300).await;
    let exchange = client(&issuer);
    let subject = subject();
    let got = exchange.exchange(&subject, API, &[]).await.unwrap();
    exchange.exchange(&subject, API, &[]).await.unwrap();
    let refusing = Issuer::start(Duration::ZERO, |_, _| refusal("invalid_grant", "expired")).await;
    client(&refusing)
        .exchange(&subject, API, &[])
        .await
        .unwrap_err();
    let text = logs.text();
    assert!(
        text.contains("token_exchanged") && text.contains("token_cached"),
        "{text}"
    );
    assert!(
        text.contains("exchange_failed") && text.contains("invalid_grant"),
        "{text}"
    );
    logs.assert_free_of(&[
        ("the caller's token", &subject),
        ("the issued token", &token),
        ("the client secret", "s3cret"),
    ]);
    let debug = format!("{exchange:?} {got:?} {:?}", got.authorization());
    for secret in [&subject, &token, "s3cret"] {
        assert!(!debug.contains(secret), "Debug shows a secret: {debug}");
    }
}
