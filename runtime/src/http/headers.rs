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
    let version = modern.version.as_deref().unwrap_or_default();
    expect(headers, &PROTOCOL_VERSION, "MCP-Protocol-Version", version)?;
    expect(headers, &METHOD, METHOD_HEADER, &request.method)?;
    // SEP-2663, "Routing Headers": a task's requests name it too, so a balancer can route them.
    if target_key(&request.method).is_some() {
        let target = modern.target().unwrap_or_default();
        expect(headers, &NAME, NAME_HEADER, target)?;
    }
    Ok(())
}

/// The one `name` header (`shown` as the spec spells it), decoded, equals `body`.
fn expect(headers: &HeaderMap, name: &HeaderName, shown: &str, body: &str) -> Result<(), String> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| format!("Header mismatch: the {shown} header is required"))?;
    if values.next().is_some() {
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
