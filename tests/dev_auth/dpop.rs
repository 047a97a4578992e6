//! DPoP at the development server (RFC 9449 §5): a token request with a proof gets a token bound
//! to its key, which the MCP server takes with a proof of that key and refuses as a bearer
//! token; a public client's refresh tokens stay bound to the key; a client registered with
//! `dpop_bound_access_tokens` must prove a key every time.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{TestKey, dpop_proof, jkt};
use super::{DevAuthConfig, Env, REDIRECT, claims, pkce, start_dpop};

impl Env {
    /// A proof by `key` for a token request.
    fn token_proof(&self, key: &TestKey) -> String {
        dpop_proof(key, "POST", &format!("{}/token", self.issuer), None).build()
    }

    /// A token request with `proof` as its `DPoP` header (none when `None`).
    async fn token_request(
        &self,
        form: &[(&str, &str)],
        proof: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}/token", self.issuer)).form(form);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        let r = request.send().await.unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// A token request with a proof by `key` (none when `key` is `None`).
    async fn token_with_proof(
        &self,
        form: &[(&str, &str)],
        key: Option<&TestKey>,
    ) -> (StatusCode, Value) {
        let proof = key.map(|key| self.token_proof(key));
        self.token_request(form, proof.as_deref()).await
    }

    /// A fresh code for `client`, redeemed with `proof` as the `DPoP` header.
    async fn redeem(&self, client: &str, proof: Option<&str>) -> (StatusCode, Value) {
        let (verifier, challenge) = pkce();
        let query = self.code(client, &challenge, "docs:read").await;
        self.token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", &query["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", client),
                ("code_verifier", &verifier),
                ("resource", &self.resource),
            ],
            proof,
        )
        .await
    }

    /// A code for `client`, redeemed with a proof by `key`.
    async fn dpop_tokens(&self, client: &str, key: Option<&TestKey>) -> (StatusCode, Value) {
        let proof = key.map(|key| self.token_proof(key));
        self.redeem(client, proof.as_deref()).await
    }

    /// Calls `read_doc` statelessly with `token` in the DPoP scheme, with a proof by `key`.
    async fn dpop_call(&self, token: &str, key: &TestKey) -> StatusCode {
        let proof = dpop_proof(key, "POST", &self.resource, Some(token)).build();
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_doc","arguments":{}}});
        self.http
            .post(&self.resource)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&call)
            .send()
            .await
            .unwrap()
            .status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_request_with_a_proof_gets_a_token_bound_to_its_key() {
    let env = start_dpop(DevAuthConfig::default().auto_approve(true)).await;
    let metadata: Value = env
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/dev-auth",
            env.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|algs| algs.contains(&json!("ES256"))),
        "{metadata}"
    );
    let key = TestKey::ec_p256();
    let client = env.public_client().await;
    let (status, tokens) = env.dpop_tokens(&client, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    let (_, body) = claims(access);
    assert_eq!(body["cnf"], json!({ "jkt": jkt(&key) }));
    // The resource takes it with a proof of that key, and from no one else.
    assert_eq!(env.dpop_call(access, &key).await, StatusCode::OK);
    assert_eq!(
        env.dpop_call(access, &TestKey::ed25519()).await,
        StatusCode::UNAUTHORIZED
    );
    let r = env
        .http
        .post(&env.resource)
        .bearer_auth(access)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_doc","arguments":{}}}))
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a bound token is no bearer token"
    );
    // Without a proof, the same client gets a bearer token, as before.
    let (status, tokens) = env.dpop_tokens(&client, None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        claims(tokens["access_token"].as_str().unwrap())
            .1
            .get("cnf")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_or_replayed_token_request_proofs_are_refused() {
    let env = start_dpop(DevAuthConfig::default().auto_approve(true)).await;
    let key = TestKey::ec_p256();
    let client = env.public_client().await;
    let token_url = format!("{}/token", env.issuer);
    let broken = [
        (
            "another URI",
            dpop_proof(&key, "POST", &env.resource, None).build(),
        ),
        (
            "another method",
            dpop_proof(&key, "GET", &token_url, None).build(),
        ),
        (
            "alg none",
            dpop_proof(&key, "POST", &token_url, None).alg_none(),
        ),
    ];
    for (case, proof) in broken {
        let (status, body) = env.redeem(&client, Some(&proof)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{case}: {body}");
    }
    // A proof is good once.
    let proof = env.token_proof(&key);
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(env.redeem(&client, Some(&proof)).await.0);
    }
    assert_eq!(answers, [StatusCode::OK, StatusCode::BAD_REQUEST]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_clients_refresh_tokens_stay_bound_to_its_key() {
    let env = start_dpop(DevAuthConfig::default().auto_approve(true)).await;
    let key = TestKey::ec_p256();
    let client = env.public_client().await;
    let (_, tokens) = env.dpop_tokens(&client, Some(&key)).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", client.as_str()),
    ];
    // Without a proof, or with another key's: refused, and the refresh token not spent.
    for other in [None, Some(TestKey::ed25519())] {
        let (status, body) = env.token_with_proof(&form, other.as_ref()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    }
    let (status, body) = env.token_with_proof(&form, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims(access).1["cnf"]["jkt"], jkt(&key));
    assert_eq!(env.dpop_call(access, &key).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registered_for_dpop_must_prove_a_key_every_time() {
    let env = start_dpop(DevAuthConfig::default().auto_approve(true)).await;
    let (status, body) = env
        .register(json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none","dpop_bound_access_tokens":"yes"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = env
        .register(json!({"redirect_uris":[REDIRECT],"token_endpoint_auth_method":"none","dpop_bound_access_tokens":true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dpop_bound_access_tokens"], true);
    let client = body["client_id"].as_str().unwrap();
    let (status, tokens) = env.dpop_tokens(client, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{tokens}");
    assert_eq!(tokens["error"], "invalid_dpop_proof");
    let (status, tokens) = env.dpop_tokens(client, Some(&TestKey::ec_p256())).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
}
