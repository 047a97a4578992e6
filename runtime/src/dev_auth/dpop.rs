//! DPoP at the development server's token endpoint (RFC 9449 §5): a token request with a proof
//! gets an access token bound to the proof's key (`cnf.jkt`, `token_type: DPoP`); a public
//! client's refresh tokens stay bound to that key (§5, §5.1); a client registered with
//! `dpop_bound_access_tokens` must send a proof with every token request (§5.2).

use axum::http::StatusCode;
use axum::http::header::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::auth::{DpopConfig, ProofError, ProofTarget, one_proof, verify_proof};
use crate::server::ReplayStore as _;

use super::responses::oauth_error;
use super::state::DevState;

/// The proof algorithms the development server accepts (and advertises).
pub(super) fn config() -> DpopConfig {
    DpopConfig::new()
}

/// The key thumbprint a token request proves possession of: `None` without a `DPoP` header, or
/// the `invalid_dpop_proof` answer (400, RFC 9449 §5) for a proof that fails any check.
pub(super) async fn token_request_key(
    s: &DevState,
    headers: &HeaderMap,
) -> Result<Option<String>, Response> {
    let refuse = |error: ProofError| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &error.to_string(),
        )
    };
    let values = headers.get_all("dpop").iter();
    let Some(proof) = one_proof(values.map(HeaderValue::as_bytes)).map_err(refuse)? else {
        return Ok(None);
    };
    let config = config();
    let now = super::clock::unix_now();
    let token_endpoint = s.url("token");
    let target = ProofTarget {
        method: "POST",
        uri: &token_endpoint,
        access_token: None,
        now,
    };
    let proof = verify_proof(proof, &config, &target).map_err(refuse)?;
    // RFC 9449 §11.1: a proof is good once.
    let id = format!("{}:{}", proof.thumbprint, proof.jti);
    let keep = std::time::Duration::from_secs(2 * config.iat_window().as_secs() + 1);
    match s.dpop_proofs.first_use(&id, keep).await {
        Ok(true) => Ok(Some(proof.thumbprint)),
        Ok(false) => Err(refuse(ProofError::Replayed)),
        Err(_) => Err(oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many DPoP proofs in flight",
        )),
    }
}

/// The refusal of a token request without a proof from a client that must send one.
pub(super) fn proof_required() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "this client registered dpop_bound_access_tokens: its token requests need a DPoP proof",
    )
}

/// The refusal of a refresh whose family is bound to another key (or to a key the request
/// does not prove).
pub(super) fn wrong_key() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "this refresh token is bound to a DPoP key the request does not prove",
    )
}
