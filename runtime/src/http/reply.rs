//! Plain responses the endpoint answers with: a JSON-RPC message as JSON, and the refusals
//! that are not a token's (429/503 with `Retry-After`, 405, an unsupported version, a session
//! not accepted).

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::response_body::{Answer, ResponseBody};
use super::session::SessionError;
use super::spare;
use crate::protocol::{ErrorObject, Response as RpcResponse, error_code};
use crate::server::unsupported_version_error;

pub(super) fn json_response(status: StatusCode, body: &RpcResponse) -> Response {
    json_body(status, Body::from(body.to_json_bytes()))
}

/// [`json_response`] as the endpoint's [`Answer`], taking the response: a result written for it
/// is its body already, and goes to hyper as that buffer (see [`ResponseBody`]).
pub(super) fn json_answer(status: StatusCode, body: RpcResponse) -> Answer {
    json_body(status, ResponseBody::Json(Some(body.into_json_bytes())))
}

fn json_body<B>(status: StatusCode, body: B) -> axum::http::Response<B> {
    // Built directly: a `String`'s `into_response` first sets a text content type that the
    // JSON one then replaces.
    let mut response = axum::http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = spare::take();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cold]
pub(super) fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    json_response(
        status,
        &RpcResponse::error(None, ErrorObject::new(code, message.to_owned())),
    )
}

/// 429 or 503 with `Retry-After` (whole seconds, at least 1).
#[cold]
pub(super) fn too_many(status: StatusCode, wait: std::time::Duration, message: &str) -> Response {
    with_retry_after(
        rpc_error(status, error_code::INVALID_REQUEST, message),
        wait,
    )
}

/// `response` with `Retry-After: wait` (whole seconds, rounded up, at least 1).
pub(super) fn with_retry_after(mut response: Response, wait: std::time::Duration) -> Response {
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cold]
pub(super) fn method_not_allowed(sessions: bool) -> Response {
    let allow = if sessions {
        "GET, POST, DELETE"
    } else {
        "POST"
    };
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, allow)]).into_response()
}

/// 400 with `-32022` naming the supported versions, so a client can pick one and retry
/// (2026-07-28 versioning; legacy only asks for the 400). The error is the dispatcher's, so
/// that the header check and the `_meta` check name the same versions.
#[cold]
pub(super) fn unsupported_version(
    id: Option<crate::protocol::RequestId>,
    requested: &str,
) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &RpcResponse::error(id, unsupported_version_error(requested)),
    )
}

/// A session id that was not accepted: 404 when the session is not the caller's live one, 503
/// when the shared store could not tell.
#[cold]
pub(super) fn session_refused(error: &SessionError) -> Response {
    match error {
        SessionError::NotFound => rpc_error(
            StatusCode::NOT_FOUND,
            error_code::INVALID_REQUEST,
            "session not found",
        ),
        SessionError::Unavailable => too_many(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(1),
            "the session store is unavailable: retry",
        ),
        SessionError::NoRandom => session_failure(),
        SessionError::NoSubject => {
            tracing::debug!(target: "scopegate::auth", event = "session_rejected", reason = "no_subject", "a caller without a subject asked for a session");
            rpc_error(
                StatusCode::FORBIDDEN,
                error_code::INVALID_REQUEST,
                "a session needs a subject and the token names none (sub): use the 2026-07-28 protocol or a stateless server",
            )
        }
    }
}

#[cold]
pub(super) fn session_failure() -> Response {
    rpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        error_code::INTERNAL_ERROR,
        "could not create a session",
    )
}
