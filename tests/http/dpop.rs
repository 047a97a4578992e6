//! DPoP (RFC 9449) on the MCP endpoint: a bound token with a proof of its key gets in; every
//! broken proof, a replayed one, a bound token sent as a bearer token and an unbound one sent
//! as DPoP get nothing; challenges in the scheme the client used; nonces; the replay store
//! shared by replicas and failing closed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::{DpopConfig, DpopNonces, JwtConfig};
use scopegate::http::{HttpConfig, ServeOptions, serve_with};
use scopegate::prelude::*;
use scopegate::server::{MemoryReplayStore, ReplayStore, ServerOptions, StoreError, StoreFuture};
use scopegate::{KeyBinding, ScopeSet};
use serde_json::{Value, json};

use crate::files::{Files, Runs};
use crate::harness::{Harness, Reply, files_with, param};
use crate::support::{KeyServer, TestKey, TokenBuilder, dpop_jwk, dpop_proof, jkt, now};

fn read_call() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"a"}}})
}

fn client_key() -> TestKey {
    TestKey::ec_p256()
}

impl Harness {
    /// A token for `scope` bound to `key` (`cnf.jkt`).
    fn bound_token(&self, scope: &str, key: &TestKey) -> TokenBuilder {
        self.token(scope).claim("cnf", json!({ "jkt": jkt(key) }))
    }

    /// A proof by `key` for a POST of `token` to the MCP endpoint.
    fn proof(&self, key: &TestKey, token: &str) -> TokenBuilder {
        dpop_proof(key, "POST", &self.resource, Some(token))
    }

    /// A stateless `tools/call` of `read_file` (no session) in the DPoP scheme with `proofs`.
    async fn dpop_call(&self, token: &str, proofs: &[String]) -> Reply {
        self.send(dpop_post(
            &self.client,
            &self.resource,
            token,
            proofs,
            &read_call(),
        ))
        .await
    }

    /// The Protected Resource Metadata.
    async fn metadata(&self) -> Value {
        let response = self.client.get(self.metadata_url()).send().await.unwrap();
        response.json().await.unwrap()
    }
}

/// A POST of `body` to `url` in the DPoP scheme: `token` with `proofs`.
fn dpop_post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    proofs: &[String],
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("DPoP {token}"))
        .body(body.to_string());
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    request
}

async fn dpop_server(config: DpopConfig) -> Harness {
    files_with(move |c, _, _| c.stateless(true).dpop(config)).await
}

#[tokio::test]
async fn a_bound_token_with_a_proof_of_its_key_gets_in() {
    let h = dpop_server(DpopConfig::new()).await;
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    for round in 0..2 {
        // A fresh proof (its own jti) for every request.
        let proof = h.proof(&key, &token).build();
        let r = h.dpop_call(&token, &[proof]).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {:?}", r.body);
        assert_eq!(
            r.body["result"]["content"][0]["text"], "contents of a",
            "{:?}",
            r.body
        );
    }
    assert_eq!(h.runs(), 2);
    // Without nonces configured, no nonce is handed out.
    let proof = h.proof(&key, &token).build();
    let r = h.dpop_call(&token, &[proof]).await;
    assert!(r.headers.get("dpop-nonce").is_none());
}

/// Each broken proof, and what it breaks: every one is a 401 `invalid_dpop_proof` in the DPoP
/// scheme, and the tool never runs.
#[tokio::test]
async fn every_broken_proof_is_refused_and_runs_nothing() {
    let h = dpop_server(DpopConfig::new()).await;
    let key = client_key();
    let other = TestKey::ed25519();
    let token = h.bound_token("files:read", &key).build();
    let other_token = h.bound_token("files:read", &key).build();
    let port_other = h.resource.replace("127.0.0.1:", "127.0.0.1:1");
    let mut private = dpop_jwk(&key);
    private["d"] = json!("AAAA");
    let proof = || h.proof(&key, &token);
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no proof", vec![]),
        ("two proofs", vec![proof().build(), proof().build()]),
        ("wrong htm", vec![proof().claim("htm", "GET").build()]),
        (
            "htm in lower case",
            vec![proof().claim("htm", "post").build()],
        ),
        (
            "wrong htu path",
            vec![proof().claim("htu", format!("{}/other", h.base)).build()],
        ),
        (
            "wrong htu port",
            vec![proof().claim("htu", port_other).build()],
        ),
        (
            "wrong htu scheme",
            vec![
                proof()
                    .claim("htu", h.resource.replace("http://", "https://"))
                    .build(),
            ],
        ),
        // A minute beyond the 5-minute window either way: the cases are built before any is
        // sent, and a slow machine may take seconds to send them all.
        ("stale iat", vec![proof().claim("iat", now() - 360).build()]),
        (
            "future iat",
            vec![proof().claim("iat", now() + 360).build()],
        ),
        (
            "iat not a number",
            vec![proof().claim("iat", "now").build()],
        ),
        (
            "ath of another token",
            vec![dpop_proof(&key, "POST", &h.resource, Some(&other_token)).build()],
        ),
        ("no ath", vec![proof().without_claim("ath").build()]),
        ("no jti", vec![proof().without_claim("jti").build()]),
        (
            "proof by another key",
            vec![dpop_proof(&other, "POST", &h.resource, Some(&token)).build()],
        ),
        (
            "header key is not the signing key",
            vec![proof().header("jwk", dpop_jwk(&other)).build()],
        ),
        ("alg none", vec![proof().alg_none()]),
        ("alg HS256", vec![proof().hs256_with_secret(b"secret")]),
        (
            "private key in the header",
            vec![proof().header("jwk", private).build()],
        ),
        ("no jwk", vec![proof().without_header("jwk").build()]),
        ("typ jwt", vec![proof().header("typ", "jwt").build()]),
        ("no typ", vec![proof().without_header("typ").build()]),
        ("critical header", vec![proof().crit(&["x"]).build()]),
        ("flipped signature", vec![proof().flipped_signature()]),
        ("not a JWT", vec!["not-a-jwt".to_owned()]),
    ];
    for (case, proofs) in cases {
        let r = h.dpop_call(&token, &proofs).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}: {:?}", r.body);
        let challenge = r.challenge();
        assert!(challenge.starts_with("DPoP "), "{case}: {challenge}");
        assert_eq!(
            param(challenge, "error"),
            Some("invalid_dpop_proof"),
            "{case}: {challenge}"
        );
        assert!(
            param(challenge, "algs").is_some_and(|algs| algs.contains("ES256")),
            "{case}: {challenge}"
        );
    }
    assert_eq!(h.runs(), 0);
}

#[tokio::test]
async fn a_proof_is_good_once() {
    let h = dpop_server(DpopConfig::new()).await;
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let proof = h.proof(&key, &token).build();
    let first = h.dpop_call(&token, std::slice::from_ref(&proof)).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let replay = h.dpop_call(&token, &[proof]).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        param(replay.challenge(), "error"),
        Some("invalid_dpop_proof")
    );
    assert!(
        param(replay.challenge(), "error_description").is_some_and(|d| d.contains("jti")),
        "{}",
        replay.challenge()
    );
    assert_eq!(h.runs(), 1);
}

#[tokio::test]
async fn a_refused_request_does_not_spend_its_proof() {
    let keys = KeyServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (store, runs) = (Counting::default(), Runs::default());
    replica(&keys, &resource, listener, store.clone(), runs.clone()).await;
    let key = client_key();
    let bound = |token: TokenBuilder| token.claim("cnf", json!({ "jkt": jkt(&key) })).build();
    let client = reqwest::Client::new();
    let send = |token: String| {
        let proof = dpop_proof(&key, "POST", &resource, Some(&token)).build();
        dpop_post(&client, &resource, &token, &[proof], &read_call()).send()
    };
    let refused = send(bound(keys.token(&resource, "files:read").expired()))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // The token's fault is told as such, in the DPoP scheme.
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert_eq!(param(challenge, "error"), Some("invalid_token"));
    assert_eq!(store.spent(), 0, "a refused request spends no proof");
    // A request that passes everything spends its proof.
    let accepted = send(bound(keys.token(&resource, "files:read")))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(store.spent(), 1);
    assert_eq!(runs.count(), 1);
}

#[tokio::test]
async fn bound_and_unbound_tokens_are_used_in_their_own_scheme_only() {
    let h = dpop_server(DpopConfig::new()).await;
    let key = client_key();
    // A bound token sent as a bearer token: a stolen token cannot be downgraded.
    let bound = h.bound_token("files:read", &key).build();
    let r = h.rpc(Some(&bound), None, read_call()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert!(r.challenge().starts_with("Bearer "), "{}", r.challenge());
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
    // Remembered after a DPoP request, still no bearer token.
    let proof = h.proof(&key, &bound).build();
    assert_eq!(h.dpop_call(&bound, &[proof]).await.status, StatusCode::OK);
    let r = h.rpc(Some(&bound), None, read_call()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    // An unbound token in the DPoP scheme, with a good proof: the proof proves nothing of it.
    let unbound = h.token("files:read").build();
    let proof = h.proof(&key, &unbound).build();
    let r = h.dpop_call(&unbound, &[proof]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
    // A token bound by another method (mutual TLS) is no DPoP token either.
    let mtls = h
        .token("files:read")
        .claim("cnf", json!({"x5t#S256": "abc"}))
        .build();
    let proof = h.proof(&key, &mtls).build();
    assert_eq!(
        h.dpop_call(&mtls, &[proof]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Unbound bearer tokens still work beside DPoP.
    assert_eq!(
        h.rpc(Some(&unbound), None, read_call()).await.status,
        StatusCode::OK
    );
    assert_eq!(h.runs(), 2);
}

#[tokio::test]
async fn without_dpop_configured_a_dpop_request_is_refused_in_the_bearer_scheme() {
    let h = files_with(|c, _, _| c.stateless(true)).await;
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let proof = h.proof(&key, &token).build();
    let r = h.dpop_call(&token, &[proof]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.challenge().starts_with("Bearer "), "{}", r.challenge());
    // Nothing offers DPoP.
    assert!(!r.challenge().contains("algs="), "{}", r.challenge());
    let metadata = h.metadata().await;
    assert!(metadata.get("dpop_signing_alg_values_supported").is_none());
    assert_eq!(h.runs(), 0);
}

#[tokio::test]
async fn a_step_up_is_challenged_in_the_dpop_scheme() {
    let h = dpop_server(DpopConfig::new()).await;
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let proof = h.proof(&key, &token).build();
    let write = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a"}}});
    let r = h
        .send(dpop_post(&h.client, &h.resource, &token, &[proof], &write))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let challenge = r.challenge();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert_eq!(param(challenge, "error"), Some("insufficient_scope"));
    assert_eq!(param(challenge, "scope"), Some("files:read files:write"));
    assert!(param(challenge, "algs").is_some(), "{challenge}");
    assert_eq!(
        param(challenge, "resource_metadata"),
        Some(h.metadata_url().as_str())
    );
    assert_eq!(h.runs(), 0);
}

#[tokio::test]
async fn metadata_and_challenges_offer_dpop() {
    let h = dpop_server(DpopConfig::new()).await;
    let metadata = h.metadata().await;
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
    );
    assert!(metadata.get("dpop_bound_access_tokens_required").is_none());
    // No credentials: the bearer challenge first (clients read it), DPoP offered beside it.
    let r = h.rpc(None, None, read_call()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenge = r.challenge();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#", DPoP algs="ES256 ES384 EdDSA PS256 RS256""#),
        "{challenge}"
    );
    // A browser client may send the proof and read the nonce.
    let preflight = h
        .client
        .request(reqwest::Method::OPTIONS, &h.resource)
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, dpop, content-type",
        )
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(allowed.contains("dpop"), "{allowed}");
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let proof = h.proof(&key, &token).build();
    let request = dpop_post(&h.client, &h.resource, &token, &[proof], &read_call())
        .header("origin", "http://localhost:3000");
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let exposed = r
        .headers
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
}

#[tokio::test]
async fn a_deployment_can_require_dpop() {
    let h = dpop_server(DpopConfig::new().required(true)).await;
    let metadata = h.metadata().await;
    assert_eq!(metadata["dpop_bound_access_tokens_required"], json!(true));
    let r = h.rpc(None, None, read_call()).await;
    assert!(r.challenge().starts_with("DPoP "), "{}", r.challenge());
    assert!(!r.challenge().contains("Bearer"), "{}", r.challenge());
    assert_eq!(
        param(r.challenge(), "resource_metadata"),
        Some(h.metadata_url().as_str())
    );
    let bearer = h.token("files:read").build();
    let r = h.rpc(Some(&bearer), None, read_call()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.challenge().starts_with("DPoP "), "{}", r.challenge());
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let proof = h.proof(&key, &token).build();
    assert_eq!(h.dpop_call(&token, &[proof]).await.status, StatusCode::OK);
    assert_eq!(h.runs(), 1);
}

#[tokio::test]
async fn a_proof_without_the_servers_nonce_is_asked_for_one() {
    let nonces = DpopNonces::new(b"a secret of thirty-two bytes....");
    let h = dpop_server(DpopConfig::new().nonces(nonces.clone())).await;
    let key = client_key();
    let token = h.bound_token("files:read", &key).build();
    let r = h.dpop_call(&token, &[h.proof(&key, &token).build()]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(param(r.challenge(), "error"), Some("use_dpop_nonce"));
    let nonce = r
        .headers
        .get("dpop-nonce")
        .expect("a use_dpop_nonce answer carries a nonce")
        .to_str()
        .unwrap()
        .to_owned();
    // A forged nonce is no better than none.
    let forged = DpopNonces::new(b"another secret of 32 bytes......").current(now());
    let r = h
        .dpop_call(
            &token,
            &[h.proof(&key, &token).claim("nonce", forged).build()],
        )
        .await;
    assert_eq!(param(r.challenge(), "error"), Some("use_dpop_nonce"));
    let r = h
        .dpop_call(
            &token,
            &[h.proof(&key, &token).claim("nonce", &nonce).build()],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Every answer to a DPoP request hands out the current nonce.
    assert!(r.headers.get("dpop-nonce").is_some());
    assert_eq!(h.runs(), 1);
}

/// A replay store replicas share: one process's memory behind an `Arc`.
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<MemoryReplayStore>);

impl ReplayStore for SharedStore {
    fn first_use<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        self.0.first_use(id, ttl)
    }
}

/// A shared replay store that counts the proofs it was asked to spend.
#[derive(Debug, Clone, Default)]
struct Counting {
    store: SharedStore,
    spent: Arc<std::sync::atomic::AtomicUsize>,
}

impl Counting {
    fn spent(&self) -> usize {
        self.spent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ReplayStore for Counting {
    fn first_use<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        self.spent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.store.first_use(id, ttl)
    }
}

/// A replay store that cannot be reached.
#[derive(Debug)]
struct DownStore;

impl ReplayStore for DownStore {
    fn first_use<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, bool> {
        Box::pin(std::future::ready(Err(StoreError::new(
            "connection refused",
        ))))
    }
}

/// A replica of the files server (stateless, DPoP) sharing `keys` and spending proofs in
/// `store`; its MCP endpoint's URL.
async fn replica(
    keys: &KeyServer,
    resource: &str,
    listener: tokio::net::TcpListener,
    store: impl ReplayStore,
    runs: Runs,
) {
    let options = ServerOptions::default().replay_store(store);
    let config = HttpConfig::new(resource)
        .rate_per_address(None)
        .stateless(true)
        .jwt(JwtConfig::new(keys.issuer(), resource))
        .dpop(DpopConfig::new());
    let router = Server::with_options(Files { runs }, options)
        .unwrap()
        .http(config)
        .unwrap();
    tokio::spawn(async move {
        serve_with(listener, router, ServeOptions::default())
            .await
            .unwrap();
    });
}

#[tokio::test]
async fn replicas_sharing_a_store_refuse_each_others_proofs_and_a_store_down_refuses_all() {
    let keys = KeyServer::start().await;
    let store = SharedStore::default();
    // Both replicas answer for one public URI, as behind a load balancer.
    let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", first.local_addr().unwrap());
    let second = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_url = format!("http://{}/mcp", second.local_addr().unwrap());
    let runs = Runs::default();
    replica(&keys, &resource, first, store.clone(), runs.clone()).await;
    replica(&keys, &resource, second, store, runs.clone()).await;
    let key = client_key();
    let token = keys
        .token(&resource, "files:read")
        .claim("cnf", json!({ "jkt": jkt(&key) }))
        .build();
    let proof = dpop_proof(&key, "POST", &resource, Some(&token)).build();
    let client = reqwest::Client::new();
    let send = |url: &str| {
        dpop_post(
            &client,
            url,
            &token,
            std::slice::from_ref(&proof),
            &read_call(),
        )
        .send()
    };
    assert_eq!(send(&resource).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        send(&second_url).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(runs.count(), 1);

    // A replica whose store is down refuses DPoP requests, and says when to come back.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/mcp", down.local_addr().unwrap());
    replica(&keys, &resource, down, DownStore, runs.clone()).await;
    let fresh = dpop_proof(&key, "POST", &resource, Some(&token)).build();
    let response = dpop_post(&client, &down_url, &token, &[fresh], &read_call())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(runs.count(), 1);
}

/// A verifier of the user's that believes any token and says it is bound to a DPoP key, but
/// implements no `verify_dpop`.
struct BelievesBound;

impl scopegate::auth::TokenVerifier for BelievesBound {
    fn verify<'a>(&'a self, _: &'a str) -> scopegate::auth::VerifyFuture<'a> {
        let principal = Principal::builder()
            .subject("mallory")
            .scopes(ScopeSet::from_space_separated("files:read"))
            .key_binding(KeyBinding::Dpop("abc".into()))
            .build();
        Box::pin(std::future::ready(Ok(principal)))
    }
}

#[tokio::test]
async fn a_custom_verifiers_bound_principal_is_no_bearer_and_dpop_needs_its_consent() {
    let h = files_with(|c, _, _| {
        c.stateless(true)
            .verifier(BelievesBound)
            .dpop(DpopConfig::new())
    })
    .await;
    let r = h.rpc(Some("anything"), None, read_call()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(param(r.challenge(), "error"), Some("invalid_token"));
    // Its `verify_dpop` is the default, which accepts nothing.
    let key = client_key();
    let proof = dpop_proof(&key, "POST", &h.resource, Some("anything")).build();
    let r = h.dpop_call("anything", &[proof]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(h.runs(), 0);
}
