//! Token-bucket rate limits: a [`Quota`], the [`RateLimitStore`] replicas share allowances
//! through, and the in-process [`Limiter`]. The HTTP transport limits requests per address and
//! per principal with them, and the dispatcher a tool's calls under its `quota` ([`ToolQuotas`],
//! counted in `tool_quota.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hashbrown::HashTable;

use super::store::StoreFuture;
use crate::tool::{ToolMeta, ToolQuota};

/// A rate: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests allowed per second, sustained.
    pub per_second: f64,
}

impl Quota {
    /// A quota of `per_second` sustained with bursts of `burst`.
    #[must_use]
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}

/// Rate-limit allowances shared between processes (the in-process limiter is the default).
pub trait RateLimitStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes one request from `key`'s allowance under `quota`: `None` when allowed, else how
    /// long until a request would be.
    fn take<'a>(&'a self, key: &'a str, quota: Quota) -> StoreFuture<'a, Option<Duration>>;
}

/// Allowances keyed by client address or principal, as the generic cell rate algorithm keeps a
/// token bucket: each key holds one number, the time its allowance is spent up to, and a request
/// moves it on by one interval with a single atomic exchange. Requests of one key on several
/// threads never wait for each other, and those of different keys share no lock but, rarely,
/// the write lock of their shard as a new key comes in. Bounded: when a shard holds too many
/// keys, the idle ones (a full allowance) are dropped.
pub(crate) struct Limiter {
    quota: Quota,
    /// Nanoseconds for one request's share of the allowance to come back (`1 / rate`; zero for
    /// an endless rate).
    interval: u64,
    /// How far ahead of now a key's allowance may be spent and still allow one more request:
    /// the burst, less that request, in intervals.
    tolerance: u64,
    /// What the times are counted from, in nanoseconds.
    epoch: Instant,
    hasher: ahash::RandomState,
    shards: Box<[Shard]>,
}

/// A part of a limiter's keys, with the time each one's allowance is spent up to.
type Shard = RwLock<HashTable<(Box<str>, AtomicU64)>>;

const MAX_KEYS: usize = 100_000;

/// Shards of a limiter's table: two cores or sixty-four, threads adding new keys at once
/// rarely meet.
const SHARDS: usize = 16;

/// The slowest refill a quota gets: one request per 10⁶ seconds.
const MIN_RATE: f64 = 1e-6;

impl Limiter {
    pub(crate) fn new(quota: Quota) -> Self {
        // A rate of zero, negative or not a number refills one request in about twelve days
        // (as the Redis store's does): no interval overflows. An endless rate limits nothing.
        let rate = quota.per_second.max(MIN_RATE);
        let interval = if rate.is_infinite() {
            0
        } else {
            // Saturating, as `as` converts: at most 10¹⁵ for `MIN_RATE`.
            (1e9 / rate).round() as u64
        };
        Self {
            quota,
            interval,
            tolerance: interval.saturating_mul(u64::from(quota.burst.max(1) - 1)),
            epoch: Instant::now(),
            hasher: ahash::RandomState::new(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }

    /// The quota it limits by.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn quota(&self) -> Quota {
        self.quota
    }

    /// Takes one request from `key`'s allowance; when none is left, how long until one is.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        // Nanoseconds since the epoch: 584 years fit.
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let hash = self.hasher.hash_one(key);
        // Bits neither the table's slots (the low ones) nor its tags (the top seven) use.
        let shard = &self.shards[(hash >> 40) as usize % SHARDS];
        let same = |(stored, _): &(Box<str>, AtomicU64)| **stored == *key;
        {
            let table = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, spent)) = table.find(hash, same) {
                return self.take(spent, now);
            }
        }
        // A client's key is copied into the table on its first request only.
        let mut table = shard.write().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= MAX_KEYS / SHARDS && table.find(hash, same).is_none() {
            // Idle keys go first: an allowance spent up to the past is full again.
            table.retain(|(_, spent)| *spent.get_mut() > now);
            // Every key still busy: a tenth of them go (their clients start again from a full
            // allowance), so the table stays bounded and the scan happens once per many keys.
            if table.len() >= MAX_KEYS / SHARDS {
                let mut dropped = 0;
                table.retain(|_| {
                    dropped += 1;
                    dropped > MAX_KEYS / SHARDS / 10
                });
            }
        }
        let hasher = &self.hasher;
        let (_, spent) = table
            .entry(hash, same, |(stored, _)| hasher.hash_one(&**stored))
            .or_insert_with(|| (key.into(), AtomicU64::new(0)))
            .into_mut();
        self.take(spent, now)
    }

    /// Takes one request from the allowance spent up to `spent`, at `now`: moves it on by one
    /// interval, unless it is already spent further ahead than the burst allows.
    fn take(&self, spent: &AtomicU64, now: u64) -> Result<(), Duration> {
        let mut seen = spent.load(Ordering::Relaxed);
        loop {
            // An allowance spent up to the past is full: it is spent from now.
            let from = seen.max(now);
            let ahead = from - now;
            if ahead > self.tolerance {
                return Err(Duration::from_nanos(ahead - self.tolerance));
            }
            let next = from.saturating_add(self.interval);
            match spent.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(current) => seen = current,
            }
        }
    }

    /// How many keys it holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().map_or(0, |table| table.len()))
            .sum()
    }
}

/// The quotas of a server's tools.
#[derive(Default)]
pub(super) struct ToolQuotas {
    /// Per tool (by index): its in-process buckets, `None` for a tool without a quota.
    pub(super) local: Box<[Option<Limiter>]>,
    /// The store replicas share, when the options or the HTTP transport give one.
    pub(super) shared: OnceLock<Arc<dyn RateLimitStore>>,
    /// Whether the shared store is failing (logged as it begins and ends).
    pub(super) failing: AtomicBool,
}

impl ToolQuotas {
    pub(super) fn new<'a>(
        tools: impl Iterator<Item = &'a ToolMeta>,
        shared: Option<Arc<dyn RateLimitStore>>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(store) = shared {
            let _ = cell.set(store);
        }
        Self {
            local: tools
                .map(|t| t.quota.map(|q| Limiter::new(rate(q))))
                .collect(),
            shared: cell,
            failing: AtomicBool::new(false),
        }
    }
}

/// A tool's quota as a token bucket: bursts of its calls, refilled evenly over its period.
pub(super) fn rate(quota: ToolQuota) -> Quota {
    Quota::new(
        quota.calls,
        f64::from(quota.calls) / f64::from(quota.per_seconds.max(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_the_burst_then_refill() {
        let limiter = Limiter::new(Quota::new(2, 1000.0));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_millis(2), "{wait:?}");
        assert!(limiter.check("b").is_ok(), "keys are independent");
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check("a").is_ok(), "refilled");
        let slow = Limiter::new(Quota::new(1, 0.5));
        assert!(slow.check("x").is_ok());
        let wait = slow.check("x").unwrap_err();
        assert!(
            wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
    }

    #[test]
    fn a_quota_without_a_rate_refuses_without_panicking() {
        for rate in [0.0, -1.0, f64::NAN, f64::MIN_POSITIVE] {
            let limiter = Limiter::new(Quota::new(1, rate));
            assert!(limiter.check("a").is_ok(), "the burst, at {rate}");
            let wait = limiter.check("a").unwrap_err();
            assert!(wait >= Duration::from_secs(999_999), "{rate}: {wait:?}");
        }
        let endless = Limiter::new(Quota::new(1, f64::INFINITY));
        for _ in 0..3 {
            assert!(
                endless.check("a").is_ok(),
                "an unbounded rate refuses nothing"
            );
        }
    }

    #[test]
    fn one_key_taken_from_on_many_threads_allows_exactly_its_burst() {
        // No refill to speak of: whatever the threads' interleaving, the burst is shared out
        // exactly, none lost and none granted twice.
        let limiter = Limiter::new(Quota::new(1000, 1e-6));
        let allowed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..500 {
                        if limiter.check("shared").is_ok() {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 1000);
        assert!(limiter.check("shared").is_err());
        assert!(limiter.check("another").is_ok(), "keys are independent");
    }

    #[test]
    fn idle_keys_make_room_for_new_ones() {
        // More keys than the table holds, each idle (its allowance full) a nanosecond after
        // its request: every one is allowed, and the table stays within its bound.
        let limiter = Limiter::new(Quota::new(1, 1e9));
        for i in 0..MAX_KEYS + 1000 {
            assert!(limiter.check(&i.to_string()).is_ok(), "key {i}");
        }
        assert!(limiter.len() <= MAX_KEYS, "{} keys", limiter.len());
        assert!(limiter.len() > 0);
    }

    #[test]
    fn the_table_of_buckets_is_bounded_even_when_every_key_is_busy() {
        let limiter = Limiter::new(Quota::new(1, 1e-6));
        for i in 0..MAX_KEYS + 1000 {
            let _ = limiter.check(&i.to_string());
        }
        let held = limiter.len();
        assert!(held <= MAX_KEYS, "{held} keys");
    }
}
