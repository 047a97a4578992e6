//! `WWW-Authenticate` challenges: `Bearer` (RFC 6750 §3, RFC 9728 §5.1) and `DPoP` (RFC 9449
//! §7.1).

/// The authentication scheme of a request, and of the challenges it is answered with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// `Authorization: Bearer` (RFC 6750).
    #[default]
    Bearer,
    /// `Authorization: DPoP` with a `DPoP` proof (RFC 9449).
    Dpop,
}

impl AuthScheme {
    /// The scheme's name as headers spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

/// A `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9728 §5.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme: `Bearer` unless the request was DPoP.
    pub scheme: AuthScheme,
    /// `error`: absent when the request carried no credentials.
    pub error: Option<&'static str>,
    /// `error_description`.
    pub description: Option<String>,
    /// `scope`: the scopes the client should ask for.
    pub scope: Option<String>,
    /// `resource_metadata`: where the Protected Resource Metadata is.
    pub resource_metadata: Option<String>,
    /// `algs` (DPoP only): the proof algorithms accepted, space-separated.
    pub algs: Option<String>,
}

impl Challenge {
    /// The header value.
    #[must_use]
    pub fn header_value(&self) -> String {
        let mut out = String::from(self.scheme.name());
        let mut sep = " ";
        let mut param = |name: &str, value: &str| {
            out.push_str(sep);
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&quoted_safe(value));
            out.push('"');
            sep = ", ";
        };
        if let Some(error) = self.error {
            param("error", error);
        }
        if let Some(description) = &self.description {
            param("error_description", description);
        }
        if let Some(scope) = &self.scope {
            param("scope", scope);
        }
        if let Some(url) = &self.resource_metadata {
            param("resource_metadata", url);
        }
        if let Some(algs) = &self.algs {
            param("algs", algs);
        }
        out
    }
}

/// RFC 6750 §3: attribute values use `%x20-21 / %x23-5B / %x5D-7E`; anything else is dropped
/// rather than escaped, so no client has to implement quoted-pair parsing.
fn quoted_safe(value: &str) -> std::borrow::Cow<'_, str> {
    let ok = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if value.chars().all(ok) {
        value.into()
    } else {
        value.chars().filter(|&c| ok(c)).collect::<String>().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        let c = Challenge {
            scope: Some("a b".into()),
            resource_metadata: Some("http://x/.well-known/oauth-protected-resource/mcp".into()),
            ..Challenge::default()
        };
        assert_eq!(
            c.header_value(),
            r#"Bearer scope="a b", resource_metadata="http://x/.well-known/oauth-protected-resource/mcp""#
        );
        let c = Challenge {
            error: Some("invalid_token"),
            description: Some("bad \"quote\" \\ é".into()),
            ..Challenge::default()
        };
        assert_eq!(
            c.header_value(),
            r#"Bearer error="invalid_token", error_description="bad quote  ""#
        );
        let c = Challenge {
            scheme: AuthScheme::Dpop,
            error: Some("invalid_dpop_proof"),
            algs: Some("ES256 PS256".into()),
            ..Challenge::default()
        };
        assert_eq!(
            c.header_value(),
            r#"DPoP error="invalid_dpop_proof", algs="ES256 PS256""#
        );
    }
}
