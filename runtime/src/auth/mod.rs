//! Authentication: the `TokenVerifier` trait and its implementations, reading the bearer token
//! from a request, and the `WWW-Authenticate` challenges of RFC 6750 and the MCP authorization
//! specification.
//!
//! Every failure fails closed: a token that fails any check yields an [`AuthError`], never a
//! principal with fewer rights.

mod bearer;
mod claims;
mod dpop;
mod dpop_nonce;
mod introspection;
mod jwks;
mod jws;
mod jwt;
mod jwt_config;
mod recent;
mod secret;
mod steps;
mod verifier;

pub use crate::challenge::{AuthScheme, Challenge};
pub use bearer::{Credentials, bearer_credentials, credentials};
pub(crate) use bearer::{accepted_recently, remember_accepted};
pub use claims::principal_from_claims;
pub use dpop::{
    DpopConfig, MAX_PROOF_BYTES, Proof, ProofError, ProofTarget, thumbprint, token_hash,
    verify_proof,
};
pub use dpop_nonce::{DpopNonces, NonceVerdict};
pub use introspection::{IntrospectionConfig, IntrospectionVerifier};
pub use jwt::JwtVerifier;
pub use jwt_config::{ASYMMETRIC_ALGORITHMS, JwtConfig};
// The development server compares its client secrets with it.
#[cfg(feature = "dev-auth")]
pub(crate) use secret::constant_time_eq;
pub use steps::{CheckOutcome, TokenCheck, TokenExplanation};
pub use verifier::{AuthError, ReadyFuture, TokenVerifier, VerifyFuture};
