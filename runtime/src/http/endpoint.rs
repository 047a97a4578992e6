//! The MCP endpoint's entry: the checks every request passes in order (address limit,
//! in-flight limit, `Host`, `Origin`, token, principal limit, version), then the HTTP method's
//! handler.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::body::RequestBody;
use super::delete::delete;
use super::dpop::{DPOP_NONCE_HEADER, Dpop};
use super::head::Head;
use super::headers::HeaderVersion;
use super::post::post;
use super::refusals;
use super::reply::{method_not_allowed, rpc_error, too_many, unsupported_version};
use super::response_body::{Answer, answer};
use super::shared::Shared;
use super::spare;
use super::stream::standalone_stream;
use super::throttle::{limit_and_preload, limit_principal_now};
use crate::principal::KeyBinding;
use crate::protocol::error_code;

/// Answers `request`, from `peer` (its connection's remote address, when known: rate limits
/// and the summary of refusals are kept by client address).
pub(super) fn mcp_endpoint(
    shared: Arc<Shared>,
    request: Request<RequestBody>,
    peer: Option<IpAddr>,
) -> impl Future<Output = Answer> + Send {
    // Split before the future is made: an `async fn` keeps its arguments' room for its whole
    // life, and the request would sit there unused beside its own parts.
    let (parts, body) = request.into_parts();
    endpoint(shared, parts, body, peer)
}

// Not an `async fn`: an `async fn` keeps its arguments twice in its future (where they arrive
// and where its body moves them), and the parts alone are 224 bytes. An `async move` block uses
// the captured values in place. Likewise `post`, `respond` and `Core::call_tool`.
#[allow(clippy::manual_async_fn)]
fn endpoint(
    shared: Arc<Shared>,
    parts: Parts,
    body: RequestBody,
    peer: Option<IpAddr>,
) -> impl Future<Output = Answer> {
    async move {
        if let Some(response) = shared.limit_address(peer, &parts.headers).await {
            return answer(response);
        }
        let Some(_permit) = shared.concurrency.try_acquire() else {
            return answer(overloaded(&shared, peer, &parts));
        };
        let Head {
            host,
            origin,
            authorization,
            version,
            media,
        } = Head::of(&parts.headers);
        if !shared.host_allowed(&parts, host) {
            return answer(host_rejected(&shared, peer, &parts));
        }
        if let Some(origin) = origin
            && !shared.origin_allowed(origin)
        {
            return answer(origin_rejected(&shared, peer, &parts));
        }
        let principal = match shared.authenticate(&parts, peer, authorization).await {
            Ok(principal) => principal,
            Err(response) => return answer(response),
        };
        // The per-principal limit and the session's record exist only when configured. With
        // nothing to wait for (no session, no shared store) the limit is checked at once;
        // otherwise their future is boxed, so that a request needing neither does not carry its
        // room.
        // Neither configured (the usual case) is told here, without a call: every request
        // passes this point (~40 instructions, measured).
        let preloaded = if shared.per_principal.is_none() && shared.sessions.is_none() {
            None
        } else {
            match limit_principal_now(&shared, &principal, &parts, peer) {
                Some(Ok(())) => None,
                Some(Err(response)) => return answer(response),
                None => {
                    match Box::pin(limit_and_preload(&shared, &principal, &parts, peer)).await {
                        Ok(preloaded) => preloaded,
                        Err(response) => return answer(response),
                    }
                }
            }
        };
        // An answer to a DPoP request carries the server's current nonce, when it has nonces.
        let dpop = shared.dpop.is_some() && matches!(principal.key_binding(), KeyBinding::Dpop(_));
        if let HeaderVersion::Unknown(requested) = version
            && parts.method != Method::POST
        {
            return answer(unsupported_version(
                None,
                &String::from_utf8_lossy(requested.as_bytes()),
            ));
        }
        let mut response = match parts.method {
            Method::POST => {
                post(
                    &shared,
                    principal,
                    (&parts, &peer),
                    (version, media),
                    body,
                    preloaded,
                )
                .await
            }
            // 2026-07-28 has no sessions and no standalone stream.
            Method::GET | Method::DELETE if version.is_modern() => {
                answer(method_not_allowed(false))
            }
            Method::DELETE => answer(Box::pin(delete(&shared, &principal, &parts.headers)).await),
            Method::GET => answer(
                Box::pin(standalone_stream(
                    &shared,
                    &principal,
                    &parts.headers,
                    preloaded,
                ))
                .await,
            ),
            _ => answer(method_not_allowed(shared.sessions.is_some())),
        };
        spare::keep(parts.headers);
        if dpop && let Some(nonce) = shared.dpop.as_ref().and_then(Dpop::fresh_nonce) {
            response.headers_mut().insert(DPOP_NONCE_HEADER, nonce);
        }
        response
    }
}

// The refusals, out of line and marked cold: their logging and recording would otherwise sit
// between the steps of every request's future, spreading the code a request runs over more of
// the instruction cache (issue 24).

/// `503`: too many requests in flight.
#[cold]
#[inline(never)]
fn overloaded(shared: &Shared, peer: Option<IpAddr>, parts: &Parts) -> Response {
    tracing::debug!(target: "scopegate::http", event = "overloaded", "too many requests in flight");
    let client = shared.client_address(peer, &parts.headers);
    shared.refusals.record(refusals::Kind::Overloaded, client);
    too_many(
        StatusCode::SERVICE_UNAVAILABLE,
        std::time::Duration::from_secs(1),
        "the server is busy",
    )
}

/// `403`: a `Host` the server does not answer to (DNS rebinding protection).
#[cold]
#[inline(never)]
fn host_rejected(shared: &Shared, peer: Option<IpAddr>, parts: &Parts) -> Response {
    let host = parts.headers.get(axum::http::header::HOST);
    tracing::debug!(target: "scopegate::http", event = "host_rejected", host = ?host);
    let client = shared.client_address(peer, &parts.headers);
    shared.refusals.record(refusals::Kind::HostRejected, client);
    rpc_error(
        StatusCode::FORBIDDEN,
        error_code::INVALID_REQUEST,
        "Host not allowed (DNS rebinding protection)",
    )
}

/// `403`: an `Origin` not allowed.
#[cold]
#[inline(never)]
fn origin_rejected(shared: &Shared, peer: Option<IpAddr>, parts: &Parts) -> Response {
    let origin = parts.headers.get(axum::http::header::ORIGIN);
    tracing::debug!(target: "scopegate::http", event = "origin_rejected", origin = ?origin);
    let client = shared.client_address(peer, &parts.headers);
    shared
        .refusals
        .record(refusals::Kind::OriginRejected, client);
    rpc_error(
        StatusCode::FORBIDDEN,
        error_code::INVALID_REQUEST,
        "origin not allowed",
    )
}
