//! GET: a legacy session's standalone event stream, which ends when the token that opened it
//! does.

use axum::http::StatusCode;
use axum::http::header::HeaderMap;
use axum::response::Response;

use super::headers::session_id;
use super::reply::{method_not_allowed, rpc_error, session_refused};
use super::session::Preloaded;
use super::shared::Shared;
use super::sse::{event_stream, names_event_stream};
use crate::auth::AuthError;
use crate::connection::Outbound;
use crate::principal::Principal;
use crate::protocol::error_code;

/// GET: a legacy session's stream for messages unrelated to a request (resource updates).
pub(super) async fn standalone_stream(
    shared: &Shared,
    principal: &Principal,
    headers: &HeaderMap,
    preloaded: Option<Box<Preloaded>>,
) -> Response {
    let Some(sessions) = &shared.sessions else {
        return method_not_allowed(false);
    };
    if !names_event_stream(headers) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            error_code::INVALID_REQUEST,
            "GET opens an event stream: Accept must include text/event-stream",
        );
    }
    let owner = match shared.owner(principal) {
        Ok(owner) => owner,
        Err(error) => return session_refused(&error),
    };
    let Some(id) = session_id(headers) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        );
    };
    let connection = match sessions
        .check(
            id,
            &owner,
            || shared.connection(true),
            preloaded.map(|p| *p),
        )
        .await
    {
        Ok(connection) => connection,
        Err(error) => return session_refused(&error),
    };
    // A token accepted within the clock leeway past its `exp` opens no stream: one that ended
    // at once would have the client reconnect in a loop.
    let deadline = token_deadline(principal);
    if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
        return shared.invalid_token(&AuthError::Expired, None);
    }
    // Updates follow the scopes of the principal that opened the stream, until a request
    // brings another.
    connection.note_principal(principal);
    let (outbound, mut rx) = Outbound::bounded_channel();
    connection.set_standalone(outbound);
    let messages = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    // The stream ends when the token that opened it does: it would otherwise go on delivering
    // to a client whose access has ended (the client opens another with a fresh token).
    match deadline {
        Some(deadline) => {
            use futures_util::StreamExt as _;
            event_stream(
                messages.take_until(tokio::time::sleep_until(deadline)),
                None,
            )
        }
        None => event_stream(messages, None),
    }
}

/// When the token a principal presented stops being valid: its `exp` claim (a fraction rounded
/// down), or `None` when the verifier gave no `exp`.
pub(super) fn token_deadline(principal: &Principal) -> Option<tokio::time::Instant> {
    let exp = principal.claims().get("exp")?;
    let exp = match exp.as_u64() {
        Some(seconds) => seconds,
        // Past u64's range, the cast saturates: still the far future.
        None => exp.as_f64().filter(|s| *s >= 0.0)?.floor() as u64,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let left = std::time::Duration::from_secs(exp.saturating_sub(now));
    // A deadline past what an `Instant` holds is no deadline.
    tokio::time::Instant::now().checked_add(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_deadline_is_the_tokens_exp() {
        use std::time::Duration;
        let with_exp = |exp: serde_json::Value| {
            let mut claims = serde_json::Map::new();
            claims.insert("exp".into(), exp);
            Principal::builder().claims(claims).build()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let left = |p: &Principal| {
            token_deadline(p).map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        };
        let in_100 = left(&with_exp((now + 100).into())).unwrap();
        assert!(
            in_100 > Duration::from_secs(98) && in_100 <= Duration::from_secs(100),
            "{in_100:?}"
        );
        let fraction = left(&with_exp(serde_json::json!(now as f64 + 100.9))).unwrap();
        assert!(
            fraction <= Duration::from_secs(100),
            "rounded down: {fraction:?}"
        );
        assert_eq!(
            left(&with_exp((now - 30).into())),
            Some(Duration::ZERO),
            "already past"
        );
        assert_eq!(left(&with_exp(u64::MAX.into())), None, "too far to hold");
        assert_eq!(left(&with_exp("soon".into())), None);
        assert_eq!(left(&Principal::anonymous()), None, "no exp, no deadline");
    }
}
