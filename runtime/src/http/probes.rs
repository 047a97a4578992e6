//! The GET routes that need no token: the health and readiness probes, and the Protected
//! Resource Metadata document.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::config::Auth;
use super::shared::Shared;

/// The readiness probe's path (with [`HttpConfig::health_checks`](super::HttpConfig::health_checks)).
pub(super) const READYZ: &str = "/readyz";

pub(super) async fn healthz() -> Response {
    status_json(StatusCode::OK, "ok")
}

pub(super) async fn readyz(
    State(shared): State<Arc<Shared>>,
    draining: Option<axum::Extension<Draining>>,
) -> Response {
    if draining.is_some_and(|d| d.is_set()) {
        return status_json(StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    let tokens = match &shared.auth {
        Auth::Off => true,
        Auth::Verifier(verifier) => verifier.ready().await,
    };
    if !tokens {
        return status_json(StatusCode::SERVICE_UNAVAILABLE, "not ready");
    }
    // Ready, but what an operator must know is said (e.g. an issuer without PKCE's S256).
    if let Auth::Verifier(verifier) = &shared.auth {
        let warnings = verifier.warnings();
        if !warnings.is_empty() {
            let body = serde_json::json!({ "status": "ready", "warnings": warnings });
            return (StatusCode::OK, axum::Json(body)).into_response();
        }
    }
    // Shared stores are not probed: when Redis is down every replica is alike, and taking all
    // of them out would also stop the requests that need no store (stateless, 2026-07-28).
    status_json(StatusCode::OK, "ready")
}

fn status_json(status: StatusCode, text: &'static str) -> Response {
    (status, axum::Json(serde_json::json!({ "status": text }))).into_response()
}

pub(super) async fn resource_metadata(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Response {
    if let Some(response) = shared
        .limit_address(
            super::proxy::peer_of(request.extensions()),
            request.headers(),
        )
        .await
    {
        return response;
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        shared.metadata_json.clone(),
    )
        .into_response()
}

/// Whether the server serving a request is shutting down (a request extension that
/// [`serve_with`](super::serve_with) adds; `/readyz` answers 503 while it is set).
#[derive(Debug, Clone, Default)]
pub(crate) struct Draining(pub(super) Arc<AtomicBool>);

impl Draining {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
