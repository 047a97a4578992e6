//! Sessions: hijacking another principal's session, and whose a session is (issuer, subject,
//! client).

use reqwest::StatusCode;
use scopegate::auth::{JwtConfig, JwtVerifier};
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::capture::{AUTH, capture};
use crate::cases::{Audit, Expect, SIGNATURE, assert_no_failures, case, run};
use crate::files::{Files, Runs};
use crate::harness::{Harness, call_body, default_harness};
use crate::support::{KeyServer, TestKey};

// ---- 4. session hijack -------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn sessions_cannot_be_hijacked() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let alice = h.token("files:read").build();
    let session = h.initialize(&alice).await;
    let bob = h.token("files:read").sub("bob").build();
    let no_sub = h
        .token("files:read")
        .without_claim("sub")
        .client_id("alice")
        .build();
    let forged = h.token("files:read").signed_by(&TestKey::rsa_b()).build();
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let cases = vec![
        case(
            "another principal's token on the session",
            h.call(&bob, &session, "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another principal ends the session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&bob)
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another principal opens the session's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&bob)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            // RFC 9068 §2.2 requires `sub`: such a token never reaches the session check.
            "a token without sub whose client_id equals the owner's subject",
            h.call(&no_sub, &session, "read_file"),
            Expect::InvalidToken(&["claims"]),
        ),
        case(
            "the owner's session id in another case",
            h.call(&alice, &session.to_ascii_uppercase(), "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "the owner's session id with a character added",
            h.call(&alice, &format!("{session}A"), "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "a made-up session id",
            h.call(&alice, "made-up-session", "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "the session id without any token",
            h.post(None, Some(&session), &call_body("read_file")),
            Expect::Missing,
        ),
        case(
            "the session id with a token forged under the owner's name",
            h.call(&forged, &session, "read_file"),
            Expect::InvalidToken(SIGNATURE),
        ),
        case(
            "the owner still uses the session",
            h.call(&alice, &session, "read_file"),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("session hijack", count, &failures);
    assert_eq!(h.runs(), 1, "only the owner's call ran a tool");
}

// ---- session owners: issuer, subject and client ----------------------------------------------
//
// A subject is unique only within its issuer: a server trusting two authorization servers must
// not let the second one's `alice` into the first one's sessions. And a caller without a
// subject (an introspection answer or a custom verifier may give none) gets no legacy session
// at all (403), while its 2026-07-28 requests are served.

/// Trusts two authorization servers, as a multi-tenant server does, and vouches for a token
/// with the claim `"subjectless": true` without its subject, as an introspection answer may.
struct TwoIssuers {
    one: JwtVerifier,
    two: JwtVerifier,
}

impl scopegate::auth::TokenVerifier for TwoIssuers {
    fn verify<'a>(&'a self, token: &'a str) -> scopegate::auth::VerifyFuture<'a> {
        Box::pin(async move {
            let principal = match self.one.verify(token).await {
                Ok(principal) => principal,
                Err(_) => self.two.verify(token).await?,
            };
            if principal.claims().get("subjectless") != Some(&Value::Bool(true)) {
                return Ok(principal);
            }
            let mut builder = Principal::builder()
                .scopes(principal.scopes().clone())
                .claims(principal.claims().clone());
            if let Some(issuer) = principal.issuer() {
                builder = builder.issuer(issuer);
            }
            if let Some(client) = principal.client_id() {
                builder = builder.client_id(client);
            }
            Ok(builder.build())
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sessions_belong_to_one_issuers_subject_and_need_a_subject() {
    let (capture, _guard) = capture();
    let (one, two) = (KeyServer::start().await, KeyServer::start().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/mcp");
    let verifier = TwoIssuers {
        one: JwtVerifier::new(JwtConfig::new(one.issuer(), &resource)),
        two: JwtVerifier::new(JwtConfig::new(two.issuer(), &resource)),
    };
    let runs = Runs::default();
    let router = Server::new(Files { runs: runs.clone() })
        .unwrap()
        .http(
            HttpConfig::new(&resource)
                .verifier(verifier)
                .authorization_server(one.issuer())
                .authorization_server(two.issuer()),
        )
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let h = Harness {
        keys: one,
        base,
        resource,
        runs,
        client: reqwest::Client::new(),
        capture: capture.clone(),
    };
    // The same `sub` and `client_id`, each from its own issuer.
    let alice = h.token("files:read").build();
    let other_alice = two.token(&h.resource, "files:read").build();
    let subjectless = h.token("files:read").claim("subjectless", true).build();
    let session = h.initialize(&alice).await;
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let initialize = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let cases = vec![
        case(
            "another issuer's alice calls a tool on alice's session",
            h.call(&other_alice, &session, "read_file"),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another issuer's alice ends alice's session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&other_alice)
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "another issuer's alice opens alice's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&other_alice)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::NOT_FOUND),
        ),
        case(
            "a caller without a subject initializes a session",
            h.post(Some(&subjectless), None, &initialize),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject calls a tool on alice's session",
            h.call(&subjectless, &session, "read_file"),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject calls a tool without a session",
            h.post(Some(&subjectless), None, &call_body("read_file")),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject ends alice's session",
            h.client
                .delete(&h.resource)
                .bearer_auth(&subjectless)
                .header("mcp-session-id", &session),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "a caller without a subject opens alice's GET stream",
            h.client
                .get(&h.resource)
                .bearer_auth(&subjectless)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            refused(StatusCode::FORBIDDEN),
        ),
        case(
            "control: a caller without a subject, 2026-07-28 (no session)",
            h.modern_call(&subjectless, "read_file", "read_file"),
            Expect::Accepted,
        ),
        case(
            "control: alice still uses her session",
            h.call(&alice, &session, "read_file"),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("session owners", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a tool");
    // The refused initialize issued no session id, and said why; and was audited.
    let r = h.send(h.post(Some(&subjectless), None, &initialize)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.session(), None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("subject")),
        "{}",
        r.body
    );
    assert!(
        h.capture
            .since(0)
            .iter()
            .any(|e| e.is(AUTH, "session_rejected") && e.field("reason") == Some("no_subject"))
    );
}
