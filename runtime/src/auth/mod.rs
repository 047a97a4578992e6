//! Authentication: the `TokenVerifier` trait and its implementations, reading the bearer token
//! from a request, and the `WWW-Authenticate` challenges of RFC 6750 and the MCP authorization
//! specification.
//!
//! Every failure fails closed: a token that fails any check yields an [`AuthError`], never a
//! principal with fewer rights.

mod introspection;
mod jwks;
mod jws;
mod jwt;
mod recent;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use introspection::{IntrospectionConfig, IntrospectionVerifier};
pub use jwt::{ASYMMETRIC_ALGORITHMS, JwtConfig, JwtVerifier};

use crate::principal::Principal;
use crate::scope::ScopeSet;

/// A boxed future, as [`TokenVerifier`] returns (the trait is used as `dyn`).
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Turns an access token into a [`Principal`], or says why it cannot.
///
/// Implement it to plug in your own token format; [`JwtVerifier`] (RFC 9068 JWTs checked against
/// the issuer's JWKS) and [`IntrospectionVerifier`] (RFC 7662, for opaque tokens) come with
/// scopegate. An implementation must check that the token was issued *for this server*
/// (audience), not just that it is genuine.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (the credentials of an `Authorization: Bearer` header).
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;

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
            Self::Unavailable => "unavailable",
        }
    }
}

/// What the `Authorization` header of a request holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No credentials at all.
    None,
    /// A syntactically valid bearer token.
    Bearer(&'a str),
    /// A header that is not a single, well-formed `Bearer` credential (RFC 6750 §3.1
    /// `invalid_request`).
    Malformed(&'static str),
}

/// Reads the bearer token from the values of every `Authorization` header of a request.
///
/// Exactly what RFC 6750 §2.1 allows and nothing more, because an ambiguous credential is how
/// requests get smuggled: exactly one header, the scheme `Bearer` in any case (RFC 9110 §11.1:
/// auth schemes are case-insensitive), one or more spaces (`1*SP`, never a tab), then a
/// `b64token` and nothing after it.
pub fn bearer_credentials<'a>(values: &[&'a [u8]]) -> Credentials<'a> {
    let value = match values {
        [] => return Credentials::None,
        [value] => *value,
        _ => return Credentials::Malformed("more than one Authorization header"),
    };
    let Some(token) = strip_bearer_scheme(value) else {
        return Credentials::Malformed("the Authorization header must use the Bearer scheme");
    };
    if token.is_empty() || !is_token68(token) {
        return Credentials::Malformed("the bearer token is not a valid token68 value");
    }
    match std::str::from_utf8(token) {
        Ok(token) => Credentials::Bearer(token),
        Err(_) => Credentials::Malformed("the bearer token is not a valid token68 value"),
    }
}

/// The token of `value`, one `Authorization` header value, when it is the `Bearer` scheme (as
/// [`bearer_credentials`] reads it) and a token recently accepted on this thread (see
/// [`remember_accepted`]). Such a token passed [`bearer_credentials`] when it was first seen:
/// its syntax need not be checked again. It is verified again like any other.
pub(crate) fn accepted_recently(value: &[u8]) -> Option<Arc<str>> {
    recent::checked(strip_bearer_scheme(value)?)
}

/// What follows `Bearer 1*SP` in `value`, the scheme matched without regard to case (RFC 9110
/// §11.1); `None` for any other scheme, or no space after it.
#[inline]
fn strip_bearer_scheme(value: &[u8]) -> Option<&[u8]> {
    // The common spelling first: one comparison on the hot path.
    if let Some(rest) = value.strip_prefix(b"Bearer ")
        && rest.first() != Some(&b' ')
    {
        return Some(rest);
    }
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"Bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    Some(&rest[spaces..])
}

/// Remembers `token`, which passed [`bearer_credentials`] and was then verified, for
/// [`accepted_recently`].
pub(crate) fn remember_accepted(token: &str) {
    recent::remember_checked(token);
}

/// Whether two secrets are equal, in a time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(token: &[u8]) -> bool {
    let body_end = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    // Every request's token passes here: comparisons only, folded without an early exit, so
    // that the compiler checks a vector of bytes at a time (a table lookup per byte cannot be).
    body_end > 0
        && token[..body_end]
            .iter()
            .fold(0u8, |bad, &b| bad | u8::from(!is_b64token_body(b)))
            == 0
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
#[inline]
fn is_b64token_body(b: u8) -> bool {
    // `-./0-9` are one run (0x2D..=0x39); setting 0x20 maps `A-Z` onto `a-z`, and nothing
    // else onto `a-z`.
    (b.wrapping_sub(b'-') <= b'9' - b'-')
        | ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
}

/// Builds the [`Principal`] for verified claims: `iss`, `sub`, `client_id` (or `azp`), and the
/// scopes from `scope` (space-separated) or `scp` (a string or an array).
///
/// The caller must have checked `iss` (a JWT's against the configured issuer): the principal's
/// issuer is what tells one authorization server's `alice` from another's.
pub fn principal_from_claims(
    claims: serde_json::Map<String, serde_json::Value>,
) -> Result<Principal, AuthError> {
    use serde_json::Value;
    let text = |key: &str| -> Result<Option<String>, AuthError> {
        match claims.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AuthError::Claims),
        }
    };
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => ScopeSet::from_space_separated(s),
        (Some(_), _) => return Err(AuthError::Claims),
        (None, Some(Value::String(s))) => ScopeSet::from_space_separated(s),
        (None, Some(Value::Array(items))) => {
            let mut scopes = Vec::with_capacity(items.len());
            for item in items {
                scopes.push(item.as_str().ok_or(AuthError::Claims)?);
            }
            scopes.into_iter().collect()
        }
        (None, Some(_)) => return Err(AuthError::Claims),
        (None, None) => ScopeSet::empty(),
    };
    let mut builder = Principal::builder().scopes(scopes);
    if let Some(issuer) = text("iss")? {
        builder = builder.issuer(issuer);
    }
    if let Some(subject) = text("sub")? {
        builder = builder.subject(subject);
    }
    if let Some(client) = text("client_id")?.or(text("azp")?) {
        builder = builder.client_id(client);
    }
    Ok(builder.claims(claims).build())
}

/// A `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `error`: absent when the request carried no credentials.
    pub error: Option<&'static str>,
    /// `error_description`.
    pub description: Option<String>,
    /// `scope`: the scopes the client should ask for.
    pub scope: Option<String>,
    /// `resource_metadata`: where the Protected Resource Metadata is.
    pub resource_metadata: Option<String>,
}

impl Challenge {
    /// The header value.
    #[must_use]
    pub fn header_value(&self) -> String {
        let mut out = String::from("Bearer");
        let mut sep = " ";
        let mut param = |name: &str, value: &str| {
            out.push_str(sep);
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&quoted_safe(value));
            out.push('"');
            sep = ", ";
        };
        if let Some(error) = self.error {
            param("error", error);
        }
        if let Some(description) = &self.description {
            param("error_description", description);
        }
        if let Some(scope) = &self.scope {
            param("scope", scope);
        }
        if let Some(url) = &self.resource_metadata {
            param("resource_metadata", url);
        }
        out
    }
}

/// RFC 6750 §3: attribute values use `%x20-21 / %x23-5B / %x5D-7E`; anything else is dropped
/// rather than escaped, so no client has to implement quoted-pair parsing.
fn quoted_safe(value: &str) -> std::borrow::Cow<'_, str> {
    let ok = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if value.chars().all(ok) {
        value.into()
    } else {
        value.chars().filter(|&c| ok(c)).collect::<String>().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_compared_whole() {
        assert!(constant_time_eq(b"abc.def.ghi", b"abc.def.ghi"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"abc.def.ghj"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"xbc.def.ghi"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"abc.def.gh"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn b64token_bytes_are_exactly_those_of_rfc_6750() {
        for b in 0..=u8::MAX {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_body(b), expected, "byte {b:#04x}");
            // Anywhere in a long token (past any vector width), alone it decides.
            let mut token = vec![b'a'; 100];
            token[67] = b;
            assert_eq!(is_token68(&token), expected, "byte {b:#04x} in a token");
        }
        assert!(is_token68(b"abc=="));
        assert!(!is_token68(b"=="), "padding alone");
        assert!(!is_token68(b"ab=c"), "padding inside");
    }

    #[test]
    fn bearer_parsing_follows_rfc_6750() {
        assert_eq!(bearer_credentials(&[]), Credentials::None);
        assert_eq!(
            bearer_credentials(&[b"Bearer abc.def-_~+/=="]),
            Credentials::Bearer("abc.def-_~+/==")
        );
        // The scheme in any case (RFC 9110 §11.1), one or more spaces after it (RFC 6750 §2.1).
        for good in [
            &b"bearer abc"[..],
            b"BEARER abc",
            b"BeArEr abc",
            b"Bearer  abc",
            b"bearer    abc",
        ] {
            assert_eq!(
                bearer_credentials(&[good]),
                Credentials::Bearer("abc"),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer   ",
            b"bearer",
            b"Bearer\tabc",
            b"Bearer \tabc",
            b"Bearerabc",
            b"Bearers abc",
            b"Beare abc",
            b"Bearer abc ",
            b"Bearer a b",
            b"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            b"Bearer ab=c",
            b"Bearer ===",
            b"Bearer \xff",
            b"Bearer abc,Bearer def",
        ] {
            assert!(
                matches!(bearer_credentials(&[bad]), Credentials::Malformed(_)),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            bearer_credentials(&[b"Bearer a", b"Bearer a"]),
            Credentials::Malformed(_)
        ));
        // Every byte value, alone and inside a token: exactly RFC 6750's b64token characters.
        for byte in 0..=255u8 {
            let allowed = byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
            let token = [b'a', byte, b'b'];
            assert_eq!(is_token68(&token), allowed, "byte {byte:#04x}");
            assert_eq!(is_token68(&[byte]), allowed, "byte {byte:#04x} alone");
        }
    }

    #[test]
    fn only_a_bearer_header_of_an_accepted_token_skips_the_syntax_check() {
        let token = "abc.def-_~+/==";
        assert_eq!(accepted_recently(b"Bearer abc.def-_~+/=="), None, "not yet");
        remember_accepted(token);
        remember_accepted(token);
        assert_eq!(
            accepted_recently(b"Bearer abc.def-_~+/==").as_deref(),
            Some(token)
        );
        // Other spellings of the same credential (RFC 9110 §11.1, RFC 6750 §2.1) are the same
        // token, on the fast path too.
        for same in [
            &b"bearer abc.def-_~+/=="[..],
            b"BEARER abc.def-_~+/==",
            b"Bearer  abc.def-_~+/==",
        ] {
            assert_eq!(
                accepted_recently(same).as_deref(),
                Some(token),
                "{:?}",
                String::from_utf8_lossy(same)
            );
        }
        // Every near variant goes through `bearer_credentials`, which refuses it.
        for near in [
            &b"Bearer abc.def-_~+/== "[..],
            b"Bearerabc.def-_~+/==",
            b"Basic abc.def-_~+/==",
            b"Bearer abc.def-_~+/=",
            b"Bearer\tabc.def-_~+/==",
            b"abc.def-_~+/==",
        ] {
            assert_eq!(
                accepted_recently(near),
                None,
                "{:?}",
                String::from_utf8_lossy(near)
            );
        }
        // Per thread: another thread has not accepted it.
        let elsewhere = std::thread::spawn(move || {
            accepted_recently(format!("Bearer {token}").as_bytes()).is_some()
        });
        assert!(!elsewhere.join().unwrap());
        // Remembered once, however often it was accepted: the other slots stay free.
        for other in ["one", "two", "three"] {
            remember_accepted(other);
        }
        assert!(accepted_recently(b"Bearer abc.def-_~+/==").is_some());
        assert!(accepted_recently(b"Bearer one").is_some());
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let c = Challenge {
            error: None,
            description: None,
            scope: Some("a b".into()),
            resource_metadata: Some("http://x/.well-known/oauth-protected-resource/mcp".into()),
        };
        assert_eq!(
            c.header_value(),
            r#"Bearer scope="a b", resource_metadata="http://x/.well-known/oauth-protected-resource/mcp""#
        );
        let c = Challenge {
            error: Some("invalid_token"),
            description: Some("bad \"quote\" \\ é".into()),
            ..Challenge::default()
        };
        assert_eq!(
            c.header_value(),
            r#"Bearer error="invalid_token", error_description="bad quote  ""#
        );
    }

    #[test]
    fn principals_take_scopes_from_scope_or_scp() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let p = principal_from_claims(claims(
            serde_json::json!({"iss":"https://as","sub":"a","scope":"x y","azp":"c"}),
        ))
        .unwrap();
        assert_eq!(
            (p.subject(), p.client_id(), p.scopes().to_string().as_str()),
            (Some("a"), Some("c"), "x y")
        );
        assert_eq!(p.issuer(), Some("https://as"));
        let p = principal_from_claims(claims(serde_json::json!({"scp":["y","x"]}))).unwrap();
        assert_eq!(p.scopes().to_string(), "x y");
        let p = principal_from_claims(claims(serde_json::json!({"scp":"x"}))).unwrap();
        assert_eq!(p.scopes().to_string(), "x");
        for bad in [
            serde_json::json!({"scope": ["x"]}),
            serde_json::json!({"scp": [1]}),
            serde_json::json!({"sub": 5}),
            serde_json::json!({"iss": ["https://as"]}),
        ] {
            assert_eq!(
                principal_from_claims(claims(bad)).unwrap_err(),
                AuthError::Claims
            );
        }
    }
}
