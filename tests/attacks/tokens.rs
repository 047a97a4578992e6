//! Forged, tampered and misdirected tokens, and clock skew at the leeway boundary.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::capture::capture;
use crate::cases::{
    ALGORITHM, AUDIENCE, AUDIENCE_OR_CLAIMS, CLAIMS, CRITICAL, EXPIRED, EXPIRED_OR_CLAIMS, Expect,
    ISSUER, ISSUER_OR_CLAIMS, MALFORMED, MALFORMED_OR_SIGNATURE, NOT_YET_VALID, SIGNATURE, TYPE,
    UNKNOWN_KEY, assert_no_failures, case, run,
};
use crate::harness::default_harness;
use crate::support::{KeyServer, TestKey, TokenBuilder, b64url, now};
use crate::surgery::{
    claims_json, corrupt_segment, header_json, raw_token, sign_message, with_members,
};

// ---- 1. forged, tampered and misdirected tokens --------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn forged_tampered_and_misdirected_tokens_are_refused_and_audited() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let rsa_a = TestKey::rsa_a();
    let ec = TestKey::ec_p256();
    let ed = TestKey::ed25519();
    let enc_key = TestKey::rsa_b().with_kid("enc-key").with_use("enc");
    let short_key = TestKey::rsa_1024().with_kid("short-key");
    let attacker = TestKey::rsa_b().with_kid("attacker");
    // Published before the first fetch: only rsa-a and ec-p256 are usable.
    h.keys.set_keys(vec![
        rsa_a.clone(),
        ec.clone(),
        enc_key.clone(),
        short_key.clone(),
    ]);
    // An attacker's key server that jku/x5u point at: it must never be contacted.
    let evil = KeyServer::builder()
        .keys(vec![attacker.clone()])
        .start()
        .await;

    let session = h.initialize(&h.token("files:read").build()).await;
    let t = || h.token("files:read");
    let issuer = h.keys.issuer();
    let mut tokens: Vec<(&str, String, &'static [&'static str])> = vec![
        // alg none and algorithm confusion
        ("alg none", t().alg_none(), ALGORITHM),
        ("alg None", t().unsigned_with_alg("None"), ALGORITHM),
        ("alg NONE", t().unsigned_with_alg("NONE"), ALGORITHM),
        ("alg nOnE", t().unsigned_with_alg("nOnE"), ALGORITHM),
        (
            "alg none with a valid RS256 signature kept",
            t().header("alg", "none").build(),
            ALGORITHM,
        ),
        (
            "alg header missing",
            raw_token(
                &rsa_a,
                &header_json(&t().without_header("alg")),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "alg as an array",
            raw_token(
                &rsa_a,
                &header_json(&t().header("alg", ["RS256"])),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "duplicate alg members (none, then RS256)",
            raw_token(
                &rsa_a,
                &with_members(&header_json(&t().header("alg", "none")), r#""alg":"RS256""#),
                &claims_json(&t()),
            ),
            &["malformed", "algorithm"],
        ),
        (
            "HS256 keyed with the public key PEM",
            t().hs256_confusion(),
            ALGORITHM,
        ),
        (
            "HS256 keyed with the public key PEM without its newline",
            t().hs256_with_secret(rsa_a.rsa_public_key_pem().unwrap().trim_end().as_bytes()),
            ALGORITHM,
        ),
        (
            "HS256 with a guessed secret",
            t().hs256_with_secret(b"secret"),
            ALGORITHM,
        ),
        (
            "alg RS256 with the kid of the ES256 key (ES256 signature)",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .header("alg", "RS256")
                .build(),
            ALGORITHM,
        ),
        (
            "our RSA kid and alg RS256, signed by an EC key",
            t().signed_by(&ec).build(),
            SIGNATURE,
        ),
        (
            "alg ES256 with the kid of the RSA key",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .kid("rsa-a")
                .build(),
            ALGORITHM,
        ),
        (
            "alg EdDSA with the kid of the RSA key",
            h.keys
                .token_with_key(&ed, &h.resource, "files:read")
                .kid("rsa-a")
                .build(),
            ALGORITHM,
        ),
        (
            "PS256 signed by the RSA key whose JWK says RS256",
            t().alg(Algorithm::PS256).build(),
            ALGORITHM,
        ),
        (
            "RS512 signed by the RSA key whose JWK says RS256",
            t().alg(Algorithm::RS512).build(),
            ALGORITHM,
        ),
        // keys and kids
        (
            "kid of a key published with use=enc",
            h.keys
                .token_with_key(&enc_key, &h.resource, "files:read")
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "kid of a published RSA-1024 key",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "no kid, signed by an RSA-1024 key",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .without_header("kid")
                .build(),
            SIGNATURE,
        ),
        ("unknown kid", t().kid("nobody").build(), UNKNOWN_KEY),
        (
            "kid injection ../../etc/passwd",
            t().kid("../../etc/passwd").build(),
            UNKNOWN_KEY,
        ),
        (
            "kid injection ' OR 1=1 --",
            t().kid("' OR 1=1 --").build(),
            UNKNOWN_KEY,
        ),
        (
            "kid with a NUL byte after a real kid",
            t().kid("rsa-a\u{0}").build(),
            UNKNOWN_KEY,
        ),
        ("empty kid", t().kid("").build(), UNKNOWN_KEY),
        (
            "kid of a real key in another case",
            t().kid("RSA-A").build(),
            UNKNOWN_KEY,
        ),
        ("kid as a number", t().header("kid", 1).build(), MALFORMED),
        (
            "our kid, signed by another RSA key",
            t().signed_by(&attacker).build(),
            SIGNATURE,
        ),
        (
            "no kid, signed by another RSA key",
            t().without_header("kid").signed_by(&attacker).build(),
            SIGNATURE,
        ),
        ("flipped signature", t().flipped_signature(), SIGNATURE),
        (
            "signature stripped (header.payload.)",
            format!("{}.", t().two_segments()),
            MALFORMED_OR_SIGNATURE,
        ),
        // keys the token brings along
        (
            "jku to the attacker's JWKS, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .jku(evil.jwks_uri())
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "jku to the attacker's JWKS, our kid",
            t().jku(evil.jwks_uri()).signed_by(&attacker).build(),
            SIGNATURE,
        ),
        (
            "x5u to the attacker, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .x5u(evil.url("/cert.pem"))
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "x5c chain, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .x5c(vec!["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".into()])
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "embedded jwk, attacker kid",
            h.keys
                .token_with_key(&attacker, &h.resource, "files:read")
                .embedded_jwk(attacker.jwk())
                .build(),
            UNKNOWN_KEY,
        ),
        (
            "embedded jwk, our kid",
            t().embedded_jwk(
                attacker
                    .jwk()
                    .as_object()
                    .cloned()
                    .map(|mut j| {
                        j.insert("kid".into(), json!("rsa-a"));
                        Value::Object(j)
                    })
                    .unwrap(),
            )
            .signed_by(&attacker)
            .build(),
            SIGNATURE,
        ),
        (
            "embedded jwk, no kid",
            t().without_header("kid")
                .embedded_jwk(attacker.jwk())
                .signed_by(&attacker)
                .build(),
            SIGNATURE,
        ),
        // critical headers and types
        (
            "crit with an unknown extension",
            t().unknown_crit().build(),
            CRITICAL,
        ),
        (
            "crit b64=false (RFC 7797)",
            t().crit(&["b64"]).header("b64", false).build(),
            CRITICAL,
        ),
        ("crit empty", t().crit(&[]).build(), CRITICAL),
        (
            "crit null",
            t().header("crit", serde_json::Value::Null).build(),
            CRITICAL,
        ),
        ("typ JWT", t().typ("JWT").build(), TYPE),
        ("typ missing", t().without_header("typ").build(), TYPE),
        (
            "an ID token (typ JWT, aud = client id, nonce)",
            t().typ("JWT")
                .aud("test-client")
                .claim("nonce", "n-0S6_WzA2Mj")
                .claim("auth_time", now())
                .build(),
            TYPE,
        ),
        ("typ logout+jwt", t().typ("logout+jwt").build(), TYPE),
        (
            "typ application/at+jwt+x",
            t().typ("application/at+jwtx").build(),
            TYPE,
        ),
        ("typ as a number", t().header("typ", 1).build(), MALFORMED),
        // lifetime
        ("expired an hour ago", t().expired().build(), EXPIRED),
        ("exp 0", t().exp(0).build(), EXPIRED),
        ("exp missing", t().without_claim("exp").build(), EXPIRED),
        (
            "exp as a string",
            t().claim("exp", "tomorrow").build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "exp as a numeric string in the future",
            t().claim("exp", (now() + 300).to_string()).build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "exp negative",
            t().claim("exp", -1).build(),
            EXPIRED_OR_CLAIMS,
        ),
        (
            "duplicate exp members (expired, then valid)",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(
                    &claims_json(&t().exp(now() - 3600)),
                    &format!(r#""exp":{}"#, now() + 300),
                ),
            ),
            &["malformed", "expired", "claims"],
        ),
        (
            "nbf an hour ahead",
            t().nbf_in_future().build(),
            NOT_YET_VALID,
        ),
        (
            "nbf as a string (far future)",
            t().claim("nbf", (now() + 3600).to_string()).build(),
            CLAIMS,
        ),
        (
            "iat an hour ahead",
            t().iat_in_future().build(),
            NOT_YET_VALID,
        ),
        (
            "iat as a string",
            t().claim("iat", "yesterday").build(),
            CLAIMS,
        ),
        // issuer
        (
            "wrong issuer",
            t().iss("https://evil.example").build(),
            ISSUER,
        ),
        ("issuer missing", t().without_claim("iss").build(), ISSUER),
        (
            "issuer with a trailing slash",
            t().iss(format!("{issuer}/")).build(),
            ISSUER,
        ),
        (
            "issuer differing only in case",
            t().iss(issuer.to_ascii_uppercase()).build(),
            ISSUER,
        ),
        (
            "issuer with a path added",
            t().iss(format!("{issuer}/tenant")).build(),
            ISSUER,
        ),
        (
            "issuer as an array holding ours and another",
            t().claim("iss", [issuer.as_str(), "https://evil.example"])
                .build(),
            ISSUER_OR_CLAIMS,
        ),
        (
            "issuer as a number",
            t().claim("iss", 1).build(),
            ISSUER_OR_CLAIMS,
        ),
        // audience: token passthrough
        (
            "audience of another resource on this host",
            t().aud(format!("{}/other", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience of another server",
            t().aud("https://api.example.com/mcp").build(),
            AUDIENCE,
        ),
        (
            "audience array without us",
            t().aud_array(&["https://a.example/mcp", "https://b.example/mcp"])
                .build(),
            AUDIENCE,
        ),
        ("audience empty array", t().aud_array(&[]).build(), AUDIENCE),
        (
            "audience missing",
            t().without_claim("aud").build(),
            AUDIENCE,
        ),
        (
            "audience with a trailing slash",
            t().aud_trailing_slash().build(),
            AUDIENCE,
        ),
        (
            "audience = our origin without the path",
            t().aud(&h.base).build(),
            AUDIENCE,
        ),
        (
            "audience = our metadata URL",
            t().aud(h.metadata_url()).build(),
            AUDIENCE,
        ),
        (
            "audience with the path in another case",
            t().aud(format!("{}/MCP", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience extending our path",
            t().aud(format!("{}/mcp-admin", h.base)).build(),
            AUDIENCE,
        ),
        (
            "audience = the authorization server",
            t().aud(&issuer).build(),
            AUDIENCE,
        ),
        (
            "audience as a number",
            t().claim("aud", 1).build(),
            AUDIENCE_OR_CLAIMS,
        ),
        (
            "duplicate aud members (another resource, then us)",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(
                    &claims_json(&t().aud("https://api.example.com/mcp")),
                    &format!(r#""aud":"{}""#, h.resource),
                ),
            ),
            &["malformed", "audience", "claims"],
        ),
        // claim types
        ("sub as a number", t().claim("sub", 42).build(), CLAIMS),
        (
            "client_id as an object",
            t().claim("client_id", json!({"id": "x"})).build(),
            CLAIMS,
        ),
        (
            "scope as an array",
            t().claim("scope", ["files:read"]).build(),
            CLAIMS,
        ),
        (
            "scp array holding a number",
            t().without_claim("scope").claim("scp", json!([1])).build(),
            CLAIMS,
        ),
        // shape and encoding
        ("two segments", t().two_segments(), MALFORMED),
        (
            "four segments",
            format!("{}.{}", t().build(), "e30"),
            MALFORMED,
        ),
        ("five segments", t().five_segments(), MALFORMED),
        ("only dots", "..".to_owned(), MALFORMED),
        (
            "empty header segment",
            {
                let token = t().build();
                let (_, rest) = token.split_once('.').unwrap();
                format!(".{rest}")
            },
            MALFORMED,
        ),
        (
            "empty payload segment, signed",
            sign_message(&rsa_a, &format!("{}.", b64url(&header_json(&t())))),
            MALFORMED,
        ),
        (
            "bad base64url in the header (+)",
            corrupt_segment(&rsa_a, &t().build(), 0, "+"),
            MALFORMED,
        ),
        (
            "bad base64url in the payload (/), re-signed",
            corrupt_segment(&rsa_a, &t().build(), 1, "/"),
            MALFORMED,
        ),
        (
            "bad base64url in the signature (~)",
            corrupt_segment(&rsa_a, &t().build(), 2, "~"),
            MALFORMED_OR_SIGNATURE,
        ),
        (
            "base64 padding after the signature",
            format!("{}==", t().build()),
            MALFORMED_OR_SIGNATURE,
        ),
        (
            "header JSON that is not UTF-8",
            raw_token(
                &rsa_a,
                &with_members(&header_json(&t()), "\"x\":\"\u{0}\"")
                    .into_iter()
                    .map(|b| if b == 0 { 0xff } else { b })
                    .collect::<Vec<u8>>(),
                &claims_json(&t()),
            ),
            MALFORMED,
        ),
        (
            "payload JSON that is not UTF-8, signed",
            raw_token(
                &rsa_a,
                &header_json(&t()),
                &with_members(&claims_json(&t()), "\"x\":\"\u{0}\"")
                    .into_iter()
                    .map(|b| if b == 0 { 0xff } else { b })
                    .collect::<Vec<u8>>(),
            ),
            MALFORMED,
        ),
        (
            "header is a JSON array",
            raw_token(&rsa_a, b"[\"RS256\"]", &claims_json(&t())),
            MALFORMED,
        ),
        (
            "payload is a JSON string, signed",
            raw_token(&rsa_a, &header_json(&t()), b"\"files:read\""),
            MALFORMED,
        ),
        ("20 KiB header", t().oversized_header(20 * 1024), MALFORMED),
        ("64 KiB header", t().oversized_header(64 * 1024), MALFORMED),
        (
            "not a JWT at all",
            "opaque-token-value".to_owned(),
            MALFORMED,
        ),
    ];
    // Same key, another tenant of a multi-tenant authorization server.
    tokens.push((
        "same signing key, issuer of another tenant",
        TokenBuilder::new(
            &rsa_a,
            format!("{issuer}/other-tenant"),
            &h.resource,
            "files:read",
        )
        .build(),
        ISSUER,
    ));

    let mut cases = Vec::new();
    for (name, token, reasons) in tokens {
        // `whoami` is public: only authentication stands between the token and the tool.
        cases.push(case(
            name,
            h.call(&token, &session, "whoami"),
            Expect::InvalidToken(reasons),
        ));
    }
    assert!(cases.len() >= 90, "{} cases", cases.len());
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    let contacted = evil.requests();
    if !contacted.is_empty() {
        failures.push(format!(
            "[jku/x5u] the attacker's server was contacted: {contacted:?}"
        ));
    }
    assert_no_failures("forged tokens", count, &failures);
    assert_eq!(h.runs(), 0);
}

// ---- 5. clock skew at the leeway boundary --------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn clock_skew_is_tolerated_up_to_the_leeway_and_no_further() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let session = h.initialize(&h.token("files:read").build()).await;
    // The default leeway is 60 s. The values leave a second or two of slack for the clock to
    // tick between minting and checking: refusals only get more certain as time passes, and the
    // accepted values stay inside the leeway for two seconds.
    let n = now();
    let t = || h.token("files:read");
    let cases = vec![
        case(
            "exp 58 s ago: inside the leeway",
            h.call(&t().exp(n - 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "exp 61 s ago: beyond the leeway",
            h.call(&t().exp(n - 61).build(), &session, "read_file"),
            Expect::InvalidToken(EXPIRED),
        ),
        case(
            "nbf 58 s ahead: inside the leeway",
            h.call(&t().nbf(n + 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "nbf 62 s ahead: beyond the leeway",
            h.call(&t().nbf(n + 62).build(), &session, "read_file"),
            Expect::InvalidToken(NOT_YET_VALID),
        ),
        case(
            "iat 58 s ahead: inside the leeway",
            h.call(&t().iat(n + 58).build(), &session, "read_file"),
            Expect::Accepted,
        ),
        case(
            "iat 62 s ahead: beyond the leeway",
            h.call(&t().iat(n + 62).build(), &session, "read_file"),
            Expect::InvalidToken(NOT_YET_VALID),
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("clock skew", count, &failures);
}
