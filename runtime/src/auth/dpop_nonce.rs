//! Server-provided DPoP nonces (RFC 9449 §8 and §9), without state: a nonce names a period of
//! time and carries a MAC of it under the server's key, so any replica given the same key
//! accepts any other's, and nothing is stored per client.
//!
//! A nonce is good during its period and the next one; past the middle of that life the server
//! hands out the current one beside each answer (`DPoP-Nonce`), so a client that follows it
//! never meets `use_dpop_nonce` twice in a row.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Bytes of the MAC a nonce carries.
const TAG_BYTES: usize = 16;

/// The nonces of one server (or of replicas sharing a key).
#[derive(Clone)]
pub struct DpopNonces {
    key: Arc<hmac::Key>,
    period: u64,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces")
            .field("period_seconds", &self.period)
            .finish_non_exhaustive()
    }
}

/// What a proof's nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceVerdict {
    /// The nonce of the current period.
    Current,
    /// The nonce of the period before: accepted, and the answer carries the current one.
    Previous,
    /// Not a nonce of this server, or too old: answered `use_dpop_nonce`.
    Invalid,
}

impl DpopNonces {
    /// Nonces made with `secret` (at least 32 random bytes; give every replica the same), each
    /// good for 5 to 10 minutes.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, secret)),
            period: 300,
        }
    }

    /// Nonces under a key drawn at random for this process: for a single replica (another
    /// replica would refuse them, and a restart forgets them: clients are asked again).
    #[must_use]
    pub fn per_process() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system provides randomness");
        Self::new(&secret)
    }

    /// How long a period is (default 5 minutes, at least 1 second): a nonce is good during its
    /// period and the next.
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period.as_secs().max(1);
        self
    }

    /// The nonce to hand out at `now` (seconds since the epoch).
    #[must_use]
    pub fn current(&self, now: u64) -> String {
        self.nonce_of(now / self.period)
    }

    /// What `nonce` is worth at `now`.
    #[must_use]
    pub fn check(&self, nonce: &str, now: u64) -> NonceVerdict {
        let Some(bytes) = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .filter(|b| b.len() == 8 + TAG_BYTES)
        else {
            return NonceVerdict::Invalid;
        };
        let (index, tag) = bytes.split_at(8);
        let index = u64::from_be_bytes(index.try_into().unwrap_or_default());
        let full = hmac::sign(&self.key, &index.to_be_bytes());
        // Compared in constant time: the tag is what an attacker would guess.
        if !super::secret::constant_time_eq(&full.as_ref()[..TAG_BYTES], tag) {
            return NonceVerdict::Invalid;
        }
        let current = now / self.period;
        if index == current {
            NonceVerdict::Current
        } else if index.checked_add(1) == Some(current) {
            NonceVerdict::Previous
        } else {
            NonceVerdict::Invalid
        }
    }

    fn nonce_of(&self, index: u64) -> String {
        let tag = hmac::sign(&self.key, &index.to_be_bytes());
        let mut bytes = index.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_for_its_period_and_the_next() {
        let nonces =
            DpopNonces::new(b"0123456789abcdef0123456789abcdef").period(Duration::from_secs(60));
        let nonce = nonces.current(600);
        assert_eq!(nonces.check(&nonce, 600), NonceVerdict::Current);
        assert_eq!(nonces.check(&nonce, 659), NonceVerdict::Current);
        assert_eq!(nonces.check(&nonce, 660), NonceVerdict::Previous);
        assert_eq!(nonces.check(&nonce, 720), NonceVerdict::Invalid);
        // A nonce from the future is no nonce of ours yet.
        assert_eq!(nonces.check(&nonce, 599), NonceVerdict::Invalid);
    }

    #[test]
    fn another_key_or_a_forged_nonce_is_invalid() {
        let ours = DpopNonces::new(b"0123456789abcdef0123456789abcdef");
        let theirs = DpopNonces::new(b"fedcba9876543210fedcba9876543210");
        assert_eq!(
            ours.check(&theirs.current(1000), 1000),
            NonceVerdict::Invalid
        );
        let mut forged = URL_SAFE_NO_PAD
            .decode(ours.current(1000))
            .expect("base64url");
        forged[7] ^= 1;
        assert_eq!(
            ours.check(&URL_SAFE_NO_PAD.encode(forged), 1000),
            NonceVerdict::Invalid
        );
        assert_eq!(ours.check("", 1000), NonceVerdict::Invalid);
        assert_eq!(ours.check("not base64!", 1000), NonceVerdict::Invalid);
        // Replicas with one secret accept each other's.
        let replica = DpopNonces::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            replica.check(&ours.current(1000), 1000),
            NonceVerdict::Current
        );
        assert!(!format!("{ours:?}").contains("0123"));
    }
}
