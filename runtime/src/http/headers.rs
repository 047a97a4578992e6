//! The MCP request headers: their names, the `MCP-Protocol-Version` a request names, the
//! 2026-07-28 `Mcp-Method` / `Mcp-Name` checks against the body, and the session id.

use axum::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::protocol::{ModernParams, Request, target_key};

/// The `Mcp-Session-Id` header.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The `MCP-Protocol-Version` header.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

// The same names parsed once: a lookup by `&str` parses and hashes the name on every call.
pub(super) static SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
pub(super) static PROTOCOL_VERSION: HeaderName = HeaderName::from_static(PROTOCOL_VERSION_HEADER);

/// Revisions accepted in the `MCP-Protocol-Version` header (a client may send any published
/// one; absent means 2025-03-26): the protocol's one list.
pub(super) use crate::protocol::HEADER_PROTOCOL_VERSIONS;

/// The 2026-07-28 request headers (basic/transports/streamable-http, "Required headers").
const METHOD_HEADER: &str = "Mcp-Method";
pub(super) const NAME_HEADER: &str = "Mcp-Name";
static METHOD: HeaderName = HeaderName::from_static("mcp-method");
pub(super) static NAME: HeaderName = HeaderName::from_static("mcp-name");

/// A request's `MCP-Protocol-Version`, looked up once.
#[derive(Clone, Copy, Debug)]
pub(super) enum HeaderVersion<'a> {
    Absent,
    /// A published revision (any is accepted: clients in the field send older ones on sessions
    /// that negotiated a newer one, and the messages are compatible).
    Known(&'static str),
    Unknown(&'a HeaderValue),
}

impl<'a> HeaderVersion<'a> {
    /// The version of a request whose first `MCP-Protocol-Version` value is `value`.
    pub(super) fn of_value(value: Option<&'a HeaderValue>) -> Self {
        let Some(value) = value else {
            return Self::Absent;
        };
        HEADER_PROTOCOL_VERSIONS
            .iter()
            .find(|known| known.as_bytes() == value.as_bytes())
            .map_or(Self::Unknown(value), |known| Self::Known(known))
    }

    /// A 2026-07-28 (or later) revision, whose requests carry their own `_meta`.
    pub(super) fn is_modern(self) -> bool {
        matches!(self, Self::Known(version) if crate::protocol::MODERN_PROTOCOL_VERSIONS.contains(&version))
    }
}

/// Keeps `value` in `slot` if it is one of the first two values of its name: as many as it takes
/// to tell one from more than one.
pub(super) fn first_two<'a>(slot: &mut [Option<&'a HeaderValue>; 2], value: &'a HeaderValue) {
    match slot {
        [None, _] => slot[0] = Some(value),
        [Some(_), second @ None] => *second = Some(value),
        [Some(_), Some(_)] => {}
    }
}

pub(super) fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(&SESSION).and_then(|v| v.to_str().ok())
}

/// 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`, `prompts/get`,
/// `resources/read`, and the tasks extension's `tasks/*`) `Mcp-Name` must be present and equal
/// the body's values, as `modern` read them; a mismatch names what differs.
pub(super) fn check_modern_headers(
    headers: &HeaderMap,
    request: &Request,
    modern: &ModernParams,
) -> Result<(), String> {
    // The three headers' values, found in one walk over the map: three lookups of custom names
    // (each hashing its name) cost several times that.
    let (mut version, mut method, mut name) = ([None; 2], [None; 2], [None; 2]);
    for (header, value) in headers {
        let slot = if *header == PROTOCOL_VERSION {
            &mut version
        } else if *header == METHOD {
            &mut method
        } else if *header == NAME {
            &mut name
        } else {
            continue;
        };
        first_two(slot, value);
    }
    let body_version = modern.version.as_deref().unwrap_or_default();
    expect(version, "MCP-Protocol-Version", body_version)?;
    expect(method, METHOD_HEADER, &request.method)?;
    // SEP-2663, "Routing Headers": a task's requests name it too, so a balancer can route them.
    if target_key(&request.method).is_some() {
        let target = modern.target().unwrap_or_default();
        expect(name, NAME_HEADER, target)?;
    }
    Ok(())
}

/// The one header whose first two values are `values` (`shown` as the spec spells its name),
/// decoded, equals `body`.
fn expect(values: [Option<&HeaderValue>; 2], shown: &str, body: &str) -> Result<(), String> {
    // What a client sends nearly always: one value, the body's own bytes, plain visible ASCII
    // (no encoding to undo). Told without decoding; anything else is checked in full below,
    // with the error it earns.
    if let [Some(value), None] = values
        && value.as_bytes() == body.as_bytes()
        && is_plain(body)
    {
        return Ok(());
    }
    expect_decoded(values, shown, body)
}

/// Whether `value`, the bytes of a header value, is sent as it is: ASCII (a header value
/// holds no control characters but tab, so ASCII is what `HeaderValue::to_str` takes), not in
/// the `=?base64?…?=` form.
fn is_plain(value: &str) -> bool {
    value.is_ascii() && !(value.starts_with("=?base64?") && value.ends_with("?="))
}

/// [`expect`] in full: the value decoded when encoded, and each way it can fail named.
#[cold]
fn expect_decoded(
    values: [Option<&HeaderValue>; 2],
    shown: &str,
    body: &str,
) -> Result<(), String> {
    let [first, second] = values;
    let value = first.ok_or_else(|| format!("Header mismatch: the {shown} header is required"))?;
    if second.is_some() {
        return Err(format!(
            "Header mismatch: the {shown} header is given more than once"
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| format!("Header mismatch: the {shown} header has invalid characters"))?;
    let value = decode_header_value(value)
        .ok_or_else(|| format!("Header mismatch: the {shown} header is not valid base64"))?;
    if value == body {
        Ok(())
    } else {
        Err(format!(
            "Header mismatch: {shown} header value '{value}' does not match body value '{body}'"
        ))
    }
}

/// Header values that are not plain visible ASCII travel as `=?base64?…?=` (2026-07-28); a
/// plain value is borrowed as it is.
pub(super) fn decode_header_value(value: &str) -> Option<std::borrow::Cow<'_, str>> {
    use base64::Engine as _;
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok().map(std::borrow::Cow::Owned)
        }
        None => Some(std::borrow::Cow::Borrowed(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    /// `check_modern_headers` on a `tools/call` of tool `echo` under 2026-07-28, with `headers`.
    fn check(headers: &[(&str, &str)]) -> Result<(), String> {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
        let Ok(Message::Request(mut request)) = Message::read(body.as_bytes()) else {
            panic!("a request");
        };
        let modern = request.take_modern(true).expect("a 2026-07-28 request");
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        check_modern_headers(&map, &request, &modern)
    }

    #[test]
    fn the_routing_headers_are_read_in_one_walk_as_lookups_would_read_them() {
        let all = [
            ("x-before", "1"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("content-type", "application/json"),
            ("mcp-name", "echo"),
        ];
        assert_eq!(check(&all), Ok(()));
        // The name's encoded form, and headers in another order.
        assert_eq!(
            check(&[
                ("mcp-name", "=?base64?ZWNobw==?="),
                ("mcp-method", "tools/call"),
                ("mcp-protocol-version", "2026-07-28"),
            ]),
            Ok(())
        );
        let refused = |headers: &[(&str, &str)], words: &str| {
            let error = check(headers).expect_err(words);
            assert!(error.contains(words), "{headers:?}: {error}");
        };
        for missing in [1, 2, 4] {
            let mut headers = all.to_vec();
            headers.remove(missing);
            refused(&headers, "header is required");
        }
        for twice in [1, 2, 4] {
            let mut headers = all.to_vec();
            headers.push(all[twice]);
            refused(&headers, "header is given more than once");
        }
        let mut other = all.to_vec();
        other[4] = ("mcp-name", "secret");
        refused(
            &other,
            "Mcp-Name header value 'secret' does not match body value 'echo'",
        );
        other = all.to_vec();
        other[2] = ("mcp-method", "tools/list");
        refused(&other, "Mcp-Method header value 'tools/list'");
        other = all.to_vec();
        other[1] = ("mcp-protocol-version", "2025-11-25");
        refused(&other, "MCP-Protocol-Version header value '2025-11-25'");
        other = all.to_vec();
        other[4] = ("mcp-name", "=?base64?%%?=");
        refused(&other, "not valid base64");
    }

    /// A value equal to the body's is taken without decoding only when it needs none: the
    /// answer is the full check's in every case.
    #[test]
    fn a_value_equal_to_the_body_is_taken_only_when_sent_plain() {
        let one = |bytes: &[u8]| HeaderValue::from_bytes(bytes).unwrap();
        let expect_one =
            |value: &HeaderValue, body: &str| expect([Some(value), None], "Mcp-Name", body);
        assert_eq!(expect_one(&one(b"echo"), "echo"), Ok(()));
        assert_eq!(expect_one(&one(b"a\tb c"), "a\tb c"), Ok(()));
        // Raw UTF-8 is not how a header carries it: refused, equal or not.
        let raw = expect_one(&one("caf\u{e9}".as_bytes()), "caf\u{e9}").unwrap_err();
        assert!(raw.contains("invalid characters"), "{raw}");
        assert_eq!(
            expect_one(&one(b"=?base64?Y2Fmw6k=?="), "caf\u{e9}"),
            Ok(())
        );
        // A body value in the encoded form, sent as it is, is decoded, and differs.
        let encoded = expect_one(&one(b"=?base64?ZWNobw==?="), "=?base64?ZWNobw==?=").unwrap_err();
        assert!(encoded.contains("does not match"), "{encoded}");
        // Two values are refused even when the first is equal.
        let twice = expect(
            [Some(&one(b"echo")), Some(&one(b"echo"))],
            "Mcp-Name",
            "echo",
        )
        .unwrap_err();
        assert!(twice.contains("more than once"), "{twice}");
    }
}
