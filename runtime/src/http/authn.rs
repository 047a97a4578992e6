//! Authentication: the bearer token taken from the request and verified, and the
//! `WWW-Authenticate` challenges of the refusals (401, 400, and the 403 step-up).

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;

use super::config::Auth;
use super::refusals;
use super::reply::json_response;
use super::shared::Shared;
use crate::auth::{
    AuthError, Challenge, Credentials, accepted_recently, bearer_credentials, remember_accepted,
};
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Response as RpcResponse, error_code};
use crate::server::Denial;

pub(super) fn header_value(challenge: &Challenge) -> HeaderValue {
    // Challenge values are filtered to visible ASCII and spaces, which HeaderValue accepts.
    HeaderValue::from_str(&challenge.header_value())
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

impl Shared {
    fn challenge(
        &self,
        error: &'static str,
        description: String,
        scope: Option<String>,
    ) -> HeaderValue {
        header_value(&Challenge {
            error: Some(error),
            description: Some(description),
            scope,
            resource_metadata: Some(self.metadata_url.clone()),
        })
    }

    /// Authenticates the request: the principal, or the response refusing it.
    pub(super) async fn authenticate(&self, request: &Parts) -> Result<Principal, Response> {
        let verifier = match &self.auth {
            Auth::Off => return Ok(Principal::anonymous()),
            Auth::Verifier(verifier) => verifier,
        };
        // Where a refusal came from, for the summary of refusals (only refusals ask).
        let client = || self.client_address(&request.extensions, &request.headers);
        // RFC 6750 §2.3 allows tokens in the query; OAuth 2.1 and MCP forbid it. Refuse loudly
        // rather than ignore, so a client leaking tokens into URLs finds out.
        if request.uri.query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
        }) {
            return Err(self.reject_request(
                "access tokens are accepted in the Authorization header only",
                client(),
            ));
        }
        // Two values are as many as it takes to tell "one" from "more than one".
        let mut values = request.headers.get_all(header::AUTHORIZATION).iter();
        let (first, second) = (values.next(), values.next());
        // A client's token is checked once; its later requests only compare it.
        let remembered = match (first, second) {
            (Some(only), None) => accepted_recently(only.as_bytes()),
            _ => None,
        };
        let credentials = || match (first, second) {
            (None, _) => bearer_credentials(&[]),
            (Some(one), None) => bearer_credentials(&[one.as_bytes()]),
            (Some(one), Some(two)) => bearer_credentials(&[one.as_bytes(), two.as_bytes()]),
        };
        let token = match &remembered {
            Some(token) => &**token,
            None => match credentials() {
                Credentials::Bearer(token) => token,
                Credentials::None => {
                    tracing::debug!(target: "scopegate::auth", event = "token_missing", "request without credentials");
                    self.refusals.record(refusals::Kind::TokenMissing, client());
                    return Err(
                        self.unauthorized(self.initial_challenge.clone(), "authorization required")
                    );
                }
                Credentials::Malformed(why) => return Err(self.reject_request(why, client())),
            },
        };
        match verifier.verify(token).await {
            Ok(principal) => {
                if remembered.is_none() {
                    remember_accepted(token);
                }
                tracing::debug!(target: "scopegate::auth", event = "token_accepted", subject = principal.subject(), client_id = principal.client_id(), scopes = %principal.scopes());
                // Kept for token exchange only when some item has downstream APIs.
                Ok(self.server.carry_subject_token(principal, token))
            }
            Err(error) => Err(self.invalid_token(&error, client())),
        }
    }

    #[cold]
    pub(super) fn invalid_token(
        &self,
        error: &AuthError,
        peer: Option<std::net::IpAddr>,
    ) -> Response {
        tracing::debug!(target: "scopegate::auth", event = "token_rejected", reason = error.reason(), "{error}");
        self.refusals.record(refusals::Kind::InvalidToken, peer);
        let challenge = self.challenge(
            "invalid_token",
            error.to_string(),
            self.initial_scope.clone(),
        );
        self.unauthorized(challenge, &error.to_string())
    }

    #[cold]
    fn unauthorized(&self, challenge: HeaderValue, message: &str) -> Response {
        let body = RpcResponse::error(
            None,
            ErrorObject::new(error_code::INVALID_REQUEST, message.to_owned()),
        );
        let mut response = json_response(StatusCode::UNAUTHORIZED, &body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response
    }

    #[cold]
    fn reject_request(&self, why: &'static str, peer: Option<std::net::IpAddr>) -> Response {
        tracing::debug!(target: "scopegate::auth", event = "token_rejected", reason = "invalid_request", "{why}");
        self.refusals.record(refusals::Kind::InvalidRequest, peer);
        let body = RpcResponse::error(None, ErrorObject::new(error_code::INVALID_REQUEST, why));
        let mut response = json_response(StatusCode::BAD_REQUEST, &body);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            self.challenge("invalid_request", why.to_owned(), None),
        );
        response
    }

    /// The 403 step-up challenge: the scope list is what the client holds that we know plus what
    /// the tool needs, because clients in the field replace their scope set with it.
    ///
    /// A 2026-07-28 request is told the scopes of this operation alone, all of them in one
    /// challenge (2026-07-28 authorization, "Scope Challenge Handling").
    ///
    /// A denial that cannot be a 403 ([`Denial::in_band`]) is a JSON-RPC error carrying the same
    /// challenge in `data.wwwAuthenticate`; [`Self::in_stream_denial`] is that error for an
    /// answer that already began as an event stream.
    #[cold]
    pub(super) fn forbidden(
        &self,
        principal: &Principal,
        denial: &Denial,
        modern: bool,
    ) -> Response {
        let challenge = self.step_up_challenge(principal, denial, modern);
        if denial.in_band {
            // The request cannot be repeated as it was (its input state is spent): the
            // challenge travels in the JSON-RPC error, which is the answer.
            let body = denial.to_response_with_challenge(&challenge.header_value());
            return json_response(StatusCode::OK, &body);
        }
        let challenge = header_value(&challenge);
        let body = denial.to_response(None);
        let mut response = json_response(StatusCode::FORBIDDEN, &body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response
    }

    /// A denial in an answer that already began as an event stream: the JSON-RPC error
    /// carrying the challenge a 403 would have had.
    #[cold]
    pub(super) fn in_stream_denial(
        &self,
        principal: &Principal,
        denial: &Denial,
        modern: bool,
    ) -> String {
        let challenge = self.step_up_challenge(principal, denial, modern);
        denial
            .to_response_with_challenge(&challenge.header_value())
            .to_json()
    }

    /// The step-up challenge of `denial` for this caller (see [`Self::forbidden`]).
    fn step_up_challenge(&self, principal: &Principal, denial: &Denial, modern: bool) -> Challenge {
        let held = principal
            .scopes()
            .iter()
            .filter(|s| !modern && self.known_scopes.iter().any(|k| k == s));
        let mut challenge = denial.challenge(held, Some(self.metadata_url.clone()));
        if matches!(self.auth, Auth::Off) {
            // No authorization server to step up with: name the scopes, point at nothing.
            challenge.resource_metadata = None;
        }
        challenge
    }
}
