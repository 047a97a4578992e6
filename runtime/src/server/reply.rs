//! [`Reply`]: what the dispatcher gives back for one message, and the [`Refusal`] class.

use super::authorize::Denial;
use crate::protocol::Response;

/// What the dispatcher gives back for one message.
#[derive(Debug)]
#[must_use]
pub enum Reply {
    /// A JSON-RPC response to send.
    Response(Response),
    /// The principal lacks scopes the operation requires; the transport answers in its own way
    /// (HTTP 403 with a challenge, a JSON-RPC error on stdio).
    /// Boxed: rare, and larger than a response.
    Denied(Box<Denial>),
    /// Nothing to send (the message was a notification or a response).
    Nothing,
    /// A request refused before dispatch (2026-07-28: malformed `_meta`, unsupported version,
    /// unknown method) or before its handler ran (a tool's quota used up); HTTP answers with the
    /// given status, other transports send the response.
    Refused(Response, Refusal),
}

/// The HTTP status class of a [`Reply::Refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// 400 Bad Request.
    BadRequest,
    /// 404 Not Found (an unknown method, 2026-07-28).
    NotFound,
    /// 429 Too Many Requests, with `Retry-After` (a tool's quota used up).
    TooManyRequests(std::time::Duration),
}
