//! The state every request of the MCP endpoint reads, built once with the router, and the
//! small services on it that every step uses: a request's connection, its session owner, its
//! client address, and counting a body refused before it was understood.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::HeaderValue;
use axum::http::request::Parts;

use super::config::{Auth, DenialMode};
use super::limit;
use super::proxy::{self, TrustedProxies};
use super::refusals;
use super::session::{Owner, SessionError, Sessions};
use crate::connection::Connection;
use crate::principal::Principal;
use crate::server::Core;

/// What every request of the MCP endpoint reads: built once, with the router.
pub(super) struct Shared {
    pub(super) server: Core,
    pub(super) auth: Auth,
    /// DPoP, when the endpoint accepts it.
    pub(super) dpop: Option<super::dpop::Dpop>,
    pub(super) resource_origin: String,
    pub(super) metadata_url: String,
    pub(super) metadata_json: Bytes,
    pub(super) known_scopes: Vec<String>,
    pub(super) initial_challenge: HeaderValue,
    pub(super) initial_scope: Option<String>,
    pub(super) sessions: Option<Sessions>,
    pub(super) denial: DenialMode,
    pub(super) max_body_bytes: usize,
    pub(super) body_timeout: std::time::Duration,
    pub(super) allowed_origins: Vec<String>,
    pub(super) allow_loopback_origins: bool,
    /// Host names accepted in `Host` (`None`: any).
    pub(super) allowed_hosts: Option<Vec<String>>,
    /// The resource's own authority as clients send it in `Host` (lowercase, port when not the
    /// scheme's default): the common case, accepted on one comparison.
    pub(super) resource_authority: Option<String>,
    pub(super) concurrency: limit::InFlightLimit,
    /// Open `subscriptions/listen` streams, bounded per principal and in all.
    pub(super) listens: Arc<limit::StreamLimit>,
    pub(super) per_address: Option<limit::RateLimit>,
    pub(super) per_principal: Option<limit::RateLimit>,
    pub(super) proxies: Option<TrustedProxies>,
    pub(super) handler_timeout: Option<std::time::Duration>,
    /// Refusals counted for the INFO summary (their own events are at DEBUG).
    pub(super) refusals: Arc<refusals::Refusals>,
}

impl Shared {
    /// A new client connection with this transport's handler timeout. Sessions register theirs
    /// with the server (resource updates reach them); a one-request connection needs not, and
    /// the hot path stays free of the registry's lock.
    pub(super) fn connection(&self, session: bool) -> Arc<Connection> {
        let connection = if session {
            self.server.connect()
        } else {
            Connection::one_request()
        };
        connection.set_handler_timeout(self.handler_timeout);
        connection
    }

    /// The connection of one 2026-07-28 request, with this transport's handler timeout: the
    /// request is served on it, its `_meta` taken when it is admitted.
    pub(super) fn modern_connection(&self) -> Arc<Connection> {
        let connection = Connection::one_modern_request();
        connection.set_handler_timeout(self.handler_timeout);
        connection
    }

    /// The owner of `principal`'s sessions (none for an authenticated caller without a subject).
    pub(super) fn owner(&self, principal: &Principal) -> Result<Owner, SessionError> {
        self.may_own(principal).map(|()| Owner::of(principal))
    }

    /// Whether `principal` may own sessions, as [`Self::owner`] answers it, without making its
    /// owner.
    pub(super) fn may_own(&self, principal: &Principal) -> Result<(), SessionError> {
        let may = Owner::may_own(principal, matches!(self.auth, Auth::Verifier(_)));
        if let Err(SessionError::NoSubject) = may {
            // Refused (403) once per request a valid token without `sub` sends: counted for the
            // INFO summary like the other session refusals (its event is at DEBUG). The address
            // is not at hand on every path that asks: the summary counts it without one.
            self.refusals.record(refusals::Kind::SessionRejected, None);
        }
        may
    }

    /// A body refused before it was understood (400 malformed JSON-RPC, 413, 415): one event at
    /// DEBUG, and counted for the INFO summary, as any client can send one per request.
    #[cold]
    pub(super) fn bad_request(&self, parts: &Parts, peer: Option<IpAddr>, status: u16) {
        tracing::debug!(target: "scopegate::http", event = "bad_request", status, "request body refused");
        let peer = self.client_address(peer, &parts.headers);
        self.refusals.record(refusals::Kind::BadRequest, peer);
    }

    /// The client's address: `peer`'s, or behind trusted proxies the one they forwarded
    /// (see [`HttpConfig::trusted_proxies`](super::HttpConfig::trusted_proxies)); `None` when the peer is not known.
    pub(super) fn client_address(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        proxy::client_of(self.proxies.as_ref(), peer, headers)
    }
}
