//! Authentication: the `TokenVerifier` trait and its implementations, reading the bearer token
//! from a request, and the `WWW-Authenticate` challenges of RFC 6750 and the MCP authorization
//! specification.
//!
//! Every failure fails closed: a token that fails any check yields an [`AuthError`], never a
//! principal with fewer rights.
//!
//! The client side of token exchange (RFC 8693) lives here too: [`TokenExchange`] gets a
//! downstream API's token for the caller's, which tools reach through
//! [`Downstream`](crate::Downstream) without ever seeing the caller's token.

mod bearer;
mod claims;
mod client_auth;
mod dpop;
mod dpop_keys;
mod dpop_nonce;
mod exchange;
mod exchange_cache;
mod exchange_error;
mod introspection;
mod issued_token;
mod jwks;
mod jws;
mod jwt;
mod jwt_config;
mod recent;
mod secret;
mod steps;
mod verified;
mod verifier;

pub use crate::challenge::{AuthScheme, Challenge};
pub use bearer::{Credentials, bearer_credentials, credentials};
pub(crate) use bearer::{accepted_recently, bearer_token, remember_accepted};
pub use claims::principal_from_claims;
pub use client_auth::ClientAuth;
pub use dpop::{
    DpopConfig, MAX_PROOF_BYTES, Proof, ProofError, ProofTarget, one_proof, thumbprint, token_hash,
    verify_proof, verify_proof_cached,
};
pub use dpop_keys::ProofKeys;
pub use dpop_nonce::{DpopNonces, NonceVerdict};
pub use exchange::{ExchangeTarget, TOKEN_EXCHANGE_GRANT, TokenExchange};
pub use exchange_error::{ExchangeError, ExchangeErrorCode};
pub use introspection::{IntrospectionConfig, IntrospectionVerifier};
pub use issued_token::DownstreamToken;
pub use jwt::JwtVerifier;
pub use jwt_config::{ASYMMETRIC_ALGORITHMS, JwtConfig};
// The development server compares its client secrets with it.
#[cfg(feature = "dev-auth")]
pub(crate) use secret::constant_time_eq;
pub use steps::{CheckOutcome, TokenCheck, TokenExplanation};
pub use verifier::{AuthError, ReadyFuture, TokenVerifier, VerifyFuture};
