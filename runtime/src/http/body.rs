//! Reading a request body whole, within the size limit and the body timeout.

use std::net::IpAddr;
use std::task::Poll;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use super::refusals;
use super::reply::rpc_error;
use super::shared::Shared;
use crate::protocol::error_code;

/// The request body, whole.
///
/// Read here rather than with `axum::body::to_bytes`, whose limit wrapper and frame collector
/// are more code and an allocation per request: a body sent with its head (nearly every one)
/// arrives here as one frame in the first poll and is returned as it is, with no timer armed
/// (the timer exists only for a body still coming, which gets `body_timeout`).
pub(super) async fn read_body(
    shared: &Shared,
    // Borrowed: the body is larger than a reference, and the caller's future holds it anyway.
    body: &mut RequestBody,
    parts: &Parts,
    peer: Option<IpAddr>,
) -> Result<Bytes, Response> {
    use hyper::body::Body as _;
    let limit = shared.max_body_bytes;
    // A Content-Length over the limit is refused before anything is read.
    if usize::try_from(body.size_hint().lower()).map_or(true, |promised| promised > limit) {
        return Err(body_too_large(limit));
    }
    let mut reader = BodyReader {
        body,
        limit,
        first: None,
        rest: Vec::new(),
        total: 0,
    };
    let read = match std::future::poll_fn(|cx| Poll::Ready(reader.poll_read(cx))).await {
        Poll::Ready(read) => read,
        Poll::Pending => {
            // Boxed: the timer is the larger part of this future, and only a body still
            // coming needs it; every request's future (the endpoint's, boxed per request) would
            // otherwise carry its room.
            let rest = std::future::poll_fn(|cx| reader.poll_read(cx));
            match Box::pin(tokio::time::timeout(shared.body_timeout, rest)).await {
                Ok(read) => read,
                Err(_) => {
                    tracing::debug!(target: "scopegate::http", event = "body_timeout", "request body too slow");
                    let client = shared.client_address(peer, &parts.headers);
                    shared.refusals.record(refusals::Kind::BodyTimeout, client);
                    return Err(rpc_error(
                        StatusCode::REQUEST_TIMEOUT,
                        error_code::INVALID_REQUEST,
                        "the request body did not arrive in time",
                    ));
                }
            }
        }
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge) => Err(body_too_large(limit)),
        Err(BodyError::Broken) => Err(rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "the request body could not be read",
        )),
    }
}

#[cold]
fn body_too_large(limit: usize) -> Response {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        error_code::INVALID_REQUEST,
        &format!("request body larger than {limit} bytes"),
    )
}

/// A request's body as the MCP endpoint reads it: hyper's own, as `serve_with` hands it over
/// (boxing it as an axum `Body` would cost an allocation per request), or axum's, from a router.
pub(super) enum RequestBody {
    Hyper(hyper::body::Incoming),
    Axum(Body),
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.get_mut() {
            Self::Hyper(body) => std::pin::Pin::new(body)
                .poll_frame(cx)
                .map_err(axum::Error::new),
            Self::Axum(body) => std::pin::Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Hyper(body) => body.is_end_stream(),
            Self::Axum(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Hyper(body) => body.size_hint(),
            Self::Axum(body) => body.size_hint(),
        }
    }
}

enum BodyError {
    TooLarge,
    /// The connection failed or the framing was invalid.
    Broken,
}

/// A body being read: its first frame kept as it came, later ones appended to a copy.
struct BodyReader<'a> {
    body: &'a mut RequestBody,
    limit: usize,
    first: Option<Bytes>,
    rest: Vec<u8>,
    total: usize,
}

impl BodyReader<'_> {
    fn poll_read(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<Bytes, BodyError>> {
        use hyper::body::Body as _;
        loop {
            if self.body.is_end_stream() {
                return Poll::Ready(Ok(self.take()));
            }
            let frame = match std::pin::Pin::new(&mut *self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(self.take())),
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Err(BodyError::Broken)),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            // Trailers carry nothing a JSON-RPC message needs.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.total = self.total.saturating_add(data.len());
            if self.total > self.limit {
                return Poll::Ready(Err(BodyError::TooLarge));
            }
            match &self.first {
                None => self.first = Some(data),
                Some(first) => {
                    if self.rest.is_empty() {
                        self.rest.extend_from_slice(first);
                    }
                    self.rest.extend_from_slice(&data);
                }
            }
        }
    }

    fn take(&mut self) -> Bytes {
        if self.rest.is_empty() {
            self.first.take().unwrap_or_default()
        } else {
            Bytes::from(std::mem::take(&mut self.rest))
        }
    }
}
