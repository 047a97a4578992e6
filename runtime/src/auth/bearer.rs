//! Reading the bearer token of a request: exactly one `Authorization` header, the `Bearer`
//! scheme in any case, one or more spaces, then an RFC 6750 `b64token` (RFC 6750 §2.1, RFC 9110
//! §11.1), and the fast path for a token this thread accepted a moment ago.

use std::sync::Arc;

use super::recent;

/// What the `Authorization` header of a request holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No credentials at all.
    None,
    /// A syntactically valid bearer token.
    Bearer(&'a str),
    /// A syntactically valid token in the `DPoP` scheme (RFC 9449 §7.1), which a `DPoP` proof
    /// must accompany.
    Dpop(&'a str),
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
    match credentials(values) {
        Credentials::Dpop(_) => {
            Credentials::Malformed("the Authorization header must use the Bearer scheme")
        }
        credentials => credentials,
    }
}

/// Reads the credentials of a request that may use the `Bearer` or the `DPoP` scheme (RFC 9449
/// §7.1: the same syntax under another name): exactly one header, either scheme in any case,
/// `1*SP`, a `token68`.
pub fn credentials<'a>(values: &[&'a [u8]]) -> Credentials<'a> {
    let value = match values {
        [] => return Credentials::None,
        [value] => *value,
        _ => return Credentials::Malformed("more than one Authorization header"),
    };
    let (token, dpop) = match strip_bearer_scheme(value) {
        Some(token) => (token, false),
        None => match strip_scheme(value, b"DPoP") {
            Some(token) => (token, true),
            None => {
                return Credentials::Malformed(
                    "the Authorization header must use the Bearer or DPoP scheme",
                );
            }
        },
    };
    if token.is_empty() || !is_token68(token) {
        return Credentials::Malformed("the access token is not a valid token68 value");
    }
    match std::str::from_utf8(token) {
        Ok(token) if dpop => Credentials::Dpop(token),
        Ok(token) => Credentials::Bearer(token),
        Err(_) => Credentials::Malformed("the access token is not a valid token68 value"),
    }
}

/// The token of `value`, one `Authorization` header value, when it is the `Bearer` scheme (as
/// [`bearer_credentials`] reads it) and a token recently accepted on this thread (see
/// [`remember_accepted`]). Such a token passed [`bearer_credentials`] when it was first seen:
/// its syntax need not be checked again. It is verified again like any other.
pub(crate) fn accepted_recently(value: &[u8]) -> Option<Arc<str>> {
    recent::checked(strip_bearer_scheme(value)?)
}

/// The credentials of `value`, one `Authorization` header value, when it is the `Bearer`
/// scheme: what follows `Bearer 1*SP`, unchecked (see [`credentials`] for the checks).
pub(crate) fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    strip_bearer_scheme(value)
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
    strip_scheme(value, b"Bearer")
}

/// What follows `scheme 1*SP` in `value`, the scheme matched without regard to case.
fn strip_scheme<'v>(value: &'v [u8], scheme: &[u8]) -> Option<&'v [u8]> {
    let (name, rest) = value.split_at_checked(scheme.len())?;
    if !name.eq_ignore_ascii_case(scheme) || rest.first() != Some(&b' ') {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn dpop_credentials_are_the_same_syntax_under_their_own_scheme() {
        for good in [&b"DPoP abc"[..], b"dpop abc", b"DPOP  abc"] {
            assert_eq!(credentials(&[good]), Credentials::Dpop("abc"));
            // A bearer-only reader refuses them rather than taking the token.
            assert!(matches!(
                bearer_credentials(&[good]),
                Credentials::Malformed(_)
            ));
        }
        assert_eq!(credentials(&[b"Bearer abc"]), Credentials::Bearer("abc"));
        for bad in [
            &b"DPoP"[..],
            b"DPoP ",
            b"DPoPabc",
            b"DPoP a b",
            b"DPoPs abc",
        ] {
            assert!(
                matches!(credentials(&[bad]), Credentials::Malformed(_)),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            credentials(&[b"DPoP a", b"Bearer a"]),
            Credentials::Malformed(_)
        ));
        // The fast path is for bearer headers only: a DPoP request always shows its proof.
        remember_accepted("abc");
        assert_eq!(accepted_recently(b"DPoP abc"), None);
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
}
