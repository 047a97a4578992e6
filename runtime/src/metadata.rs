//! This server's metadata: its Protected Resource Metadata document (RFC 9728) and canonical
//! resource URIs (RFC 8707, MCP authorization). Fetching an authorization server's metadata and
//! keys is [`crate::fetch`]'s; its items are re-exported here at their former paths.

use serde_json::{Map, Value, json};

pub(crate) use crate::uri::origin_and_path;

pub use crate::fetch::{Document, FetchError, Fetcher, discover, discovery_urls, pkce_warning};

/// The well-known path of Protected Resource Metadata (RFC 9728 §3).
pub const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A resource URI that is not usable as a canonical server URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource URI `{uri}`: {reason}")]
pub struct UriError {
    uri: String,
    reason: &'static str,
}

/// The canonical form of a server URI (MCP authorization, "Canonical Server URI"; RFC 8707 §2):
/// lower-case scheme and host, no default port, no fragment, no user info, and no trailing slash
/// (a bare origin has an empty path).
pub fn canonical_resource(uri: &str) -> Result<String, UriError> {
    let error = |reason| UriError {
        uri: uri.to_owned(),
        reason,
    };
    let url = url::Url::parse(uri).map_err(|_| error("not an absolute URI"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(error("the scheme must be http or https"));
    }
    if url.fragment().is_some() {
        return Err(error("a resource URI must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(error("a resource URI must not carry user info"));
    }
    let host = url.host_str().ok_or_else(|| error("the URI has no host"))?;
    let mut out = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let path = url.path().trim_end_matches('/');
    out.push_str(path);
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Where the metadata of `resource` (canonical) lives: the well-known path inserted between the
/// origin and the resource's path (RFC 9728 §3.1).
#[must_use]
pub fn metadata_url(resource: &str) -> String {
    let (origin, path) = origin_and_path(resource);
    let path = path.split('?').next().unwrap_or_default();
    format!("{origin}{PRM_WELL_KNOWN}{path}")
}

/// The Protected Resource Metadata document (RFC 9728 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMetadata {
    /// `resource`: the canonical URI of the server.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers.
    pub authorization_servers: Vec<String>,
    /// `scopes_supported`.
    pub scopes_supported: Vec<String>,
    /// `resource_name`.
    pub resource_name: Option<String>,
    /// `resource_documentation`.
    pub resource_documentation: Option<String>,
    /// `dpop_signing_alg_values_supported` (RFC 9728 §2): the DPoP proof algorithms accepted,
    /// empty when DPoP is not.
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// `dpop_bound_access_tokens_required` (RFC 9728 §2): whether only DPoP-bound tokens are
    /// accepted (omitted when false, its default).
    pub dpop_bound_access_tokens_required: bool,
}

impl ResourceMetadata {
    /// The JSON document; empty members are omitted (RFC 9728 §2). Bearer tokens are accepted
    /// in the `Authorization` header only.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("resource".into(), self.resource.clone().into());
        if !self.authorization_servers.is_empty() {
            doc.insert(
                "authorization_servers".into(),
                json!(self.authorization_servers),
            );
        }
        if !self.scopes_supported.is_empty() {
            doc.insert("scopes_supported".into(), json!(self.scopes_supported));
        }
        doc.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = &self.resource_name {
            doc.insert("resource_name".into(), name.clone().into());
        }
        if let Some(docs) = &self.resource_documentation {
            doc.insert("resource_documentation".into(), docs.clone().into());
        }
        if !self.dpop_signing_alg_values_supported.is_empty() {
            doc.insert(
                "dpop_signing_alg_values_supported".into(),
                json!(self.dpop_signing_alg_values_supported),
            );
        }
        if self.dpop_bound_access_tokens_required {
            doc.insert("dpop_bound_access_tokens_required".into(), true.into());
        }
        doc.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uris_are_normalised() {
        for (input, canonical) in [
            ("HTTPS://MCP.Example.com/mcp", "https://mcp.example.com/mcp"),
            (
                "https://mcp.example.com:443/mcp/",
                "https://mcp.example.com/mcp",
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://h/a/b?x=1", "https://h/a/b?x=1"),
        ] {
            assert_eq!(canonical_resource(input).unwrap(), canonical, "{input}");
        }
        for bad in [
            "/mcp",
            "ftp://h/x",
            "https://h/mcp#frag",
            "https://u:p@h/mcp",
            "not a uri",
        ] {
            assert!(canonical_resource(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_urls_insert_the_well_known_path() {
        assert_eq!(
            metadata_url("https://h:1/mcp"),
            "https://h:1/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://h"),
            "https://h/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn metadata_documents_omit_empty_members() {
        let doc = ResourceMetadata {
            resource: "https://h/mcp".into(),
            authorization_servers: vec!["https://as".into()],
            scopes_supported: vec![],
            resource_name: None,
            resource_documentation: None,
            dpop_signing_alg_values_supported: vec![],
            dpop_bound_access_tokens_required: false,
        };
        assert_eq!(
            doc.to_json(),
            json!({"resource":"https://h/mcp","authorization_servers":["https://as"],"bearer_methods_supported":["header"]})
        );
        let dpop = ResourceMetadata {
            dpop_signing_alg_values_supported: vec!["ES256".into()],
            dpop_bound_access_tokens_required: true,
            ..doc
        };
        assert_eq!(
            dpop.to_json(),
            json!({"resource":"https://h/mcp","authorization_servers":["https://as"],"bearer_methods_supported":["header"],"dpop_signing_alg_values_supported":["ES256"],"dpop_bound_access_tokens_required":true})
        );
    }
}
