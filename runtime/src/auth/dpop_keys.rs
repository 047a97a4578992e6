//! The keys of recent DPoP proofs, by their header. A client signs every proof with one key, so
//! its proofs' headers (`typ`, `alg`, `jwk`) are the same bytes each time: what a header alone
//! decides (its type, its algorithm, the key parsed from its JWK, the key's thumbprint) is
//! worked out once and kept here, and each proof's signature is still verified with that key.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use jsonwebtoken::Algorithm;

use super::jws::PublicKey;

/// What a proof's header decided: the algorithm, the key, the key's RFC 7638 thumbprint.
pub(super) struct ProofKey {
    pub(super) alg: Algorithm,
    pub(super) key: PublicKey,
    pub(super) thumbprint: String,
}

/// The keys of recent proofs, by header. Bounded: when it holds `capacity` headers it is
/// emptied (a client whose key was dropped pays for one header's parse).
pub struct ProofKeys {
    keys: RwLock<HashMap<Box<str>, Arc<ProofKey>>>,
    capacity: usize,
}

impl ProofKeys {
    /// A cache of at most `capacity` headers (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: RwLock::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many headers are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn get(&self, header: &str) -> Option<Arc<ProofKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(header)
            .cloned()
    }

    /// Keeps `key` for `header`, whose proof's signature it verified.
    pub(super) fn remember(&self, header: &str, key: Arc<ProofKey>) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(header.into(), key);
    }
}

impl Default for ProofKeys {
    /// Room for 4 096 clients' keys.
    fn default() -> Self {
        Self::new(4_096)
    }
}

impl std::fmt::Debug for ProofKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKeys")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}
