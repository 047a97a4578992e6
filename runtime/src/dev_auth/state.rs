//! What every handler shares: `DevState` (the issuer, the scopes of the one resource it serves,
//! the configuration and the signing key) and the `Store` of everything the flow remembers,
//! behind one lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::Value;

use crate::metadata;
use crate::scope::is_scope_token;

use super::cimd::{self, DocumentError};
use super::config::DevAuthConfig;
use super::grant::{AuthRequest, Grant};
use super::{clients, refresh};

pub(super) struct DevState {
    pub(super) issuer: String,
    pub(super) path: String,
    pub(super) resource: String,
    pub(super) scopes: Vec<String>,
    pub(super) default_scopes: Vec<String>,
    /// scope -> tools it unlocks (directly or through the hierarchy), for the consent page.
    pub(super) unlocks: Vec<(String, Vec<String>)>,
    /// What the development console shows.
    pub(super) catalog: Catalog,
    pub(super) config: DevAuthConfig,
    pub(super) key: EncodingKey,
    /// The public half of `key`: subject tokens of the exchange grant are checked with it.
    pub(super) verifying_key: DecodingKey,
    pub(super) kid: String,
    pub(super) jwks: Value,
    /// The downstream APIs the token-exchange grant issues tokens for.
    pub(super) downstream: Vec<String>,
    /// The issuer's host, lower case (IPv6 in brackets): a `Host` it accepts besides loopback.
    pub(super) issuer_host: String,
    /// Client ID Metadata Documents, fetched and cached.
    pub(super) documents: cimd::Documents,
    /// The ids of the DPoP proofs the token endpoint accepted (each is good once).
    pub(super) dpop_proofs: crate::server::MemoryReplayStore,
    /// Whether the "cannot see the local address" warning was logged (once is enough).
    pub(super) warned_unknown_local: AtomicBool,
    /// Everything the flow remembers, behind one lock: a code's redemption and the refresh
    /// family it starts, a refresh token's retirement and its successor, happen in one
    /// critical section each.
    pub(super) store: Mutex<Store>,
}

/// What the development console shows, rendered once when the server is built (see
/// `console.rs`): the scope table's rows, and the data its script reads.
pub(super) struct Catalog {
    pub(super) table: String,
    pub(super) data: Value,
}

pub(super) struct Store {
    pub(super) clients: clients::Clients,
    pub(super) pending: HashMap<String, (AuthRequest, Instant)>,
    pub(super) codes: HashMap<String, (Grant, Instant)>,
    pub(super) families: refresh::Families,
}

/// A client as the endpoints see it: registered, or described by its metadata document.
pub(super) struct KnownClient {
    pub(super) redirect_uris: Vec<String>,
    pub(super) name: Option<String>,
    /// Whether it may get refresh tokens (it asked for the `refresh_token` grant).
    pub(super) refresh: bool,
    /// A registered confidential client's secret.
    pub(super) secret: Option<String>,
    /// Whether every token request must carry a DPoP proof.
    pub(super) dpop_bound: bool,
}

/// Why a client id names no client.
pub(super) enum ClientError {
    /// Not registered (or forgotten).
    Unknown,
    /// A URL whose metadata document cannot be used.
    Document(DocumentError),
}

impl DevState {
    /// The client `id`: registered (and marked as used), or, for a URL, described by its Client
    /// ID Metadata Document, which must list `redirect_uri` when one is given.
    pub(super) async fn client(
        &self,
        id: &str,
        redirect_uri: Option<&str>,
    ) -> Result<KnownClient, ClientError> {
        // The MCP server's own client, for the token-exchange grant: configured, never
        // registered, never forgotten, with no redirect URI (it cannot authorize anyone).
        let exchange = &self.config.exchange_client;
        if id == exchange.id {
            return Ok(KnownClient {
                redirect_uris: Vec::new(),
                name: Some("the MCP server (token exchange)".into()),
                refresh: false,
                secret: Some(exchange.secret.clone()),
                dpop_bound: false,
            });
        }
        if cimd::is_url(id) {
            let doc = self
                .documents
                .get(id, redirect_uri)
                .await
                .map_err(ClientError::Document)?;
            return Ok(KnownClient {
                redirect_uris: doc.redirect_uris,
                name: doc.name,
                refresh: doc.refresh,
                secret: None,
                dpop_bound: doc.dpop_bound,
            });
        }
        let mut store = self.lock();
        let client = store
            .clients
            .get(id, Instant::now())
            .ok_or(ClientError::Unknown)?;
        Ok(KnownClient {
            redirect_uris: client.redirect_uris.clone(),
            name: client.name.clone(),
            refresh: client.refresh,
            secret: client.secret.clone(),
            dpop_bound: client.dpop_bound,
        })
    }

    /// The grants the token endpoint answers: token exchange only when there are downstream
    /// APIs to exchange tokens for.
    pub(super) fn grant_types(&self) -> Vec<&'static str> {
        let mut grants = vec!["authorization_code", "refresh_token"];
        if !self.downstream.is_empty() {
            grants.push(crate::auth::TOKEN_EXCHANGE_GRANT);
        }
        grants
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.issuer)
    }

    /// Validates requested scopes: every one must be a scope of the server.
    pub(super) fn scopes_for(&self, requested: Option<&str>) -> Result<Vec<String>, String> {
        let requested: Vec<&str> = requested
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if requested.is_empty() {
            return Ok(self.default_scopes.clone());
        }
        let mut scopes = Vec::new();
        for scope in requested {
            if !is_scope_token(scope) || !self.scopes.iter().any(|s| s == scope) {
                return Err(format!("unknown scope `{scope}`"));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        Ok(scopes)
    }

    /// RFC 8707: tokens are only ever issued for the one resource this server protects.
    pub(super) fn resource_for(&self, requested: Option<&str>) -> Result<String, String> {
        match requested {
            None => Ok(self.resource.clone()),
            Some(r) => match metadata::canonical_resource(r) {
                Ok(r) if r == self.resource => Ok(r),
                _ => Err(format!(
                    "this authorization server issues tokens for {} only",
                    self.resource
                )),
            },
        }
    }
}
