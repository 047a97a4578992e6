//! DPoP (RFC 9449 §7) on the MCP endpoint: a `DPoP`-scheme request's proof checked beside its
//! token, the proof's `jti` seen once (in the server's replay store, which replicas share), the
//! server's nonces, and the `DPoP` challenges.
//!
//! Order of the checks: the proof alone (one header, then everything [`verify_proof`] checks,
//! `ath` included), the token (every check of a bearer token, except that it must be bound to a
//! DPoP key), the token's key against the proof's, the nonce, and last the `jti`: a proof is
//! spent only by a request that passed everything else.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{HeaderName, HeaderValue};
use axum::http::request::Parts;

use crate::auth::{
    AuthError, AuthScheme, Challenge, DpopConfig, NonceVerdict, ProofError, ProofKeys, ProofTarget,
    TokenVerifier, one_proof, verify_proof_cached,
};
use crate::principal::{KeyBinding, Principal};
use crate::server::ReplayStore;

/// The request header carrying the proof.
pub(super) const DPOP_HEADER: HeaderName = HeaderName::from_static("dpop");

/// The response header carrying the server's nonce (RFC 9449 §8.1, §9).
pub(super) const DPOP_NONCE_HEADER: HeaderName = HeaderName::from_static("dpop-nonce");

/// DPoP as this endpoint accepts it.
pub(super) struct Dpop {
    config: DpopConfig,
    replay: Arc<dyn ReplayStore>,
    /// The resource's public URI, which `htu` must name (behind a proxy too: the URI the
    /// client addressed, not the one the proxy forwarded to).
    htu: String,
    /// The challenges' `algs`.
    algs: String,
    /// What the headers of recent proofs decided (their keys).
    keys: ProofKeys,
}

/// Why a DPoP request was refused.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The proof (or its fit with the token): 401 `invalid_dpop_proof` or `use_dpop_nonce`.
    Proof(ProofError),
    /// The token: 401 `invalid_token`.
    Token(AuthError),
    /// The replay store could not say whether the proof is new: refused (503) until it can.
    Store,
}

impl Dpop {
    /// DPoP under `config` for the resource whose public URI is `resource`, proofs spent in
    /// `replay`.
    pub(super) fn new(config: DpopConfig, replay: Arc<dyn ReplayStore>, resource: &str) -> Self {
        let algs = config.algorithm_names().join(" ");
        Self {
            config,
            replay,
            htu: resource.to_owned(),
            algs,
            keys: ProofKeys::default(),
        }
    }

    /// Whether bearer tokens are refused.
    pub(super) fn required(&self) -> bool {
        self.config.is_required()
    }

    /// The accepted proof algorithms, for the metadata.
    pub(super) fn algorithm_names(&self) -> Vec<String> {
        self.config
            .algorithm_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Authenticates a request in the `DPoP` scheme whose token is `token`.
    pub(super) async fn authenticate(
        &self,
        verifier: &dyn TokenVerifier,
        parts: &Parts,
        token: &str,
    ) -> Result<Principal, Refusal> {
        // RFC 9449 §4.3 check 1: exactly one proof.
        let values = parts.headers.get_all(DPOP_HEADER).iter();
        let proof = one_proof(values.map(HeaderValue::as_bytes))
            .and_then(|proof| proof.ok_or(ProofError::Missing))
            .map_err(Refusal::Proof)?;
        let now = jsonwebtoken::get_current_timestamp();
        let target = ProofTarget {
            method: parts.method.as_str(),
            uri: &self.htu,
            access_token: Some(token),
            now,
        };
        let proof = verify_proof_cached(proof, &self.config, &target, &self.keys)
            .map_err(Refusal::Proof)?;
        let principal = verifier.verify_dpop(token).await.map_err(Refusal::Token)?;
        // RFC 9449 §7.1: the token's key is the proof's.
        match principal.key_binding() {
            KeyBinding::Dpop(jkt) if *jkt == proof.thumbprint => {}
            _ => return Err(Refusal::Proof(ProofError::KeyMismatch)),
        }
        if let Some(nonces) = self.config.nonce_source() {
            let verdict = proof
                .nonce
                .as_deref()
                .map_or(NonceVerdict::Invalid, |nonce| nonces.check(nonce, now));
            if verdict == NonceVerdict::Invalid {
                return Err(Refusal::Proof(ProofError::Nonce));
            }
        }
        // Kept until the proof's `iat` leaves the window: past that, `iat` refuses it anyway.
        let window = self.config.iat_window().as_secs();
        let keep = proof
            .issued_at
            .saturating_add(window)
            .saturating_sub(now)
            .saturating_add(1);
        let id = format!("dpop:{}:{}", proof.thumbprint, proof.jti);
        match self.replay.first_use(&id, Duration::from_secs(keep)).await {
            Ok(true) => Ok(principal),
            Ok(false) => Err(Refusal::Proof(ProofError::Replayed)),
            Err(error) => {
                tracing::warn!(target: "scopegate::auth", event = "dpop_store_unavailable", %error, "the replay store did not answer: DPoP requests are refused");
                Err(Refusal::Store)
            }
        }
    }

    /// The nonce an answer to a DPoP request carries, when the server requires nonces: the
    /// current one, so a client following it never meets `use_dpop_nonce` (RFC 9449 §8.2).
    pub(super) fn fresh_nonce(&self) -> Option<HeaderValue> {
        let nonces = self.config.nonce_source()?;
        HeaderValue::from_str(&nonces.current(jsonwebtoken::get_current_timestamp())).ok()
    }

    /// A `DPoP` challenge with `algs`.
    pub(super) fn challenge(
        &self,
        error: Option<&'static str>,
        description: Option<String>,
        scope: Option<String>,
        resource_metadata: Option<String>,
    ) -> Challenge {
        Challenge {
            scheme: AuthScheme::Dpop,
            error,
            description,
            scope,
            resource_metadata,
            algs: Some(self.algs.clone()),
        }
    }

    /// The challenge that offers DPoP beside a `Bearer` one: `DPoP algs="…"`.
    pub(super) fn offer(&self) -> String {
        self.challenge(None, None, None, None).header_value()
    }
}
