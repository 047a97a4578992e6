//! Bad tokens and malformed credentials refused, and the token variants accepted.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Harness, files, param};
use crate::support::{self, Segment, TestKey};

/// A refused request: the status and the challenge's `error` code.
async fn assert_refused(
    h: &Harness,
    request: reqwest::RequestBuilder,
    status: StatusCode,
    error: &str,
    case: &str,
) {
    let r = h.send(request).await;
    assert_eq!(r.status, status, "{case}: {:?}", r.body);
    assert_eq!(
        param(r.challenge(), "error"),
        Some(error),
        "{case}: {}",
        r.challenge()
    );
    assert_eq!(
        param(r.challenge(), "resource_metadata"),
        Some(h.metadata_url().as_str()),
        "{case}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_invalid_token() {
    let h = files().await;
    let other_resource = format!("{}/other", h.base);
    let hs_secret_token = h
        .token("files:read")
        .hs256_with_secret(b"a-shared-secret-nobody-should-accept");
    let enc_key = TestKey::rsa_b().with_kid("enc-key").with_use("enc");
    let short_key = TestKey::rsa_1024().with_kid("short-key");
    h.keys
        .set_keys(vec![TestKey::rsa_a(), enc_key.clone(), short_key.clone()]);
    let attacker = TestKey::ec_p256().with_kid("attacker");
    let cases: Vec<(&str, String)> = vec![
        ("alg none", h.token("files:read").alg_none()),
        ("alg None", h.token("files:read").unsigned_with_alg("None")),
        ("alg nOnE", h.token("files:read").unsigned_with_alg("nOnE")),
        (
            "RS/HS confusion with the public key",
            h.token("files:read").hs256_confusion(),
        ),
        ("HS256 with a guessed secret", hs_secret_token),
        (
            "flipped signature",
            h.token("files:read").flipped_signature(),
        ),
        (
            "signed by another key under our kid",
            h.token("files:read").signed_by(&TestKey::rsa_b()).build(),
        ),
        ("unknown kid", h.token("files:read").kid("nobody").build()),
        (
            "jku pointing elsewhere",
            h.token("files:read")
                .jku("http://127.0.0.1:9/jwks")
                .signed_by(&attacker)
                .build(),
        ),
        (
            "x5u pointing elsewhere",
            h.token("files:read")
                .x5u("http://127.0.0.1:9/cert")
                .signed_by(&attacker)
                .build(),
        ),
        (
            "embedded jwk",
            h.token("files:read")
                .embedded_jwk(attacker.jwk())
                .signed_by(&attacker)
                .build(),
        ),
        (
            "x5c chain",
            h.token("files:read")
                .x5c(vec!["MIIB".into()])
                .signed_by(&attacker)
                .build(),
        ),
        ("unknown crit", h.token("files:read").unknown_crit().build()),
        (
            "typ JWT (an ID token)",
            h.token("files:read").typ("JWT").build(),
        ),
        (
            "typ missing",
            h.token("files:read").without_header("typ").build(),
        ),
        ("expired", h.token("files:read").expired().build()),
        (
            "exp missing",
            h.token("files:read").without_claim("exp").build(),
        ),
        (
            "exp not a number",
            h.token("files:read").claim("exp", "tomorrow").build(),
        ),
        (
            "bound to a DPoP key (cnf), sent as a bearer token",
            h.token("files:read")
                .claim(
                    "cnf",
                    json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
                )
                .build(),
        ),
        (
            "nbf in the future",
            h.token("files:read").nbf_in_future().build(),
        ),
        (
            "iat in the future",
            h.token("files:read").iat_in_future().build(),
        ),
        (
            "wrong issuer",
            h.token("files:read").iss("http://127.0.0.1:9").build(),
        ),
        (
            "issuer missing",
            h.token("files:read").without_claim("iss").build(),
        ),
        (
            "issuer with trailing slash",
            h.token("files:read")
                .iss(format!("{}/", h.keys.issuer()))
                .build(),
        ),
        (
            "audience missing",
            h.token("files:read").without_claim("aud").build(),
        ),
        (
            "audience of another resource (passthrough)",
            h.token("files:read").aud(&other_resource).build(),
        ),
        (
            "audience with a trailing slash",
            h.token("files:read").aud_trailing_slash().build(),
        ),
        (
            "audience array without us",
            h.token("files:read")
                .aud_array(&["http://a", "http://b"])
                .build(),
        ),
        (
            "scope claim of the wrong type",
            h.token("files:read")
                .claim("scope", json!(["files:read"]))
                .build(),
        ),
        ("two segments", h.token("files:read").two_segments()),
        ("five segments", h.token("files:read").five_segments()),
        (
            "bad base64 header",
            h.token("files:read").bad_base64(Segment::Header),
        ),
        (
            "bad base64 payload",
            h.token("files:read").bad_base64(Segment::Payload),
        ),
        (
            "bad base64 signature",
            h.token("files:read").bad_base64(Segment::Signature),
        ),
        (
            "oversized header",
            h.token("files:read").oversized_header(64 * 1024),
        ),
        (
            "key marked use=enc",
            h.keys
                .token_with_key(&enc_key, &h.resource, "files:read")
                .build(),
        ),
        (
            "RSA key under 2048 bits",
            h.keys
                .token_with_key(&short_key, &h.resource, "files:read")
                .build(),
        ),
        ("not a JWT at all", "opaque-token-value".into()),
    ];
    assert!(cases.len() >= 30);
    for (case, token) in &cases {
        if token.len() > 8 * 1024 {
            // Large headers may be cut off by the HTTP server before reaching us; either way,
            // no principal comes out of it.
            let r = h
                .send(h.post(
                    Some(token),
                    None,
                    &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
                ))
                .await;
            assert!(r.status.is_client_error(), "{case}: {}", r.status);
            continue;
        }
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}});
        // Characters outside RFC 6750's b64token make the request itself malformed (400);
        // everything else is a token that failed verification (401).
        let token68 = token
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        let (status, error) = if token68 {
            (StatusCode::UNAUTHORIZED, "invalid_token")
        } else {
            (StatusCode::BAD_REQUEST, "invalid_request")
        };
        assert_refused(&h, h.post(Some(token), None, &body), status, error, case).await;
    }
    assert_eq!(h.runs(), 0, "no tool ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_credentials_are_refused_with_invalid_request() {
    let h = files().await;
    let token = h.token("files:read").build();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let plain = || {
        h.client
            .post(&h.resource)
            .header("content-type", "application/json")
            .body(ping.to_string())
    };
    let cases = vec![
        (
            "no space after the scheme",
            plain().header("authorization", format!("Bearer{token}")),
        ),
        (
            "junk after the token",
            plain().header("authorization", format!("bearer {token} x")),
        ),
        (
            "tab separator",
            plain().header("authorization", format!("Bearer\t{token}")),
        ),
        (
            "comma-joined credentials",
            plain().header("authorization", format!("Bearer {token}, Bearer {token}")),
        ),
        ("no token", plain().header("authorization", "Bearer")),
        (
            "basic scheme",
            plain().header("authorization", "Basic YWxpY2U6c2VjcmV0"),
        ),
        (
            "two Authorization headers",
            plain()
                .header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {token}")),
        ),
        (
            "token in the query string",
            h.client
                .post(format!("{}?access_token={token}", h.resource))
                .header("content-type", "application/json")
                .body(ping.to_string()),
        ),
        (
            "token in the query and the header",
            h.client
                .post(format!("{}?access_token={token}", h.resource))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(ping.to_string()),
        ),
    ];
    for (case, request) in cases {
        assert_refused(
            &h,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            case,
        )
        .await;
    }
    assert_eq!(h.runs(), 0);
}

/// RFC 9110 §11.1 (the scheme is case-insensitive) and RFC 6750 §2.1 (`Bearer 1*SP b64token`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_in_any_case_with_any_number_of_spaces() {
    let h = files().await;
    for spelling in ["bearer ", "BEARER ", "BeArEr ", "Bearer  ", "bearer    "] {
        let token = h.token("files:read").build();
        // Twice: the first request verifies the token, the second may take the fast path of a
        // token accepted before.
        for round in 0..2 {
            let response = h
                .send(
                    h.client
                        .post(&h.resource)
                        .header("authorization", format!("{spelling}{token}"))
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}).to_string()),
                )
                .await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{spelling:?} round {round}: {:?}",
                response.body
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_token_variants() {
    let h = files().await;
    let ec = TestKey::ec_p256().with_kid("ec");
    let ed = TestKey::ed25519().with_kid("ed");
    h.keys
        .set_keys(vec![TestKey::rsa_a(), ec.clone(), ed.clone()]);
    let cases: Vec<(&str, String)> = vec![
        (
            "scp as a string",
            h.token("")
                .without_claim("scope")
                .scp_string("files:read")
                .build(),
        ),
        (
            "scp as an array",
            h.token("")
                .without_claim("scope")
                .scp_array(&["files:read"])
                .build(),
        ),
        (
            "typ application/at+jwt",
            h.token("files:read").typ("application/at+jwt").build(),
        ),
        (
            "audience array with us",
            h.token("files:read")
                .aud_array(&["http://a", &h.resource])
                .build(),
        ),
        (
            "ES256",
            h.keys
                .token_with_key(&ec, &h.resource, "files:read")
                .build(),
        ),
        (
            "EdDSA",
            h.keys
                .token_with_key(&ed, &h.resource, "files:read")
                .build(),
        ),
        (
            "expired within the leeway",
            h.token("files:read").exp(support::now() - 30).build(),
        ),
    ];
    for (case, token) in cases {
        let session = h.initialize(&token).await;
        let r = h
            .call(&token, &session, "read_file", json!({"path": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{case}: {:?}", r.body);
    }
}
