//! Authentication: the bearer token taken from the request and verified, and the
//! `WWW-Authenticate` challenges of the refusals (401, 400, and the 403 step-up).

use std::net::IpAddr;

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;

use super::config::Auth;
use super::dpop::{DPOP_NONCE_HEADER, Dpop, Refusal};
use super::refusals;
use super::reply::{json_response, too_many};
use super::shared::Shared;
use crate::auth::{
    AuthError, Challenge, Credentials, ProofError, TokenVerifier, accepted_recently, bearer_token,
    credentials, remember_accepted,
};
use crate::principal::{KeyBinding, Principal};
use crate::protocol::{ErrorObject, Response as RpcResponse, error_code};
use crate::server::Denial;

pub(super) fn header_value(challenge: &Challenge) -> HeaderValue {
    // Challenge values are filtered to visible ASCII and spaces, which HeaderValue accepts.
    HeaderValue::from_str(&challenge.header_value())
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The value of a `WWW-Authenticate` header holding `bearer` and, when the endpoint accepts DPoP,
/// the challenge offering it (RFC 9449 §7.2: one header may list both schemes; clients read the
/// first).
pub(super) fn bearer_header(bearer: &Challenge, dpop: Option<&Dpop>) -> HeaderValue {
    match dpop {
        None => header_value(bearer),
        Some(dpop) => {
            HeaderValue::from_str(&format!("{}, {}", bearer.header_value(), dpop.offer()))
                .unwrap_or_else(|_| header_value(bearer))
        }
    }
}

impl Shared {
    fn challenge(
        &self,
        error: &'static str,
        description: String,
        scope: Option<String>,
    ) -> HeaderValue {
        let challenge = Challenge {
            error: Some(error),
            description: Some(description),
            scope,
            resource_metadata: Some(self.metadata_url.clone()),
            ..Challenge::default()
        };
        bearer_header(&challenge, self.dpop.as_ref())
    }

    /// Authenticates the request: the principal, or the response refusing it. `authorization`:
    /// its first two `Authorization` values (as many as it takes to tell one from more than
    /// one), found with its other headers.
    pub(super) async fn authenticate(
        &self,
        request: &Parts,
        peer: Option<IpAddr>,
        authorization: [Option<&HeaderValue>; 2],
    ) -> Result<Principal, Response> {
        let verifier = match &self.auth {
            Auth::Off => return Ok(Principal::anonymous()),
            Auth::Verifier(verifier) => verifier,
        };
        // Where a refusal came from, for the summary of refusals (only refusals ask).
        let client = || self.client_address(peer, &request.headers);
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
        let [first, second] = authorization;
        let bearer_refused = self.dpop.as_ref().is_some_and(Dpop::required);
        // A token the verifier remembers is answered at once: its bytes equal a token that
        // passed every check below, so they are not checked again.
        if let (Some(only), None) = (first, second)
            && !bearer_refused
            && let Some(token) = bearer_token(only.as_bytes())
            && let Some(verdict) = verifier.verify_remembered(token)
        {
            return self.bearer_verdict(verdict, token, client);
        }
        // A client's token is checked once; its later requests only compare it.
        let remembered = match (first, second) {
            (Some(only), None) => accepted_recently(only.as_bytes()),
            _ => None,
        };
        let credentials = || match (first, second) {
            (None, _) => credentials(&[]),
            (Some(one), None) => credentials(&[one.as_bytes()]),
            (Some(one), Some(two)) => credentials(&[one.as_bytes(), two.as_bytes()]),
        };
        let token = match &remembered {
            Some(token) => &**token,
            None => match credentials() {
                Credentials::Bearer(token) => token,
                Credentials::Dpop(token) => {
                    return Box::pin(self.authenticate_dpop(&**verifier, request, peer, token))
                        .await;
                }
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
        if let Some(dpop) = self.dpop.as_ref().filter(|_| bearer_refused) {
            return Err(self.dpop_refusal(
                dpop,
                "invalid_token",
                "this resource accepts DPoP-bound tokens only",
                "bearer_refused",
                client(),
            ));
        }
        let verdict = verifier.verify(token).await;
        if verdict.is_ok() && remembered.is_none() {
            remember_accepted(token);
        }
        self.bearer_verdict(verdict, token.as_bytes(), client)
    }

    /// The principal of a bearer token `verdict` is about, or the 401 refusing it.
    fn bearer_verdict(
        &self,
        verdict: Result<Principal, AuthError>,
        token: &[u8],
        client: impl FnOnce() -> Option<std::net::IpAddr>,
    ) -> Result<Principal, Response> {
        match verdict {
            // A verifier of the user's may build principals from claims without judging `cnf`:
            // a token bound to a key is still no bearer token (RFC 9449 §7.1).
            Ok(principal) if *principal.key_binding() != KeyBinding::None => {
                Err(self.invalid_token(&AuthError::Bound, client()))
            }
            Ok(principal) => {
                tracing::debug!(target: "scopegate::auth", event = "token_accepted", subject = principal.subject(), client_id = principal.client_id(), scopes = %principal.scopes());
                // Kept for token exchange only when some item has downstream APIs.
                Ok(self.server.carry_subject_token(principal, token))
            }
            Err(error) => Err(self.invalid_token(&error, client())),
        }
    }

    /// A request in the `DPoP` scheme: its proof and its token (see [`Dpop::authenticate`]).
    #[cold]
    async fn authenticate_dpop(
        &self,
        verifier: &dyn TokenVerifier,
        request: &Parts,
        peer: Option<IpAddr>,
        token: &str,
    ) -> Result<Principal, Response> {
        let client = || self.client_address(peer, &request.headers);
        let Some(dpop) = &self.dpop else {
            return Err(self.invalid_token(&AuthError::DpopUnsupported, client()));
        };
        match dpop.authenticate(verifier, request, token).await {
            Ok(principal) => {
                tracing::debug!(target: "scopegate::auth", event = "token_accepted", scheme = "DPoP", subject = principal.subject(), client_id = principal.client_id(), scopes = %principal.scopes());
                Ok(principal)
            }
            Err(Refusal::Token(error)) => Err(self.dpop_refusal(
                dpop,
                "invalid_token",
                &error.to_string(),
                error.reason(),
                client(),
            )),
            Err(Refusal::Proof(error)) => {
                let mut response = self.dpop_refusal(
                    dpop,
                    error.error_code(),
                    &error.to_string(),
                    error.reason(),
                    client(),
                );
                if error == ProofError::Nonce
                    && let Some(nonce) = dpop.fresh_nonce()
                {
                    response.headers_mut().insert(DPOP_NONCE_HEADER, nonce);
                }
                Err(response)
            }
            Err(Refusal::Store) => Err(too_many(
                StatusCode::SERVICE_UNAVAILABLE,
                std::time::Duration::from_secs(1),
                "DPoP proofs cannot be checked for replay now",
            )),
        }
    }

    /// A 401 in the `DPoP` scheme: `error` (`invalid_token`, `invalid_dpop_proof`,
    /// `use_dpop_nonce`) with `algs`.
    #[cold]
    fn dpop_refusal(
        &self,
        dpop: &Dpop,
        error: &'static str,
        description: &str,
        reason: &'static str,
        peer: Option<std::net::IpAddr>,
    ) -> Response {
        tracing::debug!(target: "scopegate::auth", event = "token_rejected", scheme = "DPoP", reason, "{description}");
        self.refusals.record(refusals::Kind::InvalidToken, peer);
        let scope = (error == "invalid_token")
            .then(|| self.initial_scope.clone())
            .flatten();
        let challenge = dpop.challenge(
            Some(error),
            Some(description.to_owned()),
            scope,
            Some(self.metadata_url.clone()),
        );
        self.unauthorized(header_value(&challenge), description)
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
        // Answered in the scheme the client used (RFC 9449 §7.1): a principal bound to a DPoP
        // key came with a proof.
        if let (Some(dpop), KeyBinding::Dpop(_)) = (&self.dpop, principal.key_binding()) {
            challenge = dpop.challenge(
                challenge.error,
                challenge.description,
                challenge.scope,
                challenge.resource_metadata,
            );
        }
        if matches!(self.auth, Auth::Off) {
            // No authorization server to step up with: name the scopes, point at nothing.
            challenge.resource_metadata = None;
        }
        challenge
    }
}
