//! CORS for browser-based MCP clients, and the gate that keeps its cost off everyone else.
//!
//! Browsers send `Origin` on every request CORS governs (cross-origin requests and preflights);
//! other clients do not send it and read no CORS header. tower-http's layer builds its response
//! headers on every request, so the MCP endpoint runs it only when `Origin` is present.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::http::header::{self, HeaderName, HeaderValue};
use futures_util::future::Either;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

use super::{PROTOCOL_VERSION_HEADER, SESSION_HEADER};

/// The CORS policy: origins `allowed` decides, the MCP methods and headers, and the headers a
/// browser client must be able to read (the challenge, the session, the protocol version).
pub(super) fn layer(
    allowed: impl Fn(&HeaderValue) -> bool + Clone + Send + Sync + 'static,
) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| allowed(origin)))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static(PROTOCOL_VERSION_HEADER),
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static(PROTOCOL_VERSION_HEADER),
        ])
}

/// Applies a [`CorsLayer`] to requests that carry `Origin` only.
#[derive(Clone)]
pub(super) struct OriginGated(pub(super) CorsLayer);

impl<S: Clone> Layer<S> for OriginGated {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            cors: self.0.layer(inner.clone()),
            plain: inner,
        }
    }
}

/// The service of [`OriginGated`].
#[derive(Clone)]
pub(super) struct Gated<S> {
    cors: Cors<S>,
    plain: S,
}

impl<S, B> Service<Request> for Gated<S>
where
    S: Service<Request, Response = axum::http::Response<B>> + Clone,
    B: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<<Cors<S> as Service<Request>>::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both wrap the same service; whichever a request takes must be ready.
        match self.plain.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.cors.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.headers().contains_key(header::ORIGIN) {
            Either::Left(self.cors.call(request))
        } else {
            Either::Right(self.plain.call(request))
        }
    }
}
