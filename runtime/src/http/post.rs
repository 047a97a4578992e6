//! POST: a JSON-RPC message from the client, checked (media type, body, version headers) and
//! placed on its connection (the session's, or one of its own), then answered.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;

use super::body::{RequestBody, read_body};
use super::head::Media;
use super::headers::{HeaderVersion, check_modern_headers, session_id};
use super::listen::listen;
use super::param_headers::check_param_headers;
use super::refusals;
use super::reply::{
    json_response, rpc_error, session_failure, session_refused, unsupported_version,
};
use super::respond::respond;
use super::response_body::{Answer, answer};
use super::session::{Owner, Preloaded, SessionError};
use super::shared::Shared;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Message, Method, Response as RpcResponse, error_code};
use crate::server::Core;

#[allow(clippy::manual_async_fn)]
pub(super) fn post(
    shared: &Arc<Shared>,
    principal: Principal,
    // The peer by reference: the endpoint's boxed future holds this one, and each byte here
    // is one there (it sits just within the allocator's per-thread cache).
    (parts, peer): (&Parts, &Option<IpAddr>),
    (version, media): (HeaderVersion<'_>, Media),
    mut body: RequestBody,
    preloaded: Option<Box<Preloaded>>,
) -> impl Future<Output = Answer> {
    async move {
        if !media.json {
            shared.bad_request(parts, *peer, 415);
            return answer(rpc_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error_code::INVALID_REQUEST,
                "Content-Type must be application/json",
            ));
        }
        let bytes = match read_body(shared, &mut body, parts, *peer).await {
            Ok(bytes) => bytes,
            Err(response) => {
                // 408 is counted where it is decided; 413 and an unreadable body here.
                if response.status() != StatusCode::REQUEST_TIMEOUT {
                    shared.bad_request(parts, *peer, response.status().as_u16());
                }
                return answer(response);
            }
        };
        // A `tools/call` comes with its params read in the same pass, `_meta` included (the
        // body is kept, shared, for what is read of it later).
        let mut message = match Message::read_shared(&bytes) {
            Ok(message) => message,
            Err(response) => {
                shared.bad_request(parts, *peer, 400);
                return answer(json_response(StatusCode::BAD_REQUEST, &response));
            }
        };
        if let HeaderVersion::Unknown(requested) = version {
            let id = match &message {
                Message::Request(request) => Some(request.id.clone()),
                _ => None,
            };
            return answer(unsupported_version(
                id,
                &String::from_utf8_lossy(requested.as_bytes()),
            ));
        }

        if let Message::Request(request) = &mut message
            && let Some(modern) = request.take_modern(version.is_modern())
        {
            if let Err(mismatch) =
                check_modern_headers(&parts.headers, request, &modern).and_then(|()| {
                    check_param_headers(&parts.headers, request, &modern, &shared.server)
                })
            {
                return answer(json_response(
                    StatusCode::BAD_REQUEST,
                    &RpcResponse::error(
                        Some(request.id.clone()),
                        ErrorObject::new(error_code::HEADER_MISMATCH, mismatch),
                    ),
                ));
            }
            // A long-lived stream of its own, not a request's (boxed: rarer than the rest).
            if request.method == Method::Listen {
                let id = request.id.clone();
                return answer(
                    Box::pin(listen(shared, principal, message, id, parts, *peer)).await,
                );
            }
            return respond(
                shared,
                principal,
                message,
                shared.modern_connection(),
                None,
                Some(modern),
                media.event_stream,
            )
            .await;
        }
        if version.is_modern()
            && let (Message::Request(request), HeaderVersion::Known(version)) = (&message, version)
        {
            return answer(json_response(
                StatusCode::BAD_REQUEST,
                &RpcResponse::error(
                    Some(request.id.clone()),
                    ErrorObject::new(
                        error_code::INVALID_PARAMS,
                        format!(
                            "a {version} request carries `_meta` with `io.modelcontextprotocol/protocolVersion` and `io.modelcontextprotocol/clientCapabilities`"
                        ),
                    ),
                ),
            ));
        }

        let is_initialize =
            matches!(&message, Message::Request(r) if r.method == Method::Initialize);
        let is_request = matches!(&message, Message::Request(_));
        if shared.sessions.is_some()
            && let Err(error) = shared.may_own(&principal)
        {
            return answer(session_refused(&error));
        }
        // The connection this message belongs to: the session's, or one for this request alone.
        let (connection, new_session) = match &shared.sessions {
            Some(sessions) if is_initialize => {
                let connection = shared.connection(true);
                match Box::pin(sessions.create(Owner::of(&principal), Arc::clone(&connection)))
                    .await
                {
                    Ok(id) => (connection, Some(id)),
                    Err(SessionError::Unavailable) => {
                        return answer(session_refused(&SessionError::Unavailable));
                    }
                    Err(_) => return answer(session_failure()),
                }
            }
            Some(sessions) => match session_id(&parts.headers) {
                None => {
                    return answer(rpc_error(
                        StatusCode::BAD_REQUEST,
                        error_code::INVALID_REQUEST,
                        "missing Mcp-Session-Id: send initialize first",
                    ));
                }
                Some(id) => {
                    // Sessions kept in this process are checked at once; a shared store's
                    // record is awaited.
                    let checked = match sessions.check_now(id, Owner::key_of(&principal)) {
                        Some(checked) => checked,
                        None => {
                            Box::pin(sessions.check(
                                id,
                                &Owner::of(&principal),
                                || shared.connection(true),
                                preloaded.map(|p| *p),
                            ))
                            .await
                        }
                    };
                    match checked {
                        Ok(connection) => (connection, None),
                        Err(SessionError::Unavailable) => {
                            return answer(session_refused(&SessionError::Unavailable));
                        }
                        Err(_) => {
                            // Unknown, ended, or someone else's: audited, since the last is a
                            // hijack.
                            tracing::debug!(target: "scopegate::auth", event = "session_rejected", subject = principal.subject(), "request on a session that is not the caller's");
                            let client = shared.client_address(*peer, &parts.headers);
                            shared
                                .refusals
                                .record(refusals::Kind::SessionRejected, client);
                            return answer(rpc_error(
                                StatusCode::NOT_FOUND,
                                error_code::INVALID_REQUEST,
                                "session not found",
                            ));
                        }
                    }
                }
            },
            None => (shared.connection(false), None),
        };

        // With a shared store, the session whose changes go back to it after this message.
        let stored_session = shared
            .sessions
            .as_ref()
            .filter(|s| s.store().is_some())
            .and_then(|_| {
                new_session
                    .clone()
                    .or_else(|| session_id(&parts.headers).map(String::from))
            });

        // Notifications and the client's answers: handled at once, 202 with no body.
        let response = if is_request {
            respond(
                shared,
                principal,
                message,
                connection,
                new_session,
                None,
                media.event_stream,
            )
            .await
        } else {
            // Boxed: a request's future should not carry the room of this rarer path.
            let _ = Box::pin(Core::handle_in(
                &shared.server,
                message,
                &principal,
                &connection,
                None,
            ))
            .await;
            answer(StatusCode::ACCEPTED.into_response())
        };
        if let (Some(sessions), Some(id)) = (&shared.sessions, stored_session)
            && let Err(error) = Box::pin(sessions.save_changes(&id)).await
        {
            // Only initialize, `logging/setLevel` and subscriptions change a session, and all
            // three may be sent again: the client retries rather than carrying on with a session
            // the other replicas see differently.
            return answer(session_refused(&error));
        }
        response
    }
}
