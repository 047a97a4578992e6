//! Token-bucket rate limits, per client address and per principal, so neither a flood nor a
//! misconfigured client hammering discovery takes the server down. Counted in this process, or
//! through a [`RateLimitStore`] shared by replicas.
//! Beside them, the in-flight limit and the bound on open long-lived streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{Limiter, Quota, RateLimitStore};

/// The key a client address is limited by: an IPv4 address (also when mapped into IPv6), or an
/// IPv6 address's /64 prefix, which a single host commonly holds whole (keyed by the full
/// address, each client would have 2⁶⁴ allowances).
pub(crate) fn address_key(ip: std::net::IpAddr) -> String {
    AddressKey::of(ip).to_string()
}

/// [`address_key`]'s text, written in place: every request of a server limiting per address
/// makes one, and the limiter copies it only for an address it has not seen.
pub(crate) struct AddressKey {
    text: [u8; Self::ROOM],
    len: usize,
}

impl AddressKey {
    /// The longest key: `ffff:ffff:ffff:ffff::/64`.
    const ROOM: usize = 24;

    pub(crate) fn of(ip: std::net::IpAddr) -> Self {
        use std::fmt::Write as _;
        let mut key = Self {
            text: [0; Self::ROOM],
            len: 0,
        };
        let v4 = match ip {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4,
                None => {
                    let s = v6.segments();
                    // Within ROOM: four groups of at most four digits and their separators.
                    let _ = write!(key, "{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]);
                    return key;
                }
            },
        };
        // Dotted decimal, as `Display` writes it, without the formatting machinery.
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                key.push(b'.');
            }
            if octet >= 100 {
                key.push(b'0' + octet / 100);
            }
            if octet >= 10 {
                key.push(b'0' + octet / 10 % 10);
            }
            key.push(b'0' + octet % 10);
        }
        key
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.text.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for AddressKey {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let slot = self.text.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl std::ops::Deref for AddressKey {
    type Target = str;
    fn deref(&self) -> &str {
        // Only ASCII digits, dots, hex digits, colons and a slash are written.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// One rate limit (per address, or per principal): through the shared store when there is one,
/// and in this process when there is none or it does not answer (so an outage of the store
/// neither stops the service nor lifts the limit: each replica then limits on its own).
pub(crate) struct RateLimit {
    local: Limiter,
    shared: Option<(Arc<dyn RateLimitStore>, &'static str)>,
    /// The shared store's outage, logged as it begins and ends rather than per request.
    outage: super::outage::Outage,
}

impl RateLimit {
    /// A limit under `quota`; `namespace` keeps its keys apart from the other limit's in a
    /// shared store.
    pub(crate) fn new(
        quota: Quota,
        shared: Option<Arc<dyn RateLimitStore>>,
        namespace: &'static str,
    ) -> Self {
        Self {
            local: Limiter::new(quota),
            shared: shared.map(|store| (store, namespace)),
            outage: super::outage::Outage::new("rate-limit store"),
        }
    }

    /// Whether its allowances are kept in a shared store (then checking one is a round trip).
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// [`Self::check`] answered at once, when there is no shared store to ask: `None` when
    /// there is one.
    pub(crate) fn check_now(&self, key: &str) -> Option<Result<(), Duration>> {
        self.shared.is_none().then(|| self.local.check(key))
    }

    /// Takes one request from `key`'s allowance; when none is left, how long until one is.
    pub(crate) async fn check(&self, key: &str) -> Result<(), Duration> {
        if let Some((store, namespace)) = &self.shared {
            match store
                .take(&format!("{namespace}:{key}"), self.local.quota())
                .await
            {
                Ok(answer) => {
                    self.outage.answered("rate_store_error");
                    return answer.map_or(Ok(()), Err);
                }
                // Limiting in this process meanwhile; logged per request at DEBUG only.
                Err(error) => self.outage.failed("rate_store_error", &error),
            }
        }
        self.local.check(key)
    }
}

/// A cap on the requests being served at once. Nothing waits for a slot (a request over the
/// cap is refused at once), so a counter is all it takes: taking a slot is one compare-and-swap
/// (uncontended), returning it one atomic subtraction, where a semaphore locks its waiter list
/// on every return.
pub(crate) struct InFlightLimit {
    max: usize,
    taken: AtomicUsize,
}

impl InFlightLimit {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            taken: AtomicUsize::new(0),
        }
    }

    /// A slot, held until the permit is dropped; `None` when all are taken.
    pub(crate) fn try_acquire(&self) -> Option<InFlightPermit<'_>> {
        // Incremented only below the cap: a refused request never counts, even for an instant
        // (a count that overshot could refuse a request while a slot is free).
        self.taken
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |taken| {
                (taken < self.max).then_some(taken + 1)
            })
            .ok()
            .map(|_| InFlightPermit(&self.taken))
    }

    /// Counts one request more, over the cap or not, until [`InFlightLimit::release`]: for a
    /// handler that goes on running on an event stream after its HTTP exchange, whose permit
    /// ends with the exchange.
    pub(crate) fn hold(&self) {
        self.taken.fetch_add(1, Ordering::Acquire);
    }

    /// Gives back what [`InFlightLimit::hold`] took.
    pub(crate) fn release(&self) {
        self.taken.fetch_sub(1, Ordering::Release);
    }
}

/// One slot of an [`InFlightLimit`].
pub(crate) struct InFlightPermit<'a>(&'a AtomicUsize);

impl Drop for InFlightPermit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Open long-lived streams (2026-07-28 `subscriptions/listen`), bounded per principal and in
/// all: each keeps a connection and the server's memory for as long as its client holds it open.
pub(crate) struct StreamLimit {
    max_total: usize,
    max_per_key: usize,
    /// The open streams in all, and per key (a key leaves when its last stream ends).
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamRefusal {
    /// The caller has its most streams open (429).
    PerKey,
    /// The server has its most streams open (503).
    Total,
}

impl StreamLimit {
    pub(crate) fn new(max_total: usize, max_per_key: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_key: max_per_key.max(1),
            open: Mutex::default(),
        })
    }

    /// A stream for `key`, counted until the permit is dropped.
    pub(crate) fn try_open(self: &Arc<Self>, key: String) -> Result<StreamPermit, StreamRefusal> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_key) = &mut *open;
        let mine = per_key.get(&key).copied().unwrap_or(0);
        if mine >= self.max_per_key {
            return Err(StreamRefusal::PerKey);
        }
        if *total >= self.max_total {
            return Err(StreamRefusal::Total);
        }
        *total += 1;
        per_key.insert(key.clone(), mine + 1);
        Ok(StreamPermit {
            limit: Arc::clone(self),
            key,
        })
    }
}

/// One open stream of a [`StreamLimit`].
pub(crate) struct StreamPermit {
    limit: Arc<StreamLimit>,
    key: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_key) = &mut *open;
        *total -= 1;
        if let Some(count) = per_key.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "9.10.99.100",
            "255.255.255.255",
            "10.0.200.7",
        ] {
            let ip: std::net::IpAddr = text.parse().unwrap();
            assert_eq!(address_key(ip), text);
        }
        let mapped: std::net::IpAddr = "::ffff:192.168.1.20".parse().unwrap();
        assert_eq!(address_key(mapped), "192.168.1.20");
        let v6: std::net::IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(address_key(v6), "2001:db8:1:2::/64");
        // The longest key fills the room written in place, whole.
        let widest: std::net::IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:1".parse().unwrap();
        assert_eq!(address_key(widest), "ffff:ffff:ffff:ffff::/64");
        assert_eq!(&*AddressKey::of(widest), "ffff:ffff:ffff:ffff::/64");
    }

    #[test]
    fn addresses_are_limited_by_host_and_ipv6_by_its_64() {
        let key = |ip: &str| address_key(ip.parse().unwrap());
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn the_in_flight_limit_admits_up_to_its_cap_and_frees_slots_on_drop() {
        let limit = InFlightLimit::new(2);
        let first = limit.try_acquire().expect("a free slot");
        let second = limit.try_acquire().expect("a free slot");
        assert!(limit.try_acquire().is_none(), "over the cap");
        assert!(limit.try_acquire().is_none(), "a refusal takes no slot");
        assert_eq!(
            limit.taken.load(Ordering::Relaxed),
            2,
            "refusals never count"
        );
        drop(first);
        let third = limit.try_acquire().expect("the returned slot");
        assert!(limit.try_acquire().is_none());
        drop((second, third));
        assert_eq!(limit.taken.load(Ordering::Relaxed), 0);
        assert_eq!(
            InFlightLimit::new(0).max,
            1,
            "a cap of zero would refuse everything"
        );
    }

    #[test]
    fn the_in_flight_limit_never_admits_more_than_its_cap_across_threads() {
        let limit = Arc::new(InFlightLimit::new(3));
        let peak = Arc::new(AtomicUsize::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limit, peak, inside) = (limit.clone(), peak.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if let Some(_permit) = limit.try_acquire() {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::hint::spin_loop();
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3, "{peak:?}");
        assert!(peak.load(Ordering::SeqCst) >= 1);
        assert_eq!(limit.taken.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn streams_are_bounded_per_key_and_in_all_until_they_end() {
        let limit = StreamLimit::new(3, 2);
        let a1 = limit.try_open("a".into()).unwrap();
        let _a2 = limit.try_open("a".into()).unwrap();
        assert_eq!(
            limit.try_open("a".into()).err(),
            Some(StreamRefusal::PerKey)
        );
        let _b1 = limit.try_open("b".into()).unwrap();
        assert_eq!(limit.try_open("c".into()).err(), Some(StreamRefusal::Total));
        drop(a1);
        let _a3 = limit.try_open("a".into()).unwrap();
        assert_eq!(
            limit.open.lock().unwrap().1.len(),
            2,
            "two keys hold streams"
        );
    }
}
