//! `subscriptions/listen` over Streamable HTTP (2026-07-28): the response to the POST is an
//! event stream that stays open — the acknowledgement first, then the notifications the client
//! opted in to — until the client closes it, the token that opened it expires, or the server
//! ends it (shutting down: the closing result, then the end of the stream).
//!
//! Open streams are bounded per principal and in all ([`HttpConfig::max_listen_streams`]); an
//! open stream holds no slot of the in-flight limit, which is for requests that finish.
//!
//! [`HttpConfig::max_listen_streams`]: super::HttpConfig::max_listen_streams

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::limit::{StreamPermit, StreamRefusal};
use super::refusals;
use super::reply::{json_response, too_many, with_retry_after};
use super::session::principal_key;
use super::shared::Shared;
use super::sse::{accepts_event_stream, kept_alive_event_stream};
use super::stream::token_deadline;
use crate::auth::AuthError;
use crate::connection::{Outbound, OutboundReceiver};
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Message, RequestId, Response as RpcResponse, error_code};
use crate::server::{Core, Refusal, Reply};

/// How long a client refused for having too many streams open is asked to wait.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The dispatcher serving one subscription, until it ends.
type Dispatch = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Answers a 2026-07-28 `subscriptions/listen` request (`message`, whose id is `id`) whose
/// headers have been checked.
pub(super) async fn listen(
    shared: &Arc<Shared>,
    principal: Principal,
    message: Message,
    id: RequestId,
    parts: &Parts,
    peer: Option<IpAddr>,
) -> Response {
    if !accepts_event_stream(&parts.headers) {
        return json_response(
            StatusCode::NOT_ACCEPTABLE,
            &RpcResponse::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_REQUEST,
                    "subscriptions/listen answers with an event stream: Accept must include text/event-stream",
                ),
            ),
        );
    }
    // A token accepted within the clock leeway past its `exp` opens no stream: one that ended
    // at once would have the client reconnect in a loop.
    let deadline = token_deadline(&principal);
    if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
        return shared.invalid_token(&AuthError::Expired, None);
    }
    let permit = match shared
        .listens
        .try_open(principal_key(&principal, &parts.headers).into_owned())
    {
        Ok(permit) => permit,
        Err(refusal) => return refused(shared, parts, peer, refusal),
    };
    // Bounded: a client that stops reading loses its stream, not the server's memory.
    let (outbound, mut messages) = Outbound::bounded_channel();
    let server = shared.server.clone();
    let connection = shared.connection(false);
    let dispatch_principal = principal.clone();
    let mut dispatch: Dispatch = Box::pin(Core::handle_in(
        server,
        message,
        dispatch_principal,
        &connection,
        Some(outbound),
    ));
    // The acknowledgement opens the stream; a request refused before it (`_meta`, params) is
    // answered as any other.
    let first = tokio::select! {
        biased;
        Some(first) = messages.recv() => first,
        reply = &mut dispatch => return answer(shared, &principal, reply),
    };
    kept_alive_event_stream(Subscription {
        first: Some(first),
        messages,
        dispatch: Some(dispatch),
        closing: None,
        deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        done: false,
        _permit: permit,
    })
}

/// A stream refused at a limit: 429 for the caller's own, 503 for the server's.
#[cold]
fn refused(
    shared: &Shared,
    parts: &Parts,
    peer: Option<IpAddr>,
    refusal: StreamRefusal,
) -> Response {
    let peer = shared.client_address(peer, &parts.headers);
    let (status, kind, message) = match refusal {
        StreamRefusal::PerKey => (
            StatusCode::TOO_MANY_REQUESTS,
            refusals::Kind::RateLimited,
            "too many subscriptions/listen streams open for this caller: close one",
        ),
        StreamRefusal::Total => (
            StatusCode::SERVICE_UNAVAILABLE,
            refusals::Kind::Overloaded,
            "too many subscriptions/listen streams open",
        ),
    };
    tracing::debug!(target: "scopegate::http", event = "listen_refused", status = status.as_u16(), "{message}");
    shared.refusals.record(kind, peer);
    too_many(status, RETRY_AFTER, message)
}

/// A subscription that ended before its stream opened: its answer as plain JSON.
fn answer(shared: &Shared, principal: &Principal, reply: Reply) -> Response {
    match reply {
        Reply::Response(response) => json_response(StatusCode::OK, &response),
        Reply::Refused(response, Refusal::BadRequest) => {
            json_response(StatusCode::BAD_REQUEST, &response)
        }
        Reply::Refused(response, Refusal::NotFound) => {
            json_response(StatusCode::NOT_FOUND, &response)
        }
        Reply::Refused(response, Refusal::TooManyRequests(wait)) => with_retry_after(
            json_response(StatusCode::TOO_MANY_REQUESTS, &response),
            wait,
        ),
        Reply::Denied(denial) => shared.forbidden(principal, &denial, true),
        Reply::Nothing => StatusCode::ACCEPTED.into_response(),
    }
}

/// The event stream of one open subscription. Dropped (the client closed the stream, or the
/// connection went), it drops the dispatcher's future, which unregisters the subscription, and
/// its permit.
struct Subscription {
    /// The acknowledgement, not sent yet.
    first: Option<String>,
    messages: OutboundReceiver,
    /// The dispatcher serving the subscription, while it does.
    dispatch: Option<Dispatch>,
    /// The closing result, once the subscription has ended with one.
    closing: Option<String>,
    /// When the token that opened the stream expires.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
    _permit: StreamPermit,
}

impl futures_util::Stream for Subscription {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        if this.done {
            return Poll::Ready(None);
        }
        // The token expired: the stream ends without the closing result, so the client opens
        // another with a fresh token rather than taking the end for the server's.
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.done = true;
            return Poll::Ready(None);
        }
        if let Some(dispatch) = &mut this.dispatch
            && let Poll::Ready(reply) = dispatch.as_mut().poll(cx)
        {
            this.dispatch = None;
            this.closing = match reply {
                Reply::Response(response) => Some(response.to_json()),
                _ => None,
            };
        }
        if this.dispatch.is_some() {
            return match this.messages.poll_recv(cx) {
                Poll::Ready(Some(message)) => Poll::Ready(Some(message)),
                // The client stopped reading (its queue overflowed): the stream ends, and the
                // subscription with it.
                Poll::Ready(None) => {
                    this.done = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            };
        }
        // The subscription ended: what it sent before, then the closing result if any.
        if let Some(message) = this.messages.try_recv() {
            return Poll::Ready(Some(message));
        }
        this.done = true;
        Poll::Ready(this.closing.take())
    }
}
