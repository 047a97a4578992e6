//! The export formats, by the names the command line and the documentation use.

use std::fmt;
use std::str::FromStr;

/// What [`Server::export`](crate::Server::export) produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// A realm-import fragment: one client scope per scope, each with an audience mapper.
    Keycloak,
    /// The Management API's resource-server payload (`POST /api/v2/resource-servers`).
    Auth0,
    /// The application manifest's `identifierUris` and `api.oauth2PermissionScopes`.
    Entra,
    /// A custom authorization server (its audience) and its scopes.
    Okta,
    /// The scope table as JSON ([`Server::scope_table_json`](crate::Server::scope_table_json),
    /// with the resource URI).
    Json,
    /// The scope table as Markdown.
    Markdown,
}

impl Format {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [Format; 6] = [
        Format::Keycloak,
        Format::Auth0,
        Format::Entra,
        Format::Okta,
        Format::Json,
        Format::Markdown,
    ];

    /// The name [`FromStr`] reads: `keycloak`, `auth0`, `entra`, `okta`, `json`, `markdown`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Keycloak => "keycloak",
            Format::Auth0 => "auth0",
            Format::Entra => "entra",
            Format::Okta => "okta",
            Format::Json => "json",
            Format::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is none of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format `{0}`: use one of keycloak, auth0, entra, okta, json, markdown")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownFormat(crate::clip::clip(name, 64).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_parses_from_its_name_and_nothing_else_does() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!("Keycloak".parse::<Format>(), Ok(Format::Keycloak));
        let error = "yaml".parse::<Format>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown export format `yaml`: use one of keycloak, auth0, entra, okta, json, markdown"
        );
        assert!("".parse::<Format>().is_err());
    }
}
