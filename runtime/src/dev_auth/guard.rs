//! What keeps the development server on the developer's machine and out of other sites' reach:
//! every request must arrive on a loopback local address (whatever the resource URI says) and
//! name an allowed `Host` (DNS rebinding), and only the endpoints a browser client calls across
//! origins answer CORS.
//!
//! A reverse proxy or tunnel on the same machine (nginx on `0.0.0.0:443` with `proxy_pass
//! http://127.0.0.1:8080`, an SSH or ngrok tunnel) delivers remote requests on a loopback
//! local address, with a loopback `Host`: the two checks above cannot see it. So, unless
//! `allow_non_loopback`, a request that carries any header a proxy adds (`Forwarded`, RFC 7239;
//! `X-Forwarded-For`, `X-Forwarded-Host`, `X-Forwarded-Proto`, `X-Real-IP`; `Via`, RFC 9110
//! §7.6.3) is refused with 403. A proxy that adds none of them is not detected: do not put one
//! in front of this server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::responses::oauth_error;
use super::state::DevState;

/// Headers a proxy or tunnel adds to what it forwards: a request that carries one did not come
/// straight from a program on this machine.
const PROXY_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "via",
];
use crate::http::{LocalAddr, host};

/// Refuses, before any route runs, a request that did not arrive on a loopback local address
/// or that a proxy forwarded (unless `allow_non_loopback`), or whose `Host` is not a loopback
/// name or the issuer's host.
pub(super) async fn guard(
    State(s): State<Arc<DevState>>,
    request: Request,
    next: Next,
) -> Response {
    if !s.config.allow_non_loopback {
        match request.extensions().get::<LocalAddr>() {
            Some(LocalAddr(local)) if is_loopback_addr(local) => {}
            Some(LocalAddr(local)) => {
                tracing::debug!(
                    target: "scopegate::dev_auth",
                    event = "local_address_rejected",
                    local = %local,
                    path = request.uri().path(),
                    "request on a non-loopback address refused"
                );
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "the development authorization server answers on loopback addresses only",
                );
            }
            None => {
                if !s.warned_unknown_local.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "scopegate::dev_auth",
                        "the development authorization server refuses requests whose local address it cannot see: serve its router with scopegate::http::serve_on or serve_with (not plain axum::serve), or insert scopegate::http::LocalAddr into each request in your own connection loop"
                    );
                }
                tracing::debug!(
                    target: "scopegate::dev_auth",
                    event = "local_address_rejected",
                    local = "unknown",
                    path = request.uri().path(),
                    "request with no known local address refused"
                );
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "the development authorization server cannot tell whether this request arrived on a loopback address, so it refuses it: serve it with scopegate::http::serve_on or serve_with, or insert scopegate::http::LocalAddr in your own server loop",
                );
            }
        }
        if let Some(name) = PROXY_HEADERS
            .iter()
            .find(|name| request.headers().contains_key(**name))
        {
            tracing::debug!(
                target: "scopegate::dev_auth",
                event = "forwarded_rejected",
                header = name,
                path = request.uri().path(),
                "request forwarded by a proxy refused"
            );
            return oauth_error(
                StatusCode::FORBIDDEN,
                "access_denied",
                &format!(
                    "the request carries `{name}`: it came through a proxy or tunnel, and the development authorization server answers programs on this machine only (set DevAuthConfig::allow_non_loopback to override, never with real users)"
                ),
            );
        }
    }
    if !host_allowed(&s.issuer_host, &request) {
        tracing::debug!(
            target: "scopegate::dev_auth",
            event = "host_rejected",
            host = ?request.headers().get(header::HOST),
            path = request.uri().path(),
            "request for a foreign Host refused (DNS rebinding)"
        );
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "the Host header names neither a loopback name nor this server",
        );
    }
    next.run(request).await
}

/// Whether a local address is loopback (an IPv4-mapped IPv6 address counts as its IPv4 one:
/// a dual-stack socket reports `::ffff:127.0.0.1`).
pub(super) fn is_loopback_addr(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// The MCP endpoint's rule (see `host_allowed` in `http`): `Host` (or, in HTTP/2, the
/// authority) must name `localhost`, `127.0.0.1`, `[::1]` or the issuer's own host, with any
/// port. A `Host` that is not text, or an IPv6 literal not closed by `]` and a port, names
/// nothing.
fn host_allowed(issuer_host: &str, request: &Request) -> bool {
    let Some(name) = host::authority(request.headers(), request.uri()).and_then(host::name) else {
        return false;
    };
    ["localhost", "127.0.0.1", "[::1]", issuer_host]
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// CORS for the endpoints a browser-based client calls across origins (metadata, JWKS,
/// registration, token): any origin, no credentials, and the headers MCP clients send on
/// discovery (`mcp-protocol-version`; `dpop` for DPoP-bound clients). `/authorize` and its
/// decision are top-level navigations and get none.
pub(super) fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("dpop"),
        ])
        .allow_credentials(false)
}

pub(super) fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/dev-auth/token");
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn host_names_loopback_or_the_issuer() {
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "dev.internal:8080",
        ] {
            assert!(host_allowed("dev.internal", &request(Some(ok))), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "[::1",
            "[::1]x.evil.example:80",
            "",
        ] {
            assert!(!host_allowed("dev.internal", &request(Some(bad))), "{bad}");
        }
        assert!(!host_allowed("dev.internal", &request(None)), "no Host");
    }

    #[test]
    fn local_addresses() {
        for ok in [
            "127.0.0.1:1",
            "127.9.9.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback_addr(&ok.parse().unwrap()), "{ok}");
        }
        for bad in ["0.0.0.0:1", "192.0.2.2:1", "[::]:1", "[::ffff:10.0.0.1]:1"] {
            assert!(!is_loopback_addr(&bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn loopback_detection() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:3000/x",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "https://example.com",
            "http://localhost.example.com",
            "nonsense",
        ] {
            assert!(!is_loopback_url(bad), "{bad}");
        }
    }
}
