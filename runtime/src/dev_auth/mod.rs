//! A development authorization server, mounted beside the MCP server, so the whole OAuth flow
//! runs on one laptop with no account anywhere. **For development only.**
//!
//! It is spec-correct enough for real clients: RFC 8414 metadata, dynamic client registration
//! (RFC 7591) or Client ID Metadata Documents (a `client_id` that is an `https` URL, fetched
//! and validated: see `cimd.rs`), the authorization code grant with PKCE S256 required (OAuth 2.1), a consent page
//! that lists each requested scope with the tools it unlocks, refresh tokens with rotation (and
//! reuse detection), resource indicators (RFC 8707: `resource` becomes `aud`), and RFC 9068
//! `at+jwt` access tokens signed with an ES256 key generated at start and published as a JWKS.
//!
//! It hands out any scope without a login, so it is hard to expose by accident: it refuses to
//! start for a non-loopback resource, and refuses every request that did not arrive on a
//! loopback local address ([`crate::http::LocalAddr`], which scopegate's own serve loop adds;
//! a router served by other means answers 403), that a proxy or tunnel forwarded (`Forwarded`,
//! `X-Forwarded-*`, `X-Real-IP`, `Via`: a proxy on the same machine arrives on loopback), or
//! whose `Host` is foreign (DNS rebinding), unless [`DevAuthConfig::allow_non_loopback()`] says
//! otherwise, loudly. `/authorize` and its decision answer browser navigations only (Fetch
//! Metadata), keep a bounded `state` and at most 20 pending requests per client. Registration
//! is bounded (JSON only, 64 KiB, rate limited, and a quota of clients and bytes per owner: the
//! peer's address and the request's `Origin`, so that one web page cannot spend the quota of
//! the developer's own tools; a client that never completed an authorization is forgotten
//! after 10 minutes), refresh
//! tokens rotate with reuse detection that cannot be flushed (see `refresh.rs`), and a replayed
//! authorization code revokes the refresh tokens issued from it. Access tokens already issued
//! are not recalled: they live out their short lifetime
//! ([`DevAuthConfig::access_token_ttl()`], 5 minutes by default).
//!
//! `{path}/console` is a page for the developer: every scope with what it unlocks, a token
//! minted through the consent page (as any browser client would: see `console.rs`), decoded,
//! and a tool called with it.

mod authorize;
mod cimd;
mod clients;
mod clock;
mod config;
mod console;
mod discovery;
mod dpop;
mod exchange;
mod grant;
mod guard;
mod keys;
mod limits;
mod random;
mod refresh;
mod register;
mod responses;
mod state;
mod token;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::metadata;
use crate::server::{Core, McpServer, Server};

pub use config::{DevAuthConfig, DevAuthError, ExchangeClient};

use authorize::{authorize, decision};
use discovery::{jwks, metadata_document};
use guard::is_loopback_url;
use keys::generate_key;
use register::register;
use state::{DevState, Store};
use token::token;

/// The development authorization server for one MCP server.
#[derive(Clone)]
pub struct DevAuth {
    state: Arc<DevState>,
}

impl DevAuth {
    /// A development authorization server issuing tokens for `resource` (the MCP server's
    /// public URI), with the scopes and tools of `server`. The issuer is the resource's origin
    /// plus [`DevAuthConfig::path`].
    pub fn new<S: McpServer>(
        server: &Server<S>,
        resource: &str,
        config: DevAuthConfig,
    ) -> Result<Self, DevAuthError> {
        Self::for_core(&server.core, resource, config)
    }

    fn for_core(
        server: &Core,
        resource: &str,
        config: DevAuthConfig,
    ) -> Result<Self, DevAuthError> {
        let resource = metadata::canonical_resource(resource)?;
        let (origin, _) = metadata::origin_and_path(&resource);
        if !config.allow_non_loopback && !is_loopback_url(origin) {
            return Err(DevAuthError::NotLoopback(origin.to_owned()));
        }
        let path = format!("/{}", config.path.trim_matches('/'));
        let issuer = format!("{origin}{path}");
        let table = server.scopes();
        let scopes: Vec<String> = table
            .supported()
            .iter()
            .filter(|s| **s != "offline_access")
            .map(|s| (*s).to_owned())
            .collect();
        let unlocks = server
            .scope_rows()
            .into_iter()
            .map(|(scope, _, tools, _)| {
                (
                    scope.to_owned(),
                    tools.into_iter().map(str::to_owned).collect(),
                )
            })
            .collect();
        let default_scopes = match &config.default_scopes {
            Some(scopes) => {
                if let Some(bad) = scopes
                    .iter()
                    .find(|s| !table.supported().contains(&s.as_str()))
                {
                    return Err(DevAuthError::Scope(bad.clone()));
                }
                scopes.clone()
            }
            None => server.required_scopes(),
        };
        let issuer_host = url::Url::parse(&issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let catalog = console::catalog(server, &issuer, &path, &resource, &scopes);
        let documents = cimd::Documents::new(&issuer, config.metadata_document_ca.as_deref())?;
        let (key, jwk) = generate_key()?;
        let verifying_key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
            .map_err(|e| DevAuthError::Key(e.to_string()))?;
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        let downstream = config.downstream.clone().unwrap_or_else(|| {
            server
                .downstream()
                .iter()
                .map(|api| (*api).to_owned())
                .collect()
        });
        let jwks = json!({ "keys": [jwk] });
        tracing::warn!(
            target: "scopegate::dev_auth",
            issuer = %issuer,
            "DEVELOPMENT AUTHORIZATION SERVER: approves {} for subject `{}`; never use it in production",
            if config.auto_approve { "every request automatically" } else { "requests on a consent page without login" },
            config.subject
        );
        if config.allow_non_loopback {
            tracing::warn!(
                target: "scopegate::dev_auth",
                issuer = %issuer,
                "DEVELOPMENT AUTHORIZATION SERVER: allow_non_loopback is on: it answers on every address it is served on, and anyone who reaches it can mint tokens with every scope"
            );
        }
        Ok(Self {
            state: Arc::new(DevState {
                issuer,
                path,
                resource,
                scopes,
                default_scopes,
                unlocks,
                catalog,
                config,
                key,
                verifying_key,
                kid,
                jwks,
                downstream,
                issuer_host,
                documents,
                dpop_proofs: crate::server::MemoryReplayStore::new(),
                warned_unknown_local: AtomicBool::new(false),
                store: Mutex::new(Store {
                    clients: clients::Clients::default(),
                    pending: HashMap::new(),
                    codes: HashMap::new(),
                    families: refresh::Families::new(),
                }),
            }),
        })
    }

    /// The issuer identifier (give it to [`crate::http::HttpConfig::jwt_issuer`]).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The routes: metadata (RFC 8414 path-inserted, and OpenID discovery), registration,
    /// authorization, consent, token, JWKS, and the development console (`{path}/console`: the
    /// scopes, a token minted through the consent page, a tool called with it). Merge it into the MCP server's router, and serve
    /// it with [`crate::http::serve_on`] or [`crate::http::serve_with`] (or a loop of your own
    /// that inserts [`crate::http::LocalAddr`]): every request without a loopback local
    /// address is refused with 403.
    pub fn router(&self) -> Router {
        let p = &self.state.path;
        // Top-level navigations: no CORS, so no page on another origin can read them.
        let navigations = Router::new()
            .route(&format!("{p}/authorize"), get(authorize))
            .route(&format!("{p}/authorize/decision"), post(decision))
            // The development console: a page, and no CORS either.
            .route(&format!("{p}/console"), get(console::console));
        let public = Router::new()
            .route(
                &format!("/.well-known/oauth-authorization-server{p}"),
                get(metadata_document),
            )
            .route(
                &format!("/.well-known/openid-configuration{p}"),
                get(metadata_document),
            )
            .route(
                &format!("{p}/.well-known/openid-configuration"),
                get(metadata_document),
            )
            .route(&format!("{p}/register"), post(register))
            .route(&format!("{p}/token"), post(token))
            .route(&format!("{p}/jwks"), get(jwks))
            .layer(guard::cors());
        // The guard wraps every route, preflights included.
        public
            .merge(navigations)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state),
                guard::guard,
            ))
            .with_state(Arc::clone(&self.state))
    }
}

impl std::fmt::Debug for DevAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevAuth")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}
