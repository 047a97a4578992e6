//! Tests of `tests/support` itself: the key server, the test keys and the token minter.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use support::{JwksMode, KeyServer, Segment, TestKey, now, peek};

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.expect("GET")
}

async fn get_json(url: &str) -> Value {
    let response = get(url).await;
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.expect("JSON body")
}

async fn fetch_jwks(server: &KeyServer) -> JwkSet {
    let response = get(&server.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JWK set")
}

/// What a strict RFC 9068 verifier built on jsonwebtoken would ask for.
fn validation(server: &KeyServer, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[server.issuer()]);
    validation.set_audience(&[RESOURCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    validation
}

/// Verifies `token` against the JWKS the server serves right now, like a resource server would.
async fn verify(server: &KeyServer, token: &str) -> Result<Value, ErrorKind> {
    let jwks = fetch_jwks(server).await;
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.into_kind())?;
    let kid = header.kid.clone().ok_or(ErrorKind::InvalidToken)?;
    let jwk = jwks.find(&kid).ok_or(ErrorKind::InvalidKeyFormat)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.into_kind())?;
    jsonwebtoken::decode::<Value>(token, &key, &validation(server, header.alg))
        .map(|data| data.claims)
        .map_err(|e| e.into_kind())
}

fn is_base64url(segment: &str) -> bool {
    URL_SAFE_NO_PAD.decode(segment).is_ok()
}

#[tokio::test]
async fn metadata_documents() {
    let server = KeyServer::start().await;
    let issuer = server.issuer();
    assert_eq!(issuer, format!("http://127.0.0.1:{}", server.addr().port()));
    assert!(server.addr().ip().is_loopback());

    let oauth = get_json(&format!("{issuer}/.well-known/oauth-authorization-server")).await;
    let openid = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(oauth, openid);
    assert_eq!(oauth, server.metadata());
    assert_eq!(oauth["issuer"], json!(issuer));
    assert_eq!(oauth["jwks_uri"], json!(server.jwks_uri()));
    assert_eq!(oauth["jwks_uri"], json!(format!("{issuer}/jwks")));
    assert_eq!(oauth["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(oauth["response_types_supported"], json!(["code"]));
    assert!(oauth["authorization_endpoint"].as_str().is_some());
    assert!(oauth["token_endpoint"].as_str().is_some());
    assert_eq!(server.metadata_fetches(), 2);
    assert_eq!(server.jwks_fetches(), 0);

    // Only one of the two locations answers.
    server.set_serve_openid_configuration(false);
    assert_eq!(get(&server.openid_configuration_url()).await.status(), 404);
    assert_eq!(get(&server.oauth_metadata_url()).await.status(), 200);
    server.set_serve_openid_configuration(true);
    server.set_serve_oauth_metadata(false);
    assert_eq!(get(&server.oauth_metadata_url()).await.status(), 404);
    assert_eq!(get(&server.openid_configuration_url()).await.status(), 200);
    assert_eq!(server.metadata_fetches(), 6, "404s count as fetches");

    // A metadata document lying about its issuer.
    server.set_issuer_override(Some(format!("{issuer}/")));
    let lying = get_json(&server.openid_configuration_url()).await;
    assert_eq!(lying["issuer"], json!(format!("{issuer}/")));
    assert_eq!(server.issuer(), issuer, "tokens keep the real issuer");
    server.set_issuer_override(None);

    // Failure modes apply to metadata too.
    server.set_metadata_mode(JwksMode::Down);
    assert_eq!(get(&server.openid_configuration_url()).await.status(), 503);
    server.set_metadata_mode(JwksMode::Html);
    let response = get(&server.openid_configuration_url()).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    server.set_metadata_mode(JwksMode::Normal);
    server.set_raw_metadata(Some(json!({ "issuer": issuer })));
    let raw = get_json(&server.openid_configuration_url()).await;
    assert_eq!(raw, json!({ "issuer": issuer }));

    assert_eq!(
        get(&server.url("/.well-known/oauth-protected-resource"))
            .await
            .status(),
        404
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.starts_with("GET /.well-known/"))
    );
    server.reset_counters();
    assert_eq!(server.metadata_fetches(), 0);
    assert!(server.requests().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn path_issuer_metadata() {
    let server = KeyServer::start_with_issuer_path("tenant").await;
    let base = server.base_url();
    let issuer = server.issuer();
    assert_eq!(issuer, format!("{base}/tenant"));
    assert_eq!(
        server.oauth_metadata_url(),
        format!("{base}/.well-known/oauth-authorization-server/tenant")
    );
    assert_eq!(
        server.openid_configuration_url(),
        format!("{base}/.well-known/openid-configuration/tenant")
    );

    let oauth = get_json(&server.oauth_metadata_url()).await;
    let openid = get_json(&server.openid_configuration_url()).await;
    assert_eq!(oauth, openid);
    assert_eq!(oauth["issuer"], json!(issuer));
    assert_eq!(oauth["jwks_uri"], json!(server.jwks_uri()));

    // Not at the root locations, and not path-appended unless asked.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/tenant/.well-known/openid-configuration",
    ] {
        assert_eq!(get(&server.url(path)).await.status(), 404, "{path}");
    }
    server.set_serve_openid_path_appended(true);
    let appended = get_json(&server.url("/tenant/.well-known/openid-configuration")).await;
    assert_eq!(appended["issuer"], json!(issuer));

    assert_eq!(
        server.requests(),
        vec![
            "GET /.well-known/oauth-authorization-server/tenant",
            "GET /.well-known/openid-configuration/tenant",
            "GET /.well-known/oauth-authorization-server",
            "GET /.well-known/openid-configuration",
            "GET /tenant/.well-known/openid-configuration",
            "GET /tenant/.well-known/openid-configuration",
        ]
    );
    // The root locations are not metadata locations for this issuer.
    assert_eq!(server.metadata_fetches(), 4);

    let token = server.token(RESOURCE, "files:read").build();
    assert_eq!(peek(&token).1["iss"], json!(issuer));
    assert!(verify(&server, &token).await.is_ok());
}

#[tokio::test]
async fn jwks_fetch_counting_cache_control_and_rotation() {
    let server = KeyServer::start().await;
    assert_eq!(server.jwks_fetches(), 0);

    let response = get(&server.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "max-age=300");
    assert_eq!(response.headers()["content-type"], "application/json");
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks, json!({ "keys": [TestKey::rsa_a().jwk()] }));
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["kid"], "rsa-a");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["e"], "AQAB");
    assert!(jwk.get("d").is_none(), "public members only");
    assert_eq!(server.jwks_fetches(), 1);

    server.set_cache_max_age(5);
    let response = get(&server.jwks_uri()).await;
    assert_eq!(response.headers()["cache-control"], "max-age=5");
    assert_eq!(server.jwks_fetches(), 2);

    // POST is not a fetch.
    let post = client().post(server.jwks_uri()).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(server.jwks_fetches(), 2);

    // Rotation: a → a+b → b.
    let token_a = server.token(RESOURCE, "files:read").build();
    assert!(verify(&server, &token_a).await.is_ok());
    server.set_keys(vec![TestKey::rsa_a(), TestKey::rsa_b()]);
    let kids: Vec<_> = fetch_jwks(&server)
        .await
        .keys
        .into_iter()
        .map(|k| k.common.key_id.unwrap())
        .collect();
    assert_eq!(kids, ["rsa-a", "rsa-b"]);
    server.set_keys(vec![TestKey::rsa_b()]);
    assert_eq!(server.keys().len(), 1);
    let token_b = server.token(RESOURCE, "files:read").build();
    assert_eq!(peek(&token_b).0["kid"], "rsa-b");
    assert!(verify(&server, &token_b).await.is_ok());
    assert_eq!(
        verify(&server, &token_a).await,
        Err(ErrorKind::InvalidKeyFormat),
        "kid rsa-a is no longer published"
    );

    // Raw JWKS.
    server.set_raw_jwks(Some(
        json!({ "keys": [TestKey::rsa_b().with_use("enc").jwk()] }),
    ));
    let raw = fetch_jwks(&server).await;
    assert_eq!(
        raw.keys[0].common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    );
    server.set_raw_jwks(None);
    assert_eq!(server.jwks_fetches(), 7);
}

#[tokio::test]
async fn jwks_failure_modes() {
    let server = KeyServer::start().await;

    server.set_mode(JwksMode::Down);
    assert_eq!(get(&server.jwks_uri()).await.status(), 503);
    server.set_mode(JwksMode::Normal);
    assert_eq!(get(&server.jwks_uri()).await.status(), 200);

    server.set_mode(JwksMode::Html);
    let response = get(&server.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(serde_json::from_str::<Value>(&text).is_err());

    server.set_mode(JwksMode::Garbage);
    let response = get(&server.jwks_uri()).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_ok());
    assert!(serde_json::from_str::<JwkSet>(&text).is_err());

    server.set_mode(JwksMode::Empty);
    assert!(fetch_jwks(&server).await.keys.is_empty());

    server.set_mode(JwksMode::Oversized);
    let text = get(&server.jwks_uri()).await.text().await.unwrap();
    assert_eq!(text.len(), support::OVERSIZED_BODY_LEN);
    let oversized: JwkSet = serde_json::from_str(&text).unwrap();
    assert_eq!(
        oversized.keys.len(),
        1,
        "still a valid set for a reader without limits"
    );

    let delay = Duration::from_millis(300);
    server.set_mode(JwksMode::Slow(delay));
    let started = Instant::now();
    let slow = fetch_jwks(&server).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(slow.keys.len(), 1);

    server.set_mode(JwksMode::Normal);
    assert_eq!(server.jwks_fetches(), 7);

    // Stopped: nothing listens any more.
    let jwks_uri = server.jwks_uri();
    server.stop().await;
    let error = client().get(&jwks_uri).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn drop_stops_the_server() {
    let server = KeyServer::start().await;
    let jwks_uri = server.jwks_uri();
    assert_eq!(get(&jwks_uri).await.status(), 200);
    drop(server);
    // Let the background task see the shutdown signal.
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if client().get(&jwks_uri).send().await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the server still answers after drop");
}

#[tokio::test]
async fn minted_tokens_verify_against_the_served_jwks() {
    let server = KeyServer::builder()
        .keys(vec![
            TestKey::rsa_a(),
            TestKey::ec_p256(),
            TestKey::ed25519(),
            TestKey::rsa_a()
                .with_kid("rsa-a-ps256")
                .with_alg(Algorithm::PS256),
        ])
        .start()
        .await;
    let before = now();
    for key in server.keys() {
        let token = server
            .token_with_key(&key, RESOURCE, "files:read files:write")
            .build();
        let (header, claims) = peek(&token);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], json!(key.kid()));
        assert_eq!(header["alg"], json!(key.alg_name()));

        let verified = verify(&server, &token)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", key.kid()));
        assert_eq!(verified, claims);
        assert_eq!(claims["iss"], json!(server.issuer()));
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["client_id"], "test-client");
        assert_eq!(claims["scope"], "files:read files:write");
        let iat = claims["iat"].as_u64().unwrap();
        assert!(iat >= before && iat <= now());
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + support::DEFAULT_TTL);
        assert!(claims["jti"].as_str().is_some());

        // jsonwebtoken's own header parsing agrees.
        let parsed = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(parsed.typ.as_deref(), Some("at+jwt"));
        assert_eq!(parsed.alg, key.alg());
    }
    let a = server.token(RESOURCE, "x").build();
    let b = server.token(RESOURCE, "x").build();
    assert_ne!(peek(&a).1["jti"], peek(&b).1["jti"]);
}

#[test]
fn test_keys() {
    let a = TestKey::rsa_a();
    assert_eq!(
        (a.kid(), a.alg(), a.key_use()),
        ("rsa-a", Algorithm::RS256, Some("sig"))
    );
    assert_eq!(a.rsa_bits(), Some(2048));
    assert_eq!(TestKey::rsa_b().rsa_bits(), Some(2048));
    assert_eq!(TestKey::rsa_1024().rsa_bits(), Some(1024));
    assert_ne!(TestKey::rsa_a().jwk()["n"], TestKey::rsa_b().jwk()["n"]);

    let ec = TestKey::ec_p256().jwk();
    assert_eq!(
        (ec["kty"].as_str(), ec["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(ec["alg"], "ES256");
    let ed = TestKey::ed25519().jwk();
    assert_eq!(
        (ed["kty"].as_str(), ed["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(ed["alg"], "EdDSA");

    let renamed = TestKey::rsa_b().with_kid("k2").with_use("enc").jwk();
    assert_eq!(
        (renamed["kid"].as_str(), renamed["use"].as_str()),
        (Some("k2"), Some("enc"))
    );
    assert!(TestKey::rsa_b().without_use().jwk().get("use").is_none());

    // The hand-parsed RSA JWK matches jsonwebtoken's own.
    for key in [TestKey::rsa_a(), TestKey::rsa_b()] {
        let theirs =
            jsonwebtoken::jwk::Jwk::from_encoding_key(key.encoding_key(), key.alg()).unwrap();
        let theirs = serde_json::to_value(theirs).unwrap();
        assert_eq!(theirs["n"], key.jwk()["n"]);
        assert_eq!(theirs["e"], key.jwk()["e"]);
    }
    // ... and the computed public PEM is what OpenSSL wrote.
    assert_eq!(
        TestKey::rsa_a().rsa_public_key_pem().unwrap(),
        include_str!("fixtures/keys/rsa2048_a.pub.pem")
    );
    assert!(TestKey::ec_p256().rsa_public_key_pem().is_none());
}

#[test]
fn hand_rolled_rsa_matches_aws_lc() {
    // PKCS#1 v1.5 is deterministic, so the two must produce the same bytes.
    let key = TestKey::rsa_a();
    for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
        let message = b"header.payload";
        let ours = key.sign_pkcs1_v15_by_hand(alg, message).unwrap();
        let theirs = jsonwebtoken::crypto::sign(message, key.encoding_key(), alg).unwrap();
        assert_eq!(support::b64url(&ours), theirs, "{alg:?}");
        assert!(key.verify_pkcs1_v15_by_hand(alg, message, &ours));
        assert!(!key.verify_pkcs1_v15_by_hand(alg, b"header.other", &ours));
    }
}

#[tokio::test]
async fn rsa_1024_tokens_are_correctly_signed_but_refused_by_aws_lc() {
    let short = TestKey::rsa_1024();
    let server = KeyServer::builder().keys(vec![short.clone()]).start().await;
    let token = server.token(RESOURCE, "files:read").build();
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert_eq!(signature.len(), 128);
    assert!(short.verify_pkcs1_v15_by_hand(Algorithm::RS256, message.as_bytes(), &signature));

    // jsonwebtoken (aws-lc-rs) neither signs with nor accepts keys under 2048 bits.
    assert!(jsonwebtoken::crypto::sign(b"m", short.encoding_key(), Algorithm::RS256).is_err());
    assert!(
        jsonwebtoken::jwk::Jwk::from_encoding_key(short.encoding_key(), Algorithm::RS256).is_err()
    );
    assert_eq!(
        verify(&server, &token).await,
        Err(ErrorKind::InvalidSignature)
    );
}

#[tokio::test]
async fn attack_tokens_have_the_intended_shape() {
    let server = KeyServer::start().await;
    let honest = || server.token(RESOURCE, "files:read");
    let key = TestKey::rsa_a();

    // alg none, in several spellings: unsigned, empty signature segment.
    for (token, alg) in [
        (honest().alg_none(), "none"),
        (honest().unsigned_with_alg("None"), "None"),
        (honest().unsigned_with_alg("NONE"), "NONE"),
    ] {
        assert!(token.ends_with('.'));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(peek(&token).0["alg"], alg);
        assert!(verify(&server, &token).await.is_err());
    }

    // RS256 → HS256 confusion: a real HMAC over the public PEM.
    let confused = honest().hs256_confusion();
    assert_eq!(peek(&confused).0["alg"], "HS256");
    assert_eq!(peek(&confused).0["kid"], "rsa-a");
    let pem = key.rsa_public_key_pem().unwrap();
    let mut hmac = Validation::new(Algorithm::HS256);
    hmac.set_audience(&[RESOURCE]);
    jsonwebtoken::decode::<Value>(
        &confused,
        &DecodingKey::from_secret(pem.as_bytes()).unwrap(),
        &hmac,
    )
    .expect("the confusion token is a valid HS256 token under the public PEM");
    assert_eq!(
        verify(&server, &confused).await,
        Err(ErrorKind::InvalidKeyFormat)
    );

    // Segment counts and base64url.
    let two = honest().two_segments();
    assert_eq!(two.split('.').count(), 2);
    assert!(!two.ends_with('.'));
    let five = honest().five_segments();
    assert_eq!(five.split('.').count(), 5);
    for (segment, index) in [
        (Segment::Header, 0),
        (Segment::Payload, 1),
        (Segment::Signature, 2),
    ] {
        let token = honest().bad_base64(segment);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(is_base64url(part), i != index, "{segment:?} segment {i}");
        }
        assert!(verify(&server, &token).await.is_err());
    }

    // Oversized header: still correctly signed (jsonwebtoken has no size limit).
    let big = honest().oversized_header(64 * 1024);
    let header_len = big.split('.').next().unwrap().len();
    assert!(
        (64 * 1024..64 * 1024 + 8).contains(&header_len),
        "{header_len}"
    );
    assert!(verify(&server, &big).await.is_ok());

    // Right kid, wrong key; flipped signature bits.
    let wrong_key = honest().signed_by(&TestKey::rsa_b()).build();
    assert_eq!(peek(&wrong_key).0["kid"], "rsa-a");
    assert_eq!(
        verify(&server, &wrong_key).await,
        Err(ErrorKind::InvalidSignature)
    );
    let impostor = TestKey::rsa_b().with_kid("rsa-a");
    let impostor_token = server.token_with_key(&impostor, RESOURCE, "x").build();
    assert_eq!(
        verify(&server, &impostor_token).await,
        Err(ErrorKind::InvalidSignature)
    );
    let flipped = honest().flipped_signature();
    assert_eq!(flipped.split('.').count(), 3);
    assert_eq!(
        verify(&server, &flipped).await,
        Err(ErrorKind::InvalidSignature)
    );

    // kid changed / removed.
    let unknown_kid = honest().kid("nope").build();
    assert_eq!(peek(&unknown_kid).0["kid"], "nope");
    assert!(verify(&server, &unknown_kid).await.is_err());
    let no_kid = honest().without_header("kid").build();
    assert!(peek(&no_kid).0.get("kid").is_none());

    // Header injection: jku, x5u, x5c, jwk are carried and (by jsonwebtoken) ignored.
    let injected = honest()
        .jku("http://127.0.0.1:9/evil-jwks")
        .x5u("http://127.0.0.1:9/evil.pem")
        .x5c(vec!["MIIB".to_owned()])
        .embedded_jwk(TestKey::rsa_b().jwk())
        .build();
    let header = peek(&injected).0;
    for field in ["jku", "x5u", "x5c", "jwk"] {
        assert!(header.get(field).is_some(), "{field}");
    }
    assert!(verify(&server, &injected).await.is_ok());

    // Unknown crit: jsonwebtoken's decode refuses it.
    let crit = honest().unknown_crit().build();
    assert_eq!(peek(&crit).0["crit"], json!(["urn:scopegate:test:unknown"]));
    assert_eq!(verify(&server, &crit).await, Err(ErrorKind::InvalidToken));

    // typ: an ID token, or none at all. jsonwebtoken does not look at typ.
    let id_token = honest().typ("JWT").build();
    assert_eq!(peek(&id_token).0["typ"], "JWT");
    assert!(verify(&server, &id_token).await.is_ok());
    let no_typ = honest().without_header("typ").build();
    assert!(peek(&no_typ).0.get("typ").is_none());
    assert!(verify(&server, &no_typ).await.is_ok());
}

#[tokio::test]
async fn claim_overrides() {
    let server = KeyServer::start().await;
    let honest = || server.token(RESOURCE, "files:read");
    let claims = |token: String| peek(&token).1;

    let missing_exp = honest().without_claim("exp").build();
    assert!(claims(missing_exp.clone()).get("exp").is_none());
    assert_eq!(
        verify(&server, &missing_exp).await,
        Err(ErrorKind::MissingRequiredClaim("exp".to_owned()))
    );

    let expired = honest().expired().build();
    assert!(claims(expired.clone())["exp"].as_u64().unwrap() + 3000 < now());
    assert_eq!(
        verify(&server, &expired).await,
        Err(ErrorKind::ExpiredSignature)
    );

    let not_yet = honest().nbf_in_future().build();
    assert!(claims(not_yet.clone())["nbf"].as_u64().unwrap() > now() + 3000);
    assert_eq!(
        verify(&server, &not_yet).await,
        Err(ErrorKind::ImmatureSignature)
    );

    // jsonwebtoken never checks iat: a verifier must do it itself.
    let future_iat = honest().iat_in_future().build();
    let c = claims(future_iat.clone());
    assert!(c["iat"].as_u64().unwrap() > now() + 3000);
    assert!(c["exp"].as_u64().unwrap() > c["iat"].as_u64().unwrap());
    assert!(verify(&server, &future_iat).await.is_ok());

    let wrong_iss = honest().iss("http://127.0.0.1:9").build();
    assert_eq!(
        verify(&server, &wrong_iss).await,
        Err(ErrorKind::InvalidIssuer)
    );

    let no_aud = honest().without_claim("aud").build();
    assert!(claims(no_aud.clone()).get("aud").is_none());
    assert_eq!(
        verify(&server, &no_aud).await,
        Err(ErrorKind::MissingRequiredClaim("aud".to_owned()))
    );
    let other_aud = honest().aud("http://127.0.0.1:9/other").build();
    assert_eq!(
        verify(&server, &other_aud).await,
        Err(ErrorKind::InvalidAudience)
    );
    let slash = honest().aud_trailing_slash().build();
    assert_eq!(claims(slash.clone())["aud"], format!("{RESOURCE}/"));
    assert_eq!(
        verify(&server, &slash).await,
        Err(ErrorKind::InvalidAudience)
    );
    let array = honest()
        .aud_array(&["http://127.0.0.1:9/other", RESOURCE])
        .build();
    assert_eq!(
        claims(array.clone())["aud"],
        json!(["http://127.0.0.1:9/other", RESOURCE])
    );
    assert!(verify(&server, &array).await.is_ok());

    let scp = claims(honest().scp_string("a b").build());
    assert_eq!((scp.get("scope"), &scp["scp"]), (None, &json!("a b")));
    let scp = claims(honest().scp_array(&["a", "b"]).build());
    assert_eq!((scp.get("scope"), &scp["scp"]), (None, &json!(["a", "b"])));

    let custom = claims(
        honest()
            .sub("bob")
            .client_id("other-client")
            .scope("x y")
            .claim("exp", "tomorrow")
            .claim("extra", json!({ "nested": [1, 2] }))
            .build(),
    );
    assert_eq!(custom["sub"], "bob");
    assert_eq!(custom["client_id"], "other-client");
    assert_eq!(custom["scope"], "x y");
    assert_eq!(custom["exp"], "tomorrow");
    assert_eq!(custom["extra"]["nested"], json!([1, 2]));

    let keys: HashSet<String> = claims(honest().build())
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let expected: HashSet<String> = [
        "iss",
        "aud",
        "sub",
        "client_id",
        "scope",
        "iat",
        "exp",
        "jti",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(keys, expected);
}

/// What jsonwebtoken 12 itself does with the attack tokens: pinned, because a verifier built on
/// it has to add every check it does not make (typ, iat, size limits, nbf and aud by default).
#[tokio::test]
async fn jsonwebtoken_12_behaviour() {
    let server = KeyServer::start().await;
    let honest = || server.token(RESOURCE, "files:read");
    let key = TestKey::rsa_a().decoding_key();
    let strict = validation(&server, Algorithm::RS256);
    let decode = |token: &str, validation: &Validation| {
        jsonwebtoken::decode::<Value>(token, &key, validation)
            .map(|_| ())
            .map_err(|e| e.into_kind())
    };
    let is_json_error = |r: Result<(), ErrorKind>| matches!(r, Err(ErrorKind::Json(_)));
    let is_base64_error = |r: Result<(), ErrorKind>| matches!(r, Err(ErrorKind::Base64(_)));

    // `none` is not an Algorithm variant: the header does not even parse.
    assert!(is_json_error(decode(&honest().alg_none(), &strict)));
    assert!(is_json_error(decode(
        &honest().unsigned_with_alg("None"),
        &strict
    )));
    // Segment counts: 2 → InvalidToken; 5 → the "header" is `a.b.c`, a base64 error.
    assert_eq!(
        decode(&honest().two_segments(), &strict),
        Err(ErrorKind::InvalidToken)
    );
    assert!(is_base64_error(decode(&honest().five_segments(), &strict)));
    for segment in [Segment::Header, Segment::Payload, Segment::Signature] {
        assert!(
            is_base64_error(decode(&honest().bad_base64(segment), &strict)),
            "{segment:?}"
        );
    }
    // No kid is fine for jsonwebtoken (key selection is the caller's business).
    assert_eq!(
        decode(&honest().without_header("kid").build(), &strict),
        Ok(())
    );

    // Defaults: leeway 60 s, nbf not checked, only exp required, aud checked only if present.
    let defaults = {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[RESOURCE]);
        v
    };
    assert_eq!(defaults.leeway, 60);
    assert_eq!(decode(&honest().nbf_in_future().build(), &defaults), Ok(()));
    assert_eq!(
        decode(&honest().without_claim("aud").build(), &defaults),
        Ok(())
    );
    assert_eq!(decode(&honest().exp(now() - 30).build(), &defaults), Ok(()));
    assert_eq!(decode(&honest().iat_in_future().build(), &strict), Ok(()));
    assert_eq!(decode(&honest().typ("JWT").build(), &strict), Ok(()));
}
