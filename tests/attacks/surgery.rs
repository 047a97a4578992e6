//! Token surgery: hand-made JWTs whose only defect is the one a case is about.

use crate::support::{TestKey, TokenBuilder, b64url};

// ---- token surgery -------------------------------------------------------------------------

/// `base64url(header).base64url(payload)` signed by `signer` (bytes as given: duplicated members,
/// invalid UTF-8, anything).
pub(crate) fn raw_token(signer: &TestKey, header: &[u8], payload: &[u8]) -> String {
    sign_message(signer, &format!("{}.{}", b64url(header), b64url(payload)))
}

pub(crate) fn sign_message(signer: &TestKey, message: &str) -> String {
    format!("{message}.{}", signer.sign(message.as_bytes()))
}

/// The token with `insert` put in the middle of segment `index`; the header and payload are
/// re-signed so the encoding is the only defect.
pub(crate) fn corrupt_segment(signer: &TestKey, token: &str, index: usize, insert: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let middle = parts[index].len() / 2;
    parts[index].insert_str(middle, insert);
    if index < 2 {
        sign_message(signer, &format!("{}.{}", parts[0], parts[1]))
    } else {
        parts.join(".")
    }
}

pub(crate) fn header_json(builder: &TokenBuilder) -> Vec<u8> {
    serde_json::to_vec(&builder.header_json()).unwrap()
}

pub(crate) fn claims_json(builder: &TokenBuilder) -> Vec<u8> {
    serde_json::to_vec(&builder.claims_json()).unwrap()
}

/// `{"a":1}` → `{"a":1,<extra>}`: appends members to a JSON object's text (duplicates allowed).
pub(crate) fn with_members(json: &[u8], extra: &str) -> Vec<u8> {
    let text = std::str::from_utf8(json).unwrap();
    let text = text.strip_suffix('}').unwrap();
    format!("{text},{extra}}}").into_bytes()
}
