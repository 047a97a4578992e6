//! The `Authorization` header parser on arbitrary header values (the input split at `\n`, one
//! value per line; an empty input is no header at all): never panics, and agrees with RFC 6750
//! §2.1 as written (exactly one header, `Bearer` in any case (RFC 9110 §11.1), one or more
//! spaces, a non-empty `b64token`).
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

/// The reference: `credentials = "Bearer" 1*SP b64token`, the scheme in any case, and
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_bearer(values: &[&[u8]]) -> bool {
    let [value] = values else { return false };
    if value.len() < 7 || !value[..6].eq_ignore_ascii_case(b"bearer") || value[6] != b' ' {
        return false;
    }
    let spaces = value[6..].iter().take_while(|&&b| b == b' ').count();
    let token = &value[6 + spaces..];
    let body = token.iter().take_while(|&&b| b != b'=').count();
    body > 0
        && token[..body]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        && token[body..].iter().all(|&b| b == b'=')
}
