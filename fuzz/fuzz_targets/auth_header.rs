//! The `Authorization` header parser on arbitrary header values (the input split at `\n`, one
//! value per line; an empty input is no header at all): never panics, and agrees with RFC 6750
//! §2.1 as written (exactly one header, `Bearer`, one space, a non-empty `token68`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == b'\n').collect()
    };
    let parsed = scopegate::__private::fuzz::bearer(&values);
    assert_eq!(parsed, is_bearer(&values), "{values:?}");
});

/// The reference: `credentials = "Bearer" 1*SP b64token`, restricted to a single space, and
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_bearer(values: &[&[u8]]) -> bool {
    let [value] = values else { return false };
    let Some(token) = value.strip_prefix(b"Bearer ") else {
        return false;
    };
    let body = token.iter().take_while(|&&b| b != b'=').count();
    body > 0
        && token[..body]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        && token[body..].iter().all(|&b| b == b'=')
}
