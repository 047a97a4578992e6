//! The checks of a JWT access token, one by one, in the order [`super::JwtVerifier`] applies
//! them, and an explanation of one token against them.
//!
//! The verifier runs these steps and stops at the first failure; [`super::JwtVerifier::explain`]
//! runs the same steps, through the same code, and goes on wherever the rest can still be
//! judged (a bad signature does not stop the claims from being read), so a diagnosis cannot
//! drift from what the server really does.

use serde_json::{Map, Value};

use super::verifier::AuthError;

/// One check of a JWT access token. [`TokenCheck::ALL`] lists them in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenCheck {
    /// Three base64url segments, at most 16 KiB in all.
    Shape,
    /// The header decodes to a JSON object (RFC 7515 §5.2).
    Header,
    /// The header's `alg` is an accepted asymmetric algorithm (never `none` nor HMAC).
    Algorithm,
    /// No critical header extension (`crit`, RFC 7515 §4.1.11).
    Critical,
    /// The header's `typ` is the access-token type (`at+jwt`, RFC 9068 §2.1).
    Type,
    /// A key of the issuer's set fits the header's `kid` and `alg`.
    Key,
    /// The signature verifies with that key.
    Signature,
    /// The payload decodes to a JSON object whose members are named once each.
    Payload,
    /// `exp`, `iss` and `aud` are present (RFC 9068 §2.2).
    RequiredClaims,
    /// `exp` and `nbf` are NumericDates (RFC 7519 §2).
    Dates,
    /// `exp` is not past (with the leeway).
    Expiry,
    /// `nbf` is not in the future (with the leeway).
    NotBefore,
    /// `iss` is exactly the issuer.
    Issuer,
    /// `aud` names this resource (RFC 8707, RFC 9068 §4).
    Audience,
    /// `sub` is a string (RFC 9068 §2.2).
    Subject,
    /// No `cnf`: the token is not bound to a key a bearer request cannot prove.
    Binding,
    /// `iat` is not in the future (with the leeway).
    IssuedAt,
    /// `scope` (or `scp`), `sub`, `client_id` have the types a principal is built from.
    Scopes,
}

impl TokenCheck {
    /// Every check, in the order the verifier applies them.
    pub const ALL: [TokenCheck; 18] = [
        Self::Shape,
        Self::Header,
        Self::Algorithm,
        Self::Critical,
        Self::Type,
        Self::Key,
        Self::Signature,
        Self::Payload,
        Self::RequiredClaims,
        Self::Dates,
        Self::Expiry,
        Self::NotBefore,
        Self::Issuer,
        Self::Audience,
        Self::Subject,
        Self::Binding,
        Self::IssuedAt,
        Self::Scopes,
    ];

    /// A short name, stable enough for a report line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Shape => "token shape",
            Self::Header => "token header",
            Self::Algorithm => "token alg",
            Self::Critical => "token crit",
            Self::Type => "token typ",
            Self::Key => "token key (kid)",
            Self::Signature => "token signature",
            Self::Payload => "token payload",
            Self::RequiredClaims => "token exp/iss/aud present",
            Self::Dates => "token dates",
            Self::Expiry => "token exp",
            Self::NotBefore => "token nbf",
            Self::Issuer => "token iss",
            Self::Audience => "token aud",
            Self::Subject => "token sub",
            Self::Binding => "token cnf",
            Self::IssuedAt => "token iat",
            Self::Scopes => "token scopes",
        }
    }
}

/// What one check made of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The check passed.
    Passed,
    /// The check failed, with the error the verifier answers.
    Failed(AuthError),
    /// The check could not be made: something it needs failed before it.
    Skipped,
}

/// Who follows the checks: the verifier stops at the first failure and records nothing; an
/// explanation records every outcome and goes on where it can.
pub(super) trait Follow {
    /// Whether to go on after a failed check.
    const EVERY: bool;
    /// One check's outcome.
    fn record(&mut self, check: TokenCheck, outcome: CheckOutcome);
    /// The payload's claims, once decoded (signature checked or not).
    fn claims(&mut self, claims: &Map<String, Value>);
}

/// The verifier's follower: the first failure ends the verification.
pub(super) struct FirstFailure;

impl Follow for FirstFailure {
    const EVERY: bool = false;

    #[inline(always)]
    fn record(&mut self, _: TokenCheck, _: CheckOutcome) {}

    #[inline(always)]
    fn claims(&mut self, _: &Map<String, Value>) {}
}

/// How a [`super::JwtVerifier`] judges one token: every check in order with its outcome, and
/// the claims as read (whether or not the signature verified). Nothing is remembered by the
/// verifier.
#[derive(Debug, Clone, Default)]
pub struct TokenExplanation {
    steps: Vec<(TokenCheck, CheckOutcome)>,
    claims: Option<Map<String, Value>>,
}

impl TokenExplanation {
    /// Every check of [`TokenCheck::ALL`], in order, with its outcome.
    #[must_use]
    pub fn steps(&self) -> &[(TokenCheck, CheckOutcome)] {
        &self.steps
    }

    /// The first check that failed and why: what the verifier answers. `None`: accepted.
    #[must_use]
    pub fn first_failure(&self) -> Option<(TokenCheck, &AuthError)> {
        self.steps
            .iter()
            .find_map(|(check, outcome)| match outcome {
                CheckOutcome::Failed(error) => Some((*check, error)),
                _ => None,
            })
    }

    /// The payload's claims, if it could be decoded (unverified when the signature failed).
    #[must_use]
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        self.claims.as_ref()
    }

    /// Marks every check not recorded as skipped, in the order of [`TokenCheck::ALL`].
    pub(super) fn finish(mut self) -> Self {
        let recorded = std::mem::take(&mut self.steps);
        self.steps = TokenCheck::ALL
            .iter()
            .map(|check| {
                let outcome = recorded
                    .iter()
                    .find(|(c, _)| c == check)
                    .map_or(CheckOutcome::Skipped, |(_, o)| o.clone());
                (*check, outcome)
            })
            .collect();
        self
    }
}

impl Follow for TokenExplanation {
    const EVERY: bool = true;

    fn record(&mut self, check: TokenCheck, outcome: CheckOutcome) {
        self.steps.push((check, outcome));
    }

    fn claims(&mut self, claims: &Map<String, Value>) {
        self.claims = Some(claims.clone());
    }
}
