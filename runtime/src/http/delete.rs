//! DELETE: a client ends its legacy session.

use axum::http::StatusCode;
use axum::http::header::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::headers::session_id;
use super::reply::{method_not_allowed, rpc_error, session_refused};
use super::shared::Shared;
use crate::principal::Principal;
use crate::protocol::error_code;

pub(super) async fn delete(
    shared: &Shared,
    principal: &Principal,
    headers: &HeaderMap,
) -> Response {
    let Some(sessions) = &shared.sessions else {
        return method_not_allowed(false);
    };
    let Some(id) = session_id(headers) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        );
    };
    let owner = match shared.owner(principal) {
        Ok(owner) => owner,
        Err(error) => return session_refused(&error),
    };
    match sessions.end(id, &owner).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => session_refused(&error),
    }
}
