//! The tokens a verifier has verified, each remembered with its principal until its `exp`.
//!
//! A token is the table's key: found by its tail, confirmed by its whole text.
//! - the key hashes as the token's last 32 bytes, the end of its signature in base64url. An
//!   issuer's signature cannot be predicted, so two tokens it signed do not share a tail;
//! - a token found by its tail is taken only if it equals, byte for byte and compared in
//!   constant time, the token remembered. A token made to end like a remembered one, or one
//!   differing anywhere else, is simply not found, and is verified in full.
//!
//! Nothing is hashed on the way: a SHA-256 of a typical token costs most of a microsecond, on
//! every request of a client the thread has not just served. Comparing the token with the one
//! remembered costs a few dozen nanoseconds.
//!
//! What a lookup reads lives in the table's own entry (the principal's pointer, the expiry):
//! nothing else is allocated per token beside its text and its principal, and a request that
//! presents a remembered token touches no reference count but its principal's.
//!
//! When full, quick_cache's S3-FIFO-like policy chooses what to forget: a token seen once goes
//! before one seen again, so a scan of new tokens does not flush those in use. The table is
//! bounded by count and by bytes: each entry weighs its [`charge`], and at least
//! `max_bytes / capacity`, so both bounds hold.

use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::SystemTime;

use super::jwks::KeyId;
use super::secret::constant_time_eq;
use crate::principal::Principal;

/// How many bytes of a token's end make its hash.
const TAIL: usize = 32;

/// A token's last [`TAIL`] bytes (zeros before a shorter token).
fn tail(bytes: &[u8]) -> [u8; TAIL] {
    let mut key = [0; TAIL];
    let end = &bytes[bytes.len().saturating_sub(TAIL)..];
    key[TAIL - end.len()..].copy_from_slice(end);
    key
}

/// A remembered token's text: the table's key, hashed by its [`tail`].
struct Stored(Box<[u8]>);

impl Hash for Stored {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&tail(&self.0));
    }
}

/// Compared whole and in constant time, as a presented token is.
impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for Stored {}

/// A token as a request presents it, looked up without copying it.
struct Presented<'a>(&'a [u8]);

impl Hash for Presented<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&tail(self.0));
    }
}

impl quick_cache::Equivalent<Stored> for Presented<'_> {
    fn equivalent(&self, stored: &Stored) -> bool {
        constant_time_eq(self.0, &stored.0)
    }
}

/// What a remembered token stands for: its principal, when it expires, the key that verified it.
#[derive(Clone)]
pub(super) struct Verified {
    pub(super) principal: Principal,
    pub(super) expires: SystemTime,
    pub(super) key: KeyId,
    weight: u64,
}

/// What remembering a token of `len` bytes is charged against the byte bound: its text, kept
/// to confirm it, and its principal, which holds the token's claims decoded (about as large
/// again, and more), plus 512 bytes of entry, bookkeeping and the allocator's own. Measured:
/// 8 000 RS256 tokens of 638 bytes grew a server's RSS by 2.2 KB each (charged 2 426).
pub(super) fn charge(len: usize) -> usize {
    len.saturating_mul(3).saturating_add(512)
}

/// An entry's weight: its own.
#[derive(Clone)]
struct ByCharge;

impl quick_cache::Weighter<Stored, Verified> for ByCharge {
    fn weight(&self, _: &Stored, verified: &Verified) -> u64 {
        verified.weight
    }
}

/// Hashes a tail by mixing its four eight-byte words: base64url text, six bits of an
/// unpredictable signature per byte. A client choosing tails that collide learns nothing and
/// gains nothing: the table holds only tokens that verified, and a lookup that lands beside
/// them finds no token equal to its own.
#[derive(Default)]
struct TailHash(u64);

impl Hasher for TailHash {
    fn write(&mut self, bytes: &[u8]) {
        // A tail is hashed as its bytes alone (no length first).
        let mut mixed = self.0;
        for (i, word) in bytes.chunks(8).enumerate() {
            let mut padded = [0; 8];
            padded[..word.len()].copy_from_slice(word);
            let rotation = u32::try_from(i % 4).unwrap_or(0) * 16;
            mixed ^= u64::from_le_bytes(padded).rotate_left(rotation);
        }
        self.0 = mixed;
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's finalizer: every bit of the words reaches every bit of the hash.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// The table.
pub(super) struct VerifiedTokens {
    table: quick_cache::sync::Cache<Stored, Verified, ByCharge, BuildHasherDefault<TailHash>>,
    max_bytes: usize,
    capacity: usize,
}

impl VerifiedTokens {
    /// Room for `capacity` tokens within `max_bytes`.
    pub(super) fn new(capacity: usize, max_bytes: usize) -> Self {
        // The table is split in shards, each holding its share of the count and of the bytes.
        // Expect no more entries than the bytes hold tokens of a kilobyte, or a small byte
        // bound would be split in shards no token fits in. Tokens fall in shards unevenly: with
        // at least 512 entries to a shard, a table four-fifths full has no shard overflowing
        // (and forgetting) while others have room.
        let expected = capacity.min(max_bytes / charge(1024)).max(1);
        let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
        let shards = (expected / 512).clamp(1, parallelism * 4);
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(expected)
            .weight_capacity(u64::try_from(max_bytes).unwrap_or(u64::MAX))
            .shards(shards)
            .build()
            .expect("both capacities are set");
        let table = quick_cache::sync::Cache::with_options(
            options,
            ByCharge,
            BuildHasherDefault::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        Self {
            table,
            max_bytes,
            capacity,
        }
    }

    /// How many tokens are remembered.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// What `token` stands for, when a token whose text is `token`'s exactly is remembered.
    ///
    /// Bytes, as the request carried them: bytes equal to a remembered token are that token, so
    /// they need no check of their own.
    pub(super) fn find(&self, token: &[u8]) -> Option<Verified> {
        self.table.get(&Presented(token))
    }

    /// Forgets `token`.
    pub(super) fn forget(&self, token: &[u8]) {
        self.table.remove(&Presented(token));
    }

    /// Remembers `token` with its principal until `expires`, unless it is too large for the
    /// byte bound.
    pub(super) fn insert(
        &self,
        token: &str,
        principal: &Principal,
        expires: SystemTime,
        key: KeyId,
    ) {
        let charge = charge(token.len());
        if charge > self.max_bytes {
            return;
        }
        let floor = self.max_bytes / self.capacity.max(1);
        let weight = u64::try_from(charge.max(floor)).unwrap_or(u64::MAX);
        self.table.insert(
            Stored(token.as_bytes().into()),
            Verified {
                principal: principal.clone(),
                expires,
                key,
                weight,
            },
        );
    }

    /// Keeps only the tokens `keep` says to.
    pub(super) fn retain(&self, keep: impl Fn(&Verified) -> bool) {
        self.table.retain(|_, v| keep(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> SystemTime {
        SystemTime::now() + std::time::Duration::from_secs(300)
    }

    #[test]
    fn a_token_is_found_only_by_its_whole_text() {
        let table = VerifiedTokens::new(100, 1 << 20);
        let principal = Principal::builder().subject("s").build();
        let token = format!("header.payload.{}", "signature-".repeat(5));
        table.insert(&token, &principal, later(), [0; 32]);
        let found = table.find(token.as_bytes()).expect("remembered");
        assert_eq!(found.principal.subject(), Some("s"));
        // The same tail after another header or payload; one byte changed anywhere; a token
        // that is the tail alone; a prefix.
        let same_tail = format!("header.payloaD.{}", "signature-".repeat(5));
        assert_eq!(tail(same_tail.as_bytes()), tail(token.as_bytes()));
        assert!(
            table.find(same_tail.as_bytes()).is_none(),
            "another payload"
        );
        // Remembered too, it is found apart: two tokens ending alike do not replace each other.
        let other = Principal::builder().subject("t").build();
        table.insert(&same_tail, &other, later(), [0; 32]);
        let found = |token: &str| table.find(token.as_bytes()).map(|v| v.principal);
        assert_eq!(
            found(&same_tail).as_ref().and_then(Principal::subject),
            Some("t")
        );
        assert_eq!(
            found(&token).as_ref().and_then(Principal::subject),
            Some("s")
        );
        let mut changed = token.clone().into_bytes();
        changed[0] ^= 1;
        assert!(table.find(&changed).is_none());
        assert!(
            table
                .find(&token.as_bytes()[token.len() - TAIL..])
                .is_none()
        );
        assert!(table.find(&token.as_bytes()[..token.len() - 1]).is_none());
        // Forgetting another token with the same tail leaves this one.
        table.forget(same_tail.as_bytes());
        assert!(table.find(same_tail.as_bytes()).is_none());
        assert!(table.find(token.as_bytes()).is_some());
        table.forget(token.as_bytes());
        assert!(table.find(token.as_bytes()).is_none());
    }

    #[test]
    fn short_tokens_are_keyed_apart_from_their_padding() {
        let table = VerifiedTokens::new(100, 1 << 20);
        let principal = Principal::builder().subject("s").build();
        table.insert("a.b.c", &principal, later(), [0; 32]);
        assert!(table.find(b"a.b.c").is_some());
        assert!(table.find(b"\0a.b.c").is_none());
        assert!(table.find(b"").is_none());
    }

    #[test]
    fn the_byte_bound_holds_whatever_the_count() {
        let table = VerifiedTokens::new(10_000, 64 * 1024);
        let principal = Principal::builder().subject("s").build();
        for i in 0..1_000 {
            let token = format!("h.p.{i:0>1000}");
            table.insert(&token, &principal, later(), [0; 32]);
        }
        // 64 KiB holds at most 18 tokens charged 3 524 bytes each.
        assert!(table.len() <= 64 * 1024 / charge(1004), "{}", table.len());
        assert!(table.len() > 0);
        // Larger than the whole bound: never remembered.
        let huge = "x".repeat(64 * 1024);
        table.insert(&huge, &principal, later(), [0; 32]);
        assert!(table.find(huge.as_bytes()).is_none());
    }
}
