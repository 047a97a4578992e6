//! Health and readiness probes: answered without tokens, and never shadowed by the endpoint.

use std::time::Duration;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::http::HttpConfig;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::files::Files;
use crate::harness::{Harness, files, files_with};

/// A GET of `path` on the harness's server, as a probe sends it (no token), naming `host`.
async fn probe(h: &Harness, path: &str, host: Option<&str>) -> reqwest::Response {
    let mut request = h.client.get(format!("{}{path}", h.base));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_probes_without_tokens() {
    // Off by default.
    let h = files().await;
    let r = probe(&h, "/healthz", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // On: ready once the issuer's keys are in (no token has been verified yet): fetched by the
    // start-up warm-up or by the probe itself, whichever comes first (the two race; one fetch
    // in all), whatever Host the probe names.
    let h = files_with(|c, _, _| c.health_checks(true)).await;
    let live = probe(&h, "/healthz", Some("10.0.0.7:8080")).await;
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = probe(&h, "/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    assert_eq!(
        h.keys.jwks_fetches(),
        1,
        "the keys were fetched once, by the warm-up or the readiness probe"
    );

    // An issuer nobody can reach: alive, not ready.
    let unreachable = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", unreachable.local_addr().unwrap());
    drop(unreachable);
    let h = files_with(move |c, _, resource| {
        c.jwt(
            JwtConfig::new(&issuer, resource)
                .jwks_uri(format!("{issuer}/jwks"))
                .http_timeout(Duration::from_secs(1)),
        )
        .health_checks(true)
    })
    .await;
    let live = probe(&h, "/healthz", None).await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = probe(&h, "/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "not ready"})
    );
}

#[test]
fn an_endpoint_on_a_health_check_path_is_refused_when_built() {
    for path in ["/healthz", "/readyz"] {
        let resource = format!("http://127.0.0.1:9/{}", &path[1..]);
        let built = Server::new(Files::default())
            .unwrap()
            .http(
                HttpConfig::new(&resource)
                    .without_authorization()
                    .health_checks(true),
            )
            .map(|_| ());
        assert!(
            matches!(&built, Err(scopegate::http::HttpError::PathTaken(p)) if p == path),
            "{path}: {built:?}"
        );
        // Without health checks the path is free.
        assert!(
            Server::new(Files::default())
                .unwrap()
                .http(HttpConfig::new(&resource).without_authorization())
                .is_ok()
        );
    }
}
