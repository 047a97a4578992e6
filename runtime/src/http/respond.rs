//! Dispatching a request and answering it: plain JSON, or an event stream when the handler
//! talks to the client before its response.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::header::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;

use super::config::DenialMode;
use super::headers::SESSION_HEADER;
use super::reply::{json_answer, json_response, with_retry_after};
use super::response_body::{Answer, answer};
use super::session::Owner;
use super::shared::Shared;
use super::sse::{event_stream, event_stream_of};
use crate::connection::{Connection, Outbound, OutboundReceiver};
use crate::principal::Principal;
use crate::protocol::{Message, ModernParams};
use crate::server::{Core, Refusal, Reply};

/// How long a request's event stream waits for room before taking its client to have stopped
/// reading.
const STALLED_STREAM: std::time::Duration = std::time::Duration::from_secs(30);

/// Queues `message` on a request's event stream, waiting for room up to [`STALLED_STREAM`];
/// false when the client closed the stream or read nothing for that long.
async fn deliver(tx: &tokio::sync::mpsc::Sender<String>, message: String) -> bool {
    use tokio::sync::mpsc::error::TrySendError;
    // With room (the usual case), no timer is made.
    match tx.try_send(message) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(message)) => matches!(
            tokio::time::timeout(STALLED_STREAM, tx.send(message)).await,
            Ok(Ok(()))
        ),
    }
}

/// A slot of the in-flight limit held by a handler answering on an event stream.
struct StreamingSlot(Arc<Shared>);

impl StreamingSlot {
    fn hold(shared: Arc<Shared>) -> Self {
        shared.concurrency.hold();
        Self(shared)
    }
}

impl Drop for StreamingSlot {
    fn drop(&mut self) {
        self.0.concurrency.release();
    }
}

/// Dispatches a request and answers it: plain JSON, or an event stream when the handler sends
/// the client notifications or requests before its response.
#[allow(clippy::manual_async_fn)]
pub(super) fn respond(
    shared: &Arc<Shared>,
    principal: Principal,
    message: Message,
    connection: Arc<Connection>,
    new_session: Option<String>,
    modern: Option<Box<ModernParams>>,
    streams: bool,
) -> impl Future<Output = Answer> {
    async move {
        // A 2026-07-28 request comes with its params read (the header checks read them): the
        // dispatcher serves it from that reading.
        let is_modern = modern.is_some();
        // A request may send notifications and requests to the client before its response; they
        // travel on an event stream (when the client accepts one: `streams`), which the response
        // then switches to. Requests that send nothing are answered with plain JSON.
        let (outbound, mut events) = Outbound::channel();
        let server = shared.server.clone();
        let dispatch_principal = principal.clone();
        let outbound = streams.then_some(outbound);
        // Boxed apart: a legacy request's future carries no room for the other's.
        let mut dispatch = match (message, modern) {
            (Message::Request(request), Some(modern)) => {
                Either::Left(Box::pin(Core::handle_modern_in(
                    server,
                    request,
                    modern,
                    dispatch_principal,
                    &connection,
                    outbound,
                )))
            }
            (message, _) => Either::Right(Box::pin(Core::handle_in(
                server,
                message,
                dispatch_principal,
                &connection,
                outbound,
            ))),
        };
        let reply = tokio::select! {
            biased;
            reply = &mut dispatch => reply,
            Some(first) = events.recv() => {
                return answer(switch_to_stream(
                    shared,
                    &principal,
                    (first, events),
                    dispatch,
                    is_modern,
                    new_session.as_deref(),
                ));
            }
        };
        // Messages sent just before the handler finished still go out, ahead of the response.
        let mut early = Vec::new();
        while let Some(event) = events.try_recv() {
            early.push(event);
        }
        // A failed `initialize` starts no session: the one made for it ends unannounced (on a
        // task of its own: an await here would keep this future's state across it, and make
        // every request's future larger).
        let new_session = match new_session {
            Some(id) if !matches!(&reply, Reply::Response(r) if r.error_object().is_none()) => {
                let (shared, owner) = (Arc::clone(shared), Owner::of(&principal));
                tokio::spawn(async move {
                    if let Some(sessions) = &shared.sessions {
                        let _ = sessions.end(&id, &owner).await;
                    }
                });
                None
            }
            kept => kept,
        };
        let mut http = match reply {
            Reply::Response(response) if early.is_empty() => json_answer(StatusCode::OK, response),
            Reply::Response(response) => {
                return answer(event_stream_of(
                    &early,
                    &response.to_json_bytes(),
                    new_session.as_deref(),
                ));
            }
            Reply::Nothing => answer(StatusCode::ACCEPTED.into_response()),
            Reply::Refused(response, Refusal::BadRequest) => {
                answer(json_response(StatusCode::BAD_REQUEST, &response))
            }
            Reply::Refused(response, Refusal::NotFound) => {
                answer(json_response(StatusCode::NOT_FOUND, &response))
            }
            Reply::Refused(response, Refusal::TooManyRequests(wait)) => answer(with_retry_after(
                json_response(StatusCode::TOO_MANY_REQUESTS, &response),
                wait,
            )),
            Reply::Denied(denial) => answer(match shared.denial {
                DenialMode::Forbidden => shared.forbidden(&principal, &denial, is_modern),
                DenialMode::ToolError => json_response(StatusCode::OK, &denial.to_tool_error()),
            }),
        };
        if let Some(id) = new_session
            && http.status() == StatusCode::OK
            && let Ok(value) = HeaderValue::from_str(&id)
        {
            http.headers_mut().insert(SESSION_HEADER, value);
        }
        http
    }
}

/// The exchange switched to an event stream, its `first` message sent before the response: the
/// handler goes on on a task of its own that feeds the stream. Out of line and cold: most
/// requests answer with plain JSON, and this code would otherwise sit among their steps (issue
/// 24: the instruction cache).
#[cold]
#[inline(never)]
fn switch_to_stream(
    shared: &Arc<Shared>,
    principal: &Principal,
    (first, mut events): (String, OutboundReceiver),
    dispatch: impl Future<Output = Reply> + Send + Unpin + 'static,
    is_modern: bool,
    new_session: Option<&str>,
) -> Response {
    // Bounded: a client that stops reading its stream ends it (and the request),
    // rather than the server queueing for it without end.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(crate::connection::MAX_QUEUED_MESSAGES);
    let _ = tx.try_send(first); // the channel is empty
    // The handler runs on after this exchange (and its in-flight permit) ends: it
    // keeps a slot of the limit until it is done.
    let slot = StreamingSlot::hold(Arc::clone(shared));
    let stream_shared = Arc::clone(shared);
    let principal = principal.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let mut dispatch = dispatch;
        loop {
            tokio::select! {
                biased;
                // The client closed the stream: that cancels the request (2026-07-28),
                // and dropping the handler stops it.
                () = tx.closed() => return,
                // While the stream is full the handler waits with it; a client
                // that reads nothing for `STALLED_STREAM` has stopped reading.
                Some(event) = events.recv() => {
                    if !deliver(&tx, event).await {
                        // The client closed the stream, or stopped reading it:
                        // either cancels the request.
                        return;
                    }
                }
                reply = &mut dispatch => {
                    while let Some(event) = events.try_recv() {
                        if !deliver(&tx, event).await {
                            return;
                        }
                    }
                    match reply {
                        Reply::Response(response) => {
                            deliver(&tx, response.to_json()).await;
                        }
                        // Too late for a 403: the JSON-RPC error carries its
                        // challenge.
                        Reply::Denied(denial) => {
                            let error =
                                stream_shared.in_stream_denial(&principal, &denial, is_modern);
                            deliver(&tx, error).await;
                        }
                        _ => {}
                    }
                    return;
                }
            }
        }
    });
    event_stream(
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)),
        new_session,
    )
}
