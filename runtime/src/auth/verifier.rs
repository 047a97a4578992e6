//! What a token verifier is: the [`TokenVerifier`] trait every way of checking a token
//! implements (JWT, introspection, your own), and the [`AuthError`] a refused token gets.

use std::future::Future;
use std::pin::Pin;

use crate::principal::Principal;

/// A boxed future, as [`TokenVerifier`] returns (the trait is used as `dyn`).
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Turns an access token into a [`Principal`], or says why it cannot.
///
/// Implement it to plug in your own token format; [`JwtVerifier`](super::JwtVerifier) (RFC 9068 JWTs checked against
/// the issuer's JWKS) and [`IntrospectionVerifier`](super::IntrospectionVerifier) (RFC 7662, for opaque tokens) come with
/// scopegate. An implementation must check that the token was issued *for this server*
/// (audience), not just that it is genuine.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (the credentials of an `Authorization: Bearer` header). A token bound
    /// to a key (`cnf`) is refused ([`AuthError::Bound`]): a bearer request proves no key.
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;

    /// The verdict on a bearer token this verifier remembers, given at once: `None` when it
    /// does not remember `token`, which then goes through [`TokenVerifier::verify`].
    ///
    /// `token` is the `Authorization: Bearer` header's credentials as they arrived, unchecked:
    /// answer only for bytes equal to a token [`TokenVerifier::verify`] checked before. The
    /// transport asks first for every bearer request, so that a client's later requests cost a
    /// lookup, without the syntax check, the future and its box. An answer must be what
    /// `verify` would give (a token expired or whose key was withdrawn since is not
    /// remembered). The default remembers nothing.
    fn verify_remembered(&self, token: &[u8]) -> Option<Result<Principal, AuthError>> {
        let _ = token;
        None
    }

    /// Verifies `token` sent with a DPoP proof (`Authorization: DPoP`, RFC 9449 §7.1): every
    /// check of [`TokenVerifier::verify`], except that the token must be bound to a DPoP key
    /// ([`KeyBinding::Dpop`](crate::KeyBinding::Dpop), from `cnf.jkt`; else
    /// [`AuthError::NotBound`]). The caller checks the proof and compares its key with the
    /// principal's binding.
    ///
    /// The default refuses every token ([`AuthError::DpopUnsupported`]): a verifier accepts
    /// DPoP only when it says so.
    fn verify_dpop<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        let _ = token;
        Box::pin(std::future::ready(Err(AuthError::DpopUnsupported)))
    }

    /// Whether the verifier can verify tokens now (the readiness endpoint asks; see
    /// [`crate::http::HttpConfig::health_checks`]). The default is always ready; a verifier
    /// that needs something fetched first may try to fetch it here.
    fn ready(&self) -> ReadyFuture<'_> {
        Box::pin(std::future::ready(true))
    }

    /// Checks the URLs the verifier will call that it knows before any token arrives (a
    /// configured issuer, JWKS or introspection endpoint): a router built with it refuses a
    /// plain `http://` one to a host that is not loopback, at once rather than at the first
    /// token (see [`crate::transport_security`]). The default has nothing to check.
    fn check_urls(&self) -> Result<(), crate::transport_security::InsecureHttp> {
        Ok(())
    }

    /// What an operator must know although tokens can be verified, e.g. an issuer whose
    /// metadata does not list PKCE's `S256` (the readiness endpoint lists these). The default
    /// has none.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Starts, in the background, what the verifier can fetch before any token arrives (a JWT
    /// verifier's keys, and its issuer's metadata, whose lack of PKCE's `S256` is then warned
    /// about at start rather than at the first token). Called when a router is built with it,
    /// inside a tokio runtime; must never block nor fail: a fetch that fails is only logged,
    /// and the first token or readiness probe tries again. The default does nothing.
    fn warm_up(&self) {}
}

/// A boxed future, as [`TokenVerifier::ready`] returns.
pub type ReadyFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Why a token was refused. [`AuthError::reason`] is a stable, machine-readable name used in
/// `tracing` events; the `Display` text is safe to send to the client as `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not a well-formed token.
    #[error("the access token is malformed")]
    Malformed,
    /// The header names an algorithm this server does not accept for the key.
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    /// The header's `typ` is not the configured access-token type.
    #[error("the token is not an access token (typ)")]
    Type,
    /// The header lists a critical extension this server does not understand.
    #[error("the token uses an unsupported critical header")]
    Critical,
    /// No key of the issuer matches the token.
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is missing or in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another authorization server")]
    Issuer,
    /// `aud` does not contain this server's canonical URI.
    #[error("the token was issued for another resource")]
    Audience,
    /// A claim has the wrong type or a required one is missing.
    #[error("the token's claims are invalid")]
    Claims,
    /// The authorization server said the token is not active (introspection).
    #[error("the token is not active")]
    Inactive,
    /// The token is bound to a key (`cnf`: DPoP or mutual TLS), whose proof of possession a
    /// bearer request does not carry.
    #[error("the token is bound to a key (cnf) and cannot be used as a bearer token")]
    Bound,
    /// A DPoP request (`Authorization: DPoP`) whose token is not bound to a DPoP key
    /// (`cnf.jkt`): the proof would prove nothing about it.
    #[error("the token is not bound to a DPoP key (cnf.jkt)")]
    NotBound,
    /// A DPoP request to a verifier that cannot check bound tokens.
    #[error("DPoP-bound tokens are not accepted here")]
    DpopUnsupported,
    /// The issuer's keys (or introspection endpoint) could not be reached and nothing usable is
    /// cached.
    #[error("the authorization server could not be reached to check the token")]
    Unavailable,
}

impl AuthError {
    /// A stable name for logs and metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::Type => "type",
            Self::Critical => "critical_header",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Claims => "claims",
            Self::Inactive => "inactive",
            Self::Bound => "bound",
            Self::NotBound => "not_bound",
            Self::DpopUnsupported => "dpop_unsupported",
            Self::Unavailable => "unavailable",
        }
    }
}
