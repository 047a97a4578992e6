//! Token-bucket rate limits: a [`Quota`], the [`RateLimitStore`] replicas share allowances
//! through, and the in-process [`Limiter`]. The HTTP transport limits requests per address and
//! per principal with them, and the dispatcher a tool's calls under its `quota` ([`ToolQuotas`],
//! counted in `tool_quota.rs`).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Refills the bucket for the time since it was last used, at `rate` up to `burst`, and
    /// takes one request from it; when none is left, how long until one is.
    fn take(&mut self, now: Instant, burst: f64, rate: f64) -> Result<(), Duration> {
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::try_from_secs_f64((1.0 - self.tokens) / rate).unwrap_or(Duration::MAX))
        }
    }
}

/// Buckets keyed by client address or principal. Bounded: when it holds too many keys, the
/// full (idle) buckets are dropped.
pub(crate) struct Limiter {
    quota: Quota,
    buckets: Mutex<HashMap<String, Bucket, ahash::RandomState>>,
}

const MAX_KEYS: usize = 100_000;

/// The slowest refill a quota gets: one request per 10⁶ seconds.
const MIN_RATE: f64 = 1e-6;

impl Limiter {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota,
            buckets: Mutex::default(),
        }
    }

    /// The quota it limits by.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn quota(&self) -> Quota {
        self.quota
    }

    /// Takes one token for `key`; when none is left, how long until one is.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(self.quota.burst.max(1));
        // A rate of zero, negative or not a number refills one request in about twelve days
        // (as the Redis store's does): no division by it can overflow a `Duration`.
        let rate = self.quota.per_second.max(MIN_RATE);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
            // Every key still busy: a tenth of them go (their clients start again from a full
            // bucket), so the table stays bounded and the scan happens once per many new keys.
            if buckets.len() >= MAX_KEYS {
                let gone: Vec<String> = buckets.keys().take(MAX_KEYS / 10).cloned().collect();
                for key in gone {
                    buckets.remove(&key);
                }
            }
        }
        // A client's key is copied into the table on its first request only.
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.take(now, burst, rate);
        }
        buckets
            .entry(key.to_owned())
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            })
            .take(now, burst, rate)
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
    fn the_table_of_buckets_is_bounded_even_when_every_key_is_busy() {
        let limiter = Limiter::new(Quota::new(1, 1e-6));
        for i in 0..MAX_KEYS + 1000 {
            let _ = limiter.check(&i.to_string());
        }
        let held = limiter.buckets.lock().unwrap().len();
        assert!(held <= MAX_KEYS, "{held} buckets");
    }
}
