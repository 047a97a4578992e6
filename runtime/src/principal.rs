//! Who is calling: the authenticated principal a transport hands to the dispatcher.

use std::sync::Arc;

use crate::scope::ScopeSet;

/// The caller of a request, as established by the transport (a verified token over HTTP, the
/// environment over stdio).
///
/// Tools ask for it as a parameter. It carries what the token said about the caller, never the
/// token itself: tool code cannot forward the client's credentials anywhere (no token passthrough).
/// Cloning is cheap.
#[derive(Clone)]
pub struct Principal {
    inner: Arc<Inner>,
    /// The token the caller authenticated with, carried for token exchange only (see
    /// `with_subject_token`).
    subject_token: Option<Arc<str>>,
}

/// In this order: what every request reads (the scopes, the binding) first, beside the
/// `Arc`'s counts, so that a principal not in the CPU's caches (one of many clients') costs one
/// or two lines of memory rather than three.
#[repr(C)]
struct Inner {
    scopes: ScopeSet,
    binding: KeyBinding,
    issuer: Option<String>,
    subject: Option<String>,
    client_id: Option<String>,
    claims: serde_json::Map<String, serde_json::Value>,
    /// [`Principal::identity_key`], worked out the first time it is asked for: a remembered
    /// token's principal is shared by every request that presents the token.
    identity: std::sync::OnceLock<Box<str>>,
}

/// The key a token is bound to (RFC 7800 `cnf`), whose possession the client must prove with
/// each request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyBinding {
    /// None: a bearer token.
    #[default]
    None,
    /// A DPoP key (RFC 9449 §6): the RFC 7638 SHA-256 thumbprint of its public JWK (`cnf.jkt`).
    Dpop(String),
    /// Another confirmation method (mutual TLS's `x5t#S256`, RFC 8705, or one unknown here):
    /// no request this server accepts can prove it.
    Other,
}

impl Principal {
    /// A caller nobody vouched for: no subject, no scopes. It may call only `public` tools.
    #[must_use]
    pub fn anonymous() -> Self {
        Self::builder().build()
    }

    /// Starts building a principal.
    pub fn builder() -> PrincipalBuilder {
        PrincipalBuilder {
            inner: Inner {
                issuer: None,
                subject: None,
                client_id: None,
                scopes: ScopeSet::empty(),
                claims: serde_json::Map::new(),
                binding: KeyBinding::None,
                identity: std::sync::OnceLock::new(),
            },
        }
    }

    /// The authorization server that vouched for the caller (the verified `iss`), when known.
    ///
    /// A subject is unique only within its issuer (RFC 9068 §2.2, OpenID Connect Core §2): two
    /// issuers may each have a user `alice`. Principals from the environment (stdio) have none.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// The subject (`sub`), when one is known.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// The OAuth client the token was issued to (`client_id` or `azp`), when known.
    #[must_use]
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The scopes granted to the caller.
    #[must_use]
    pub fn scopes(&self) -> &ScopeSet {
        &self.inner.scopes
    }

    /// Every claim of the verified token (empty when the principal did not come from a token).
    #[must_use]
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.inner.claims
    }

    /// The key the caller's token is bound to: a DPoP-bound token's principal was
    /// authenticated with a proof of that key, and the step-up challenges it gets are in the
    /// `DPoP` scheme.
    #[must_use]
    pub fn key_binding(&self) -> &KeyBinding {
        &self.inner.binding
    }

    /// A key naming the caller: its issuer, subject and client together, each length-prefixed
    /// (`-` when absent), so that no subject can be written to read as another issuer, subject
    /// and client. A subject is unique only within its issuer, and the same user through another
    /// client is another caller. Sessions are owned, and callers rate-limited, by it.
    pub(crate) fn identity_key(&self) -> &str {
        self.inner.identity.get_or_init(|| {
            let parts = [self.issuer(), self.subject(), self.client_id()];
            let mut key = String::with_capacity(
                40 + parts.iter().map(|p| p.map_or(1, str::len)).sum::<usize>(),
            );
            for (label, part) in ["iss:", "|sub:", "|client:"].into_iter().zip(parts) {
                key.push_str(label);
                match part {
                    Some(part) => {
                        key.push_str(&part.len().to_string());
                        key.push(':');
                        key.push_str(part);
                    }
                    None => key.push('-'),
                }
            }
            key.into_boxed_str()
        })
    }

    /// Whether nothing is known about the caller.
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.inner.subject.is_none() && self.inner.scopes.is_empty()
    }
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Claims may hold personal data: keep them out of logs.
        f.debug_struct("Principal")
            .field("issuer", &self.inner.issuer)
            .field("subject", &self.inner.subject)
            .field("client_id", &self.inner.client_id)
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

// Token exchange (`handler::Downstream`): the caller's token rides with the principal, out of
// every public method and of `Debug`, so a handler can have it exchanged but never read it.
impl Principal {
    /// The same principal, carrying `token` for token exchange. Only transports call it, and
    /// only for a server with downstream APIs.
    pub(crate) fn with_subject_token(mut self, token: &str) -> Self {
        self.subject_token = Some(Arc::from(token));
        self
    }

    /// The token the caller authenticated with, when the transport carried it.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn subject_token(&self) -> Option<&Arc<str>> {
        self.subject_token.as_ref()
    }
}

/// Builds a [`Principal`].
#[must_use]
pub struct PrincipalBuilder {
    inner: Inner,
}

impl PrincipalBuilder {
    /// Sets the issuer: the authorization server that vouched for the caller.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.inner.issuer = Some(issuer.into());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.inner.subject = Some(subject.into());
        self
    }

    /// Sets the OAuth client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.inner.client_id = Some(client_id.into());
        self
    }

    /// Sets the granted scopes.
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.inner.scopes = scopes;
        self
    }

    /// Sets the verified claims.
    pub fn claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Self {
        self.inner.claims = claims;
        self
    }

    /// Sets the key the token is bound to (see [`Principal::key_binding`]).
    pub fn key_binding(mut self, binding: KeyBinding) -> Self {
        self.inner.binding = binding;
        self
    }

    /// Finishes the principal.
    #[must_use]
    pub fn build(self) -> Principal {
        Principal {
            inner: Arc::new(self.inner),
            subject_token: None,
        }
    }
}
