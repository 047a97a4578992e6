//! What the server publishes about itself: its RFC 8414 metadata document (also served as
//! OpenID discovery) and the JWKS of its signing key.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::Response;
use serde_json::json;

use super::responses::json_ok;
use super::state::DevState;

pub(super) async fn metadata_document(State(s): State<Arc<DevState>>) -> Response {
    json_ok(
        StatusCode::OK,
        &json!({
            "issuer": s.issuer,
            "authorization_endpoint": s.url("authorize"),
            "token_endpoint": s.url("token"),
            "registration_endpoint": s.url("register"),
            "jwks_uri": s.url("jwks"),
            "scopes_supported": s.scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": s.grant_types(),
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
            "dpop_signing_alg_values_supported": super::dpop::config().algorithm_names(),
        }),
    )
}

pub(super) async fn jwks(State(s): State<Arc<DevState>>) -> Response {
    let mut response = json_ok(StatusCode::OK, &s.jwks);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}
