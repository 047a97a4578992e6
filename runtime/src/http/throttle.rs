//! The rate limits as the endpoint applies them: per client address (first, before anything
//! else is read) and per principal (after authentication, joined with a session's preload).

use std::net::IpAddr;

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::config::Auth;
use super::headers::session_id;
use super::limit;
use super::refusals;
use super::reply::too_many;
use super::session::{self, Preloaded};
use super::shared::Shared;
use crate::principal::Principal;

impl Shared {
    /// The per-address rate limit, when the client's address is known: the refusal, if any.
    pub(super) async fn limit_address(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let limiter = self.per_address.as_ref()?;
        let client = self.client_address(peer, headers)?;
        let wait = limiter.check(&limit::AddressKey::of(client)).await.err()?;
        tracing::debug!(target: "scopegate::http", event = "rate_limited", address = %client, "per-address rate limit");
        self.refusals
            .record(refusals::Kind::RateLimited, Some(client));
        Some(too_many(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            "too many requests: slow down",
        ))
    }
}

/// The per-principal rate limit and, for a session kept in a shared store, its record: with
/// shared stores both commands leave together, one round trip of waiting instead of two.
pub(super) async fn limit_and_preload(
    shared: &Shared,
    principal: &Principal,
    parts: &Parts,
    peer: Option<IpAddr>,
) -> Result<Option<Box<Preloaded>>, Response> {
    let limited = async {
        match &shared.per_principal {
            // Every authenticated caller, a sub-less one by its token's digest (`principal_key`).
            Some(limiter) if matches!(shared.auth, Auth::Verifier(_)) => {
                limiter
                    .check(&session::principal_key(principal, &parts.headers))
                    .await
            }
            _ => Ok(()),
        }
    };
    let preload = async {
        match (&shared.sessions, session_id(&parts.headers)) {
            (Some(sessions), Some(id)) if parts.method != Method::DELETE => {
                sessions.preload(id).await.map(Box::new)
            }
            _ => None,
        }
    };
    // Joined only when there is a session's record to load: a stateless server's request
    // waits for its limit alone.
    let (limited, preloaded) = if shared.sessions.is_some() {
        tokio::join!(limited, preload)
    } else {
        (limited.await, None)
    };
    if let Err(wait) = limited {
        tracing::debug!(target: "scopegate::http", event = "rate_limited", subject = principal.subject(), "per-principal rate limit");
        let client = shared.client_address(peer, &parts.headers);
        shared.refusals.record(refusals::Kind::RateLimited, client);
        return Err(too_many(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            "too many requests: slow down",
        ));
    }
    Ok(preloaded)
}
