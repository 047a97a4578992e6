//! The router's own URLs are `https` (or loopback), checked when it is built: the resource URI
//! (RFC 9728 §2: an `https` URL), every listed authorization server (RFC 8414 §2: the issuer is
//! an `https` URL) and what the token verifier will call (see
//! [`crate::transport_security`]). A misconfiguration is refused before anything is served,
//! not found out at the first token.

use super::config::{Auth, HttpConfig};
use crate::transport_security::{InsecureHttp, UrlRole, check_url};

/// Refuses a plain `http://` resource, authorization server or verifier URL to a host that is
/// not loopback, unless the configuration allows it.
pub(super) fn check(config: &HttpConfig, resource: &str, auth: &Auth) -> Result<(), InsecureHttp> {
    let role = |what| UrlRole {
        what,
        setting: "HttpConfig",
    };
    let allow = config.allow_insecure_http;
    check_url(resource, role("resource URI"), allow)?;
    for issuer in &config.authorization_servers {
        check_url(issuer, role("authorization server"), allow)?;
    }
    match auth {
        Auth::Verifier(verifier) => verifier.check_urls(),
        Auth::Off => Ok(()),
    }
}
