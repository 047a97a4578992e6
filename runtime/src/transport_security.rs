//! Plain `http://` is for loopback only.
//!
//! Everything scopegate sends to or names for an authorization server carries what an attacker
//! on the path wants: bearer tokens and the resource's client secret (token introspection,
//! RFC 7662 §4: "MUST" be protected by TLS), the keys that decide which signatures are genuine
//! (a JWKS swapped in transit accepts the attacker's tokens), and the metadata that says where
//! those are (RFC 8414 §2 and RFC 9728 §2: issuer and resource identifiers use `https`; OAuth 2.1
//! §1.5: TLS on every endpoint). A URL whose host is loopback (`127.0.0.0/8`, `::1`,
//! `localhost`) never leaves the machine, so development needs no certificate.
//!
//! `*.localhost` names are not taken for loopback: RFC 6761 §6.3 asks resolvers to keep them on
//! the machine, but not every resolver does, and a name that reaches DNS can point anywhere.
//!
//! On a private network whose path is trusted, the check is switched off with
//! `allow_insecure_http(true)` on the configuration that owns the URL
//! ([`crate::http::HttpConfig::allow_insecure_http`] covers the resource, the listed issuers and
//! the JWT verifier it builds; [`crate::auth::JwtConfig`] and
//! [`crate::auth::IntrospectionConfig`] cover the verifiers built by hand).

use std::net::IpAddr;

/// A plain `http://` URL to a host that is not loopback, refused (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {what} `{url}` is plain http:// to a host that is not loopback: tokens, keys and metadata would cross the network unprotected. Use https://, or, on a private network you trust, opt out with allow_insecure_http(true) on the {setting}"
)]
pub struct InsecureHttp {
    what: &'static str,
    url: String,
    setting: &'static str,
}

impl InsecureHttp {
    /// The URL refused.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Where a URL came from, for the error to say what it is and which setting opts out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UrlRole {
    /// What the URL is, e.g. `"issuer"`, `"JWKS URI"`.
    pub(crate) what: &'static str,
    /// The configuration whose `allow_insecure_http` allows it, e.g. `"JwtConfig"`, or
    /// `"HttpConfig or JwtConfig"`.
    pub(crate) setting: &'static str,
}

/// Refuses `url` when it is `http://` to a host that is not loopback, unless
/// `allow_insecure_http`. A URL that does not parse is left to whoever uses it (it fails
/// there); any scheme but `http` passes here.
pub(crate) fn check_url(
    url: &str,
    role: UrlRole,
    allow_insecure_http: bool,
) -> Result<(), InsecureHttp> {
    if allow_insecure_http {
        return Ok(());
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "http" || is_loopback(&parsed) {
        return Ok(());
    }
    Err(InsecureHttp {
        what: role.what,
        url: url.to_owned(),
        setting: role.setting,
    })
}

/// Whether `url`'s host is on this machine: `127.0.0.0/8`, `::1` (or an IPv4-mapped loopback
/// address), or exactly `localhost`.
#[must_use]
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        // The URL parser lower-cases domains.
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: UrlRole = UrlRole {
        what: "issuer",
        setting: "HttpConfig",
    };

    #[test]
    fn plain_http_passes_for_loopback_hosts_only() {
        for fine in [
            "https://as.example.com",
            "https://10.0.0.7/t",
            "http://127.0.0.1:8080/dev-auth",
            "http://127.1.2.3/",
            "http://[::1]:9/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://localhost:3000",
            "HTTP://LOCALHOST/x",
            "not a url",
        ] {
            assert_eq!(check_url(fine, ROLE, false), Ok(()), "{fine}");
        }
        for refused in [
            "http://as.example.com",
            "http://10.0.0.7/t",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://app.localhost/",
            "http://localhost.evil.example/",
            "http://0.0.0.0/",
            "HTTP://Example.COM/",
        ] {
            let error = check_url(refused, ROLE, false).unwrap_err();
            assert_eq!(error.url(), refused);
            let text = error.to_string();
            assert!(
                text.contains("allow_insecure_http(true) on the HttpConfig")
                    && text.contains("issuer"),
                "{text}"
            );
            assert_eq!(
                check_url(refused, ROLE, true),
                Ok(()),
                "opted out: {refused}"
            );
        }
    }
}
