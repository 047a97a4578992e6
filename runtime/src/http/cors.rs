//! CORS for browser-based MCP clients, and the gate that keeps its cost off everyone else.
//!
//! Two policies: the MCP endpoint's, which admits the origins the configuration allows, and the
//! Protected Resource Metadata's, which admits every origin (the metadata is public).
//!
//! Browsers send `Origin` on every request CORS governs (cross-origin requests and preflights);
//! other clients do not send it and read no CORS header. tower-http's layer builds its response
//! headers on every request, so the MCP endpoint ([`Endpoint`]) runs it only when `Origin` is
//! present.

use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::{FutureExt as _, TryFutureExt as _};
use tower::{Layer, Service, ServiceExt as _};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use super::body::RequestBody;
use super::endpoint::mcp_endpoint;
use super::headers::{PROTOCOL_VERSION_HEADER, SESSION_HEADER};
use super::in_place;
use super::response_body::{Answer, ResponseBody};
use super::shared::Shared;

/// The CORS policy: origins `allowed` decides, the MCP methods and headers (with the
/// `Mcp-Param-{Name}` headers the tools declare, `param_headers`), and the headers a browser
/// client must be able to read (the challenge, the session, the protocol version).
pub(super) fn layer(
    allowed: impl Fn(&HeaderValue) -> bool + Clone + Send + Sync + 'static,
    param_headers: &[String],
) -> CorsLayer {
    // Declared names are RFC 9110 tokens (checked at compile time), so each makes a header
    // name; one that somehow does not is left out rather than admitted some other way.
    let params = param_headers
        .iter()
        .filter_map(|name| HeaderName::try_from(format!("mcp-param-{name}")).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| allowed(origin)))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(
            [
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static(PROTOCOL_VERSION_HEADER),
                HeaderName::from_static(SESSION_HEADER),
                HeaderName::from_static("last-event-id"),
                HeaderName::from_static("mcp-method"),
                HeaderName::from_static("mcp-name"),
                HeaderName::from_static("dpop"),
            ]
            .into_iter()
            .chain(params)
            .collect::<Vec<_>>(),
        )
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static(PROTOCOL_VERSION_HEADER),
            HeaderName::from_static("dpop-nonce"),
        ])
}

/// The CORS policy of the Protected Resource Metadata (both locations): every origin may read
/// it.
///
/// The document is public and says nothing the resource does not announce in every 401
/// challenge, and a browser-based client must read it before it can hold a token: it learns
/// the authorization server from it (RFC 9728 §3, MCP authorization "Authorization Server
/// Discovery"). So it answers `Access-Control-Allow-Origin: *` whatever `Origin` says, while the
/// MCP endpoint keeps its allow-list ([`layer`]). Never with credentials: `*` forbids them
/// (Fetch, CORS protocol), so no cookie or HTTP authentication rides on a cross-origin read.
/// The request headers a preflight asks for are mirrored rather than answered with `*`: `*`
/// does not cover `Authorization`, which a client holding a token may attach to every request,
/// and no header can make this read reach more than the document. The browser clients in the
/// field send `mcp-protocol-version` with their discovery requests.
pub(super) fn public_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(AllowHeaders::mirror_request())
}

/// The MCP endpoint as a service: CORS for requests that carry `Origin`, the endpoint alone for
/// the rest.
///
/// A service rather than a handler behind a layer: axum clones a route's service for every
/// request, and a layered handler costs a clone of the whole CORS policy, a second boxed
/// service and a second boxed future each time. Here a request without `Origin` costs one
/// boxed future; the policy is cloned into a CORS service only for requests that carry
/// `Origin`. Responses to `HEAD` lose their body here, as axum's method router would strip it
/// (hyper does for HTTP/1, nothing does for HTTP/2).
#[derive(Clone)]
pub(super) struct Endpoint {
    pub(super) shared: Arc<Shared>,
    pub(super) cors: Arc<CorsLayer>,
}

/// The future of an answer from the MCP endpoint.
pub(super) type EndpointFuture = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

/// The endpoint as a route of an axum router (an application's own, or scopegate's with routes
/// added): its answer's body made axum's.
impl Service<Request> for Endpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::MapOk<EndpointFuture, fn(Answer) -> Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let peer = super::proxy::peer_of(request.extensions());
        let axum_answer: fn(Answer) -> Response = |answer| answer.map(ResponseBody::into_axum);
        self.respond(request.map(RequestBody::Axum), peer)
            .map_ok(axum_answer)
    }
}

impl Endpoint {
    /// Answers `request` (a request for the MCP endpoint's path) from `peer`: the service's
    /// `call` (with the peer a router's request carries in `ConnectInfo`), and what
    /// [`serve_with`](super::serve_with) calls directly when it serves the endpoint itself
    /// (with the peer it knows, and no extension to allocate).
    pub(super) fn respond(
        &self,
        request: axum::http::Request<RequestBody>,
        peer: Option<IpAddr>,
    ) -> EndpointFuture {
        let shared = Arc::clone(&self.shared);
        let head = request.method() == Method::HEAD;
        let response: EndpointFuture = if request.headers().contains_key(header::ORIGIN) {
            let endpoint = tower::service_fn(move |request| {
                mcp_endpoint(Arc::clone(&shared), request, peer).map(Ok::<_, Infallible>)
            });
            Box::pin(self.cors.layer(endpoint).oneshot(request))
        } else {
            in_place::boxed(|| mcp_endpoint(shared, request, peer).map(Ok))
        };
        if head {
            Box::pin(
                response.map(|response| {
                    response.map(|response| response.map(|_| ResponseBody::empty()))
                }),
            )
        } else {
            response
        }
    }
}
