//! The router's own URLs are `https` (or loopback), checked when it is built: the resource URI
//! (RFC 9728 §2: an `https` URL), every listed authorization server (RFC 8414 §2: the issuer is
//! an `https` URL) and what the token verifier will call (see
//! [`crate::transport_security`]). A misconfiguration is refused before anything is served,
//! not found out at the first token.

use super::{Auth, HttpConfig};
use crate::auth::JwtConfig;
use crate::transport_security::{InsecureHttp, UrlRole, check_url};

impl HttpConfig {
    /// Allows plain `http://` URLs to hosts that are not loopback: the resource URI, the
    /// authorization servers, and the issuer, metadata and JWKS of the JWT verifier that
    /// [`HttpConfig::jwt`] or [`HttpConfig::jwt_issuer`] builds (before or after this call).
    /// Default false: such a URL is refused when the router is built (or, found by discovery,
    /// when it is fetched), because tokens and keys would cross the network unprotected.
    ///
    /// For a private network whose path is trusted. A verifier built by hand and passed to
    /// [`HttpConfig::verifier`] keeps its own setting (`JwtConfig::allow_insecure_http`,
    /// `IntrospectionConfig::allow_insecure_http`).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        match self.jwt_config.take() {
            // Built again, now with the setting (nothing has used it yet: it is being built).
            Some(config) => self.jwt(config),
            None => self,
        }
    }

    /// `config` with this configuration's opt-out applied, for the verifier it builds.
    pub(super) fn with_insecure_http(&self, config: JwtConfig) -> JwtConfig {
        JwtConfig {
            allow_insecure_http: config.allow_insecure_http || self.allow_insecure_http,
            ..config
        }
    }
}

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
