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
        let key = limit::AddressKey::of(client);
        // Without a shared store, answered at once: no future is made for it.
        let wait = match limiter.check_now(&key) {
            Some(answer) => answer,
            None => limiter.check(&key).await,
        }
        .err()?;
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
    // Joined only when there is a session's record to load: a request to a server without a
    // shared session store waits for its limit alone.
    let (limited, preloaded) = if stored_sessions(shared) {
        tokio::join!(limited, preload)
    } else {
        (limited.await, None)
    };
    if let Err(wait) = limited {
        return Err(principal_limited(shared, principal, parts, peer, wait));
    }
    Ok(preloaded)
}

/// [`limit_and_preload`]'s answer at once, when it has nothing to wait for (no session's record
/// to load, no shared store to ask): the per-principal limit kept in this process, checked with
/// no future made (or boxed) for it. `None` when there is something to wait for: then
/// [`limit_and_preload`] does it all.
pub(super) fn limit_principal_now(
    shared: &Shared,
    principal: &Principal,
    parts: &Parts,
    peer: Option<IpAddr>,
) -> Option<Result<(), Response>> {
    if stored_sessions(shared) {
        return None;
    }
    let limiter = match &shared.per_principal {
        Some(limiter) if matches!(shared.auth, Auth::Verifier(_)) => limiter,
        _ => return Some(Ok(())),
    };
    if limiter.is_shared() {
        return None;
    }
    let key = session::principal_key(principal, &parts.headers);
    Some(
        limiter
            .check_now(&key)?
            .map_err(|wait| principal_limited(shared, principal, parts, peer, wait)),
    )
}

/// Whether sessions are kept in a shared store, whose record of a request's session
/// [`limit_and_preload`] loads beside the limit. Sessions kept in this process have nothing to
/// load ahead: their requests are limited at once, as a stateless server's are.
fn stored_sessions(shared: &Shared) -> bool {
    shared
        .sessions
        .as_ref()
        .is_some_and(|sessions| sessions.store().is_some())
}

/// `429` for a principal over its limit, logged and recorded.
#[cold]
#[inline(never)]
fn principal_limited(
    shared: &Shared,
    principal: &Principal,
    parts: &Parts,
    peer: Option<IpAddr>,
    wait: std::time::Duration,
) -> Response {
    tracing::debug!(target: "scopegate::http", event = "rate_limited", subject = principal.subject(), "per-principal rate limit");
    let client = shared.client_address(peer, &parts.headers);
    shared.refusals.record(refusals::Kind::RateLimited, client);
    too_many(
        StatusCode::TOO_MANY_REQUESTS,
        wait,
        "too many requests: slow down",
    )
}
