//! [`ExchangeError`]: why a token exchange (RFC 8693) gave no token. No variant holds either
//! token: what the issuer says is clipped, and scrubbed of the subject token should it echo it.

use std::fmt;

use crate::fetch::FetchError;

/// The `error` of an RFC 8693 §2.2.2 (RFC 6749 §5.2) error response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or unsupported, or the subject token
    /// is of a type the issuer does not exchange.
    InvalidRequest,
    /// `invalid_client`: this server's client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the subject token is invalid, expired or not exchangeable.
    InvalidGrant,
    /// `unauthorized_client`: this server's client may not use the exchange grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the issuer does not support token exchange.
    UnsupportedGrantType,
    /// `invalid_scope`: the scopes asked for are not allowed.
    InvalidScope,
    /// `invalid_target` (RFC 8693 §2.2.2): the issuer will not issue a token for this
    /// downstream API (its policy does not allow it, or it does not know it).
    InvalidTarget,
    /// Another code.
    Other(String),
}

impl ExchangeErrorCode {
    /// The code as it came.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::Other(code) => code,
        }
    }

    pub(crate) fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            other => Self::Other(crate::clip::clip(other, 64).into_owned()),
        }
    }
}

impl fmt::Display for ExchangeErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token exchange gave no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The issuer answered with an RFC 8693 §2.2.2 error.
    #[error("the authorization server refused the exchange: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The `error` code.
        code: ExchangeErrorCode,
        /// The `error_description`, clipped.
        description: Option<String>,
    },
    /// The issuer did not answer in time.
    #[error("the authorization server did not answer in time ({url})")]
    Timeout {
        /// The token endpoint.
        url: String,
    },
    /// The request failed: the issuer could not be reached or answered with an HTTP error that
    /// is no OAuth error, or its token endpoint was not found (discovery) or not used (a plain
    /// `http` URL to a host that is not loopback).
    #[error("the token exchange request failed: {0}")]
    Unreachable(FetchError),
    /// An answer that is neither a token nor an OAuth error.
    #[error("the authorization server's answer is not a usable token: {0}")]
    InvalidResponse(String),
    /// The issued token is a JWT for another audience than the API asked for: refused, so it
    /// is never sent where it was not meant to go.
    #[error("the authorization server issued a token for {found}, not for {expected}")]
    WrongAudience {
        /// The API asked for.
        expected: String,
        /// The token's `aud`, clipped.
        found: String,
    },
    /// The client assertion (`private_key_jwt`) could not be signed.
    #[error("{0}")]
    ClientAuth(String),
}

impl ExchangeError {
    /// The issuer's error code, when it answered with one.
    #[must_use]
    pub fn code(&self) -> Option<&ExchangeErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A short name for logs: the issuer's code, or what went wrong.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Self::Refused { code, .. } => code.as_str(),
            Self::Timeout { .. } => "timeout",
            Self::Unreachable(_) => "unreachable",
            Self::InvalidResponse(_) => "invalid_response",
            Self::WrongAudience { .. } => "wrong_audience",
            Self::ClientAuth(_) => "client_auth",
        }
    }
}

/// Text the issuer sent, fit for an error message: clipped, and with the subject token (should
/// the issuer echo it) blotted out.
pub(crate) fn from_issuer(text: &str, subject: &str) -> String {
    let text = if subject.len() >= 8 && text.contains(subject) {
        text.replace(subject, "[subject token]")
    } else {
        text.to_owned()
    };
    crate::clip::clip(&text, 200).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_they_came() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_target",
            "made_up",
        ] {
            assert_eq!(ExchangeErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(
            ExchangeErrorCode::parse("invalid_target"),
            ExchangeErrorCode::InvalidTarget
        );
    }

    #[test]
    fn issuer_text_never_carries_the_subject_token() {
        let subject = "eyJhbGciOiJFUzI1NiJ9.payload.signature";
        let text = from_issuer(&format!("token {subject} is expired"), subject);
        assert_eq!(text, "token [subject token] is expired");
        assert!(from_issuer(&"x".repeat(1000), subject).len() < 230);
    }
}
