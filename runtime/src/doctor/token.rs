//! The token explanation: every check the server applies, in its order, through the
//! verifier's own code ([`JwtVerifier::explain`]), the first that fails marked, and which tools
//! the token's scopes unlock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::report::Report;
use crate::auth::{AuthError, CheckOutcome, JwtVerifier, TokenCheck, principal_from_claims};
use crate::scope::ScopeSet;

/// The name of the resource-indicator check.
pub(super) const RESOURCE_INDICATORS: &str = "resource indicators";

/// Explains `token` against the verifier (the server's issuer and resource, scopegate's
/// default settings); returns the scopes the token carries, if its claims could be read.
pub(super) async fn explain(
    report: &mut Report,
    verifier: &JwtVerifier,
    token: &str,
) -> Option<ScopeSet> {
    let explanation = verifier.explain(token).await;
    let header = token
        .split('.')
        .next()
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .unwrap_or_default();
    let claims = explanation.claims().cloned().unwrap_or_default();
    let config = verifier.config();
    let first = explanation.first_failure().map(|(check, _)| check);
    let skipped: Vec<&str> = explanation
        .steps()
        .iter()
        .filter(|(_, outcome)| *outcome == CheckOutcome::Skipped)
        .map(|(check, _)| check.name())
        .collect();
    for (check, outcome) in explanation.steps() {
        let found = found(
            *check,
            &header,
            &claims,
            config.issuer.as_str(),
            &config.audience,
        );
        match outcome {
            CheckOutcome::Passed => report.pass(check.name(), found),
            // One line for them all, after the checks made.
            CheckOutcome::Skipped => {}
            CheckOutcome::Failed(error) => {
                let marker = if Some(*check) == first {
                    "FIRST FAILURE, the server refuses the token here: "
                } else {
                    "also: "
                };
                report.fail(
                    check.name(),
                    format!("{marker}{error}; {found}"),
                    fix(*check, error, &config.issuer, &config.audience),
                );
            }
        }
    }
    if !skipped.is_empty() {
        report.skip(
            "token (not checked)",
            format!("{}: an earlier check they need failed", skipped.join(", ")),
        );
    }
    if first.is_none() {
        report.pass(
            "token",
            "accepted by this server's checks (scopegate's default settings)",
        );
    }

    // RFC 8707: a token asked for with `resource` carries that audience.
    match claims.get("aud") {
        Some(aud) if audiences(aud).iter().any(|a| a == &config.audience) => report.pass(
            RESOURCE_INDICATORS,
            format!("the token's `aud` includes `{}`", config.audience),
        ),
        Some(aud) => report.fail(
            RESOURCE_INDICATORS,
            format!("the token's `aud` is {aud}, without `{}`", config.audience),
            format!("have the client ask with `resource={}` (RFC 8707) and configure the authorization server to put that resource in `aud` (an API identifier, an audience mapper)", config.audience),
        ),
        None if explanation.claims().is_some() => report.fail(
            RESOURCE_INDICATORS,
            "the token has no `aud`",
            format!("configure the authorization server to put `{}` in `aud`", config.audience),
        ),
        None => report.skip(RESOURCE_INDICATORS, "the token's claims could not be read"),
    }
    explanation
        .claims()
        .and_then(|claims| principal_from_claims(claims.clone()).ok())
        .map(|principal| principal.scopes().clone())
}

fn audiences(aud: &Value) -> Vec<String> {
    match aud {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// What the token holds that the check looked at.
fn found(
    check: TokenCheck,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    issuer: &str,
    audience: &str,
) -> String {
    let member = |map: &Map<String, Value>, name: &str| {
        map.get(name)
            .map_or_else(|| "absent".to_owned(), Value::to_string)
    };
    let date = |name: &str| match claims.get(name).and_then(Value::as_f64) {
        Some(at) => {
            let now = jsonwebtoken::get_current_timestamp() as f64;
            let delta = at - now;
            if delta > 0.0 {
                format!("{name} {at} (in {} s)", delta as i64)
            } else {
                format!("{name} {at} ({} s ago)", (-delta) as i64)
            }
        }
        None => format!("{name} {}", member(claims, name)),
    };
    match check {
        TokenCheck::Shape => "three dot-separated segments".to_owned(),
        TokenCheck::Header => format!("{} header members", header.len()),
        TokenCheck::Algorithm => format!("alg {}", member(header, "alg")),
        TokenCheck::Critical => format!("crit {}", member(header, "crit")),
        TokenCheck::Type => format!("typ {} (expected at+jwt)", member(header, "typ")),
        TokenCheck::Key => format!("kid {}", member(header, "kid")),
        TokenCheck::Signature => "checked with the key found".to_owned(),
        TokenCheck::Payload => format!("{} claims", claims.len()),
        TokenCheck::RequiredClaims => format!(
            "exp {}, iss {}, aud {}",
            presence(claims, "exp"),
            presence(claims, "iss"),
            presence(claims, "aud")
        ),
        TokenCheck::Dates => format!(
            "exp {}, nbf {}",
            member(claims, "exp"),
            member(claims, "nbf")
        ),
        TokenCheck::Expiry => date("exp"),
        TokenCheck::NotBefore => date("nbf"),
        TokenCheck::Issuer => format!("iss {} (expected \"{issuer}\")", member(claims, "iss")),
        TokenCheck::Audience => format!(
            "aud {} (expected to include \"{audience}\")",
            member(claims, "aud")
        ),
        TokenCheck::Subject => format!("sub {}", member(claims, "sub")),
        TokenCheck::Binding => format!("cnf {}", presence(claims, "cnf")),
        TokenCheck::IssuedAt => date("iat"),
        TokenCheck::Scopes => match (claims.get("scope"), claims.get("scp")) {
            (Some(scope), _) => format!("scope {scope}"),
            (None, Some(scp)) => format!("scp {scp}"),
            (None, None) => "no scope nor scp".to_owned(),
        },
    }
}

fn presence(claims: &Map<String, Value>, name: &str) -> &'static str {
    if claims.get(name).is_some_and(|v| !v.is_null()) {
        "present"
    } else {
        "absent"
    }
}

/// What to change so the check passes.
fn fix(check: TokenCheck, error: &AuthError, issuer: &str, audience: &str) -> String {
    match (check, error) {
        (TokenCheck::Shape | TokenCheck::Header | TokenCheck::Payload, _) => {
            "pass the access token itself (a JWT: three base64url segments), not an ID token, a refresh token or an opaque token (opaque tokens need introspection, RFC 7662)".to_owned()
        }
        (TokenCheck::Algorithm, _) => "sign access tokens with an asymmetric algorithm (RS256, PS256, ES256, ES384, EdDSA); never HS256 or none".to_owned(),
        (TokenCheck::Critical, _) => "issue tokens without `crit` header extensions".to_owned(),
        (TokenCheck::Type, _) => "issue RFC 9068 access tokens (`typ: at+jwt`), or configure the verifier's `token_type` to the provider's (JwtConfig::token_type)".to_owned(),
        (TokenCheck::Key, AuthError::Algorithm) => "the key the `kid` names is of another type than `alg`: sign with the key's own algorithm".to_owned(),
        (TokenCheck::Key, _) => "sign with a key the issuer's JWKS publishes (its `kid` in the header), or publish the key that signed it".to_owned(),
        (TokenCheck::Signature, _) => "the token was altered or signed by another key: get a fresh token from the issuer".to_owned(),
        (TokenCheck::RequiredClaims, _) => "issue tokens with `exp`, `iss` and `aud` (RFC 9068 §2.2)".to_owned(),
        (TokenCheck::Dates, _) => "`exp` and `nbf` must be numbers of seconds since 1970".to_owned(),
        (TokenCheck::Expiry, _) => "get a fresh token (refresh it); if it is fresh, check the clocks of this server and the issuer".to_owned(),
        (TokenCheck::NotBefore | TokenCheck::IssuedAt, _) => "the token is dated in the future: synchronise the clocks of this server and the issuer (NTP)".to_owned(),
        (TokenCheck::Issuer, _) => format!("the token's `iss` must be `{issuer}` exactly (a trailing `/` counts): configure the verifier's issuer as the provider writes it, or the provider's"),
        (TokenCheck::Audience, _) => format!("have the client ask with `resource={audience}` (RFC 8707) and configure the authorization server to put `{audience}` in `aud`"),
        (TokenCheck::Subject, _) => "issue tokens with a string `sub` (RFC 9068 §2.2)".to_owned(),
        (TokenCheck::Binding, _) => "this token is bound to a key (DPoP or mTLS, `cnf`): a client presents it with a proof of that key (`Authorization: DPoP` and a `DPoP` proof, where the server accepts DPoP: HttpConfig::dpop), never as a bearer token; this check judged it as a bearer token".to_owned(),
        (TokenCheck::Scopes, _) => "`scope` must be a space-separated string (or `scp` a string or an array of strings)".to_owned(),
    }
}
