//! The `Host` and `Origin` checks (DNS-rebinding protection, MCP transports "Security
//! Warning").

use axum::http::header::HeaderValue;
use axum::http::request::Parts;

use super::host;
use super::shared::Shared;

impl Shared {
    /// The `Host` header names this server (DNS-rebinding protection, MCP transports "Security
    /// Warning"): the resource's host, a loopback name, or one allowed in the configuration.
    /// `header`: the request's first `Host` value, found with its other headers.
    pub(super) fn host_allowed(&self, parts: &Parts, header: Option<&HeaderValue>) -> bool {
        let Some(allowed) = &self.allowed_hosts else {
            return true;
        };
        // The usual case first, on bytes: the resource's own authority.
        if let (Some(own), Some(header)) = (&self.resource_authority, header)
            && own.as_bytes() == header.as_bytes()
        {
            return true;
        }
        let Some(host) = host::authority(&parts.headers, &parts.uri) else {
            return false;
        };
        if self
            .resource_authority
            .as_deref()
            .is_some_and(|own| own.as_bytes() == host.as_bytes())
        {
            return true;
        }
        let Some(name) = host::name(host) else {
            return false;
        };
        allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Browsers send `Origin`; other clients do not. A browser page may call only from an
    /// allowed origin (DNS-rebinding protection, MCP transports "Security Warning").
    pub(super) fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.allowed_origins.contains(&origin) {
            return true;
        }
        if origin == self.resource_origin {
            return true;
        }
        self.allow_loopback_origins && is_loopback_origin(&origin)
    }
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or_default().to_owned()
    };
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_recognised() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "null",
            "http://evil.com",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }
}
