//! The `Host` a request names (DNS-rebinding protection): read once, the same way, by the MCP
//! endpoint and by the development authorization server.

use axum::http::{HeaderMap, Uri, header};

/// The authority the request names: its `Host` header, or in HTTP/2 (no `Host`) the request
/// target's authority. A `Host` that is not text names nothing: refused, not replaced by the
/// request target.
pub(crate) fn authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    match headers.get(header::HOST) {
        Some(header) => header.to_str().ok(),
        None => uri.authority().map(axum::http::uri::Authority::as_str),
    }
}

/// The host name of an authority, without its port. An IPv6 literal keeps its brackets; one
/// without its closing bracket, or followed by anything but a port (`[::1]x.evil`), names
/// nothing.
pub(crate) fn name(authority: &str) -> Option<&str> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let after = &authority[end + 1..];
        (after.is_empty() || after.starts_with(':')).then(|| &authority[..=end])
    } else {
        Some(
            authority
                .rsplit_once(':')
                .map_or(authority, |(name, _)| name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_the_port_and_keep_brackets() {
        for (authority, expected) in [
            ("example.com", Some("example.com")),
            ("example.com:8080", Some("example.com")),
            ("127.0.0.1:1", Some("127.0.0.1")),
            ("[::1]", Some("[::1]")),
            ("[::1]:80", Some("[::1]")),
            ("[::1", None),
            ("[::1]x.evil.example:80", None),
            ("", Some("")),
        ] {
            assert_eq!(name(authority), expected, "{authority}");
        }
    }

    #[test]
    fn the_host_header_wins_and_must_be_text() {
        let uri: Uri = "http://target.example/mcp".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(authority(&headers, &uri), Some("target.example"));
        headers.insert(header::HOST, "h.example:1".parse().unwrap());
        assert_eq!(authority(&headers, &uri), Some("h.example:1"));
        headers.insert(
            header::HOST,
            axum::http::HeaderValue::from_bytes(b"h\xff").unwrap(),
        );
        assert_eq!(authority(&headers, &uri), None);
    }
}
