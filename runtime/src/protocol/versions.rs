//! The protocol revisions: the one list of those a client may name, the slices of it served
//! with a handshake and statelessly, version negotiation, and the `_meta` keys a 2026-07-28
//! request carries its version, capabilities and log level in.

/// Every published revision a client may name, newest first: those served statelessly
/// ([`MODERN_PROTOCOL_VERSIONS`]), those spoken with an `initialize` handshake
/// ([`SUPPORTED_PROTOCOL_VERSIONS`]), then older ones accepted only in the HTTP
/// `MCP-Protocol-Version` header (absent means 2025-03-26). The one list of revisions: the
/// others are slices of it.
pub(crate) const HEADER_PROTOCOL_VERSIONS: &[&str] = &[
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// How many of [`HEADER_PROTOCOL_VERSIONS`] are served statelessly.
const MODERN_COUNT: usize = 1;
/// How many of [`HEADER_PROTOCOL_VERSIONS`], after the stateless ones, are spoken with a
/// handshake.
const HANDSHAKE_COUNT: usize = 2;

/// Protocol revisions this server speaks, newest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = HEADER_PROTOCOL_VERSIONS
    .split_at(MODERN_COUNT)
    .1
    .split_at(HANDSHAKE_COUNT)
    .0;

/// The newest revision this server speaks with an `initialize` handshake: the answer to a client
/// asking for one we do not.
pub const LATEST_PROTOCOL_VERSION: &str = SUPPORTED_PROTOCOL_VERSIONS[0];

/// Revisions served statelessly, each request carrying its version in `_meta` (2026-07-28 and
/// later: the "modern" era).
pub const MODERN_PROTOCOL_VERSIONS: &[&str] = HEADER_PROTOCOL_VERSIONS.split_at(MODERN_COUNT).0;

/// The `_meta` key carrying a modern request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key carrying a modern request's client capabilities.
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key carrying a modern request's minimum log level.
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// The result `_meta` key naming the server.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// The `_meta` key tying a message to the `subscriptions/listen` request whose stream it is on
/// (the value is that request's id).
pub const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
/// The identifier of the tasks extension (2026-07-28, SEP-2663), in the client's and the
/// server's `capabilities.extensions`.
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// Picks the version to answer an `initialize` with: the client's when we speak it, else our
/// latest (MCP lifecycle, "Version Negotiation").
#[must_use]
pub fn negotiate_version(requested: &str) -> &'static str {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST_PROTOCOL_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_lists_are_slices_of_the_one_list() {
        assert_eq!(MODERN_PROTOCOL_VERSIONS, ["2026-07-28"]);
        assert_eq!(SUPPORTED_PROTOCOL_VERSIONS, ["2025-11-25", "2025-06-18"]);
        assert_eq!(LATEST_PROTOCOL_VERSION, "2025-11-25");
    }

    #[test]
    fn negotiates_known_versions_and_falls_back_to_latest() {
        assert_eq!(negotiate_version("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate_version("2025-11-25"), "2025-11-25");
        assert_eq!(negotiate_version("2024-11-05"), LATEST_PROTOCOL_VERSION);
        assert_eq!(negotiate_version("garbage"), LATEST_PROTOCOL_VERSION);
    }
}
