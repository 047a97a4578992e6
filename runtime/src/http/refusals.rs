//! Refused requests, summarised: what the logs hold at INFO while a client floods the server.
//!
//! Every refusal (rate limited, a missing or rejected token, a refused `Host` or `Origin`, a body
//! too slow, malformed, too large or of another type, overloaded, a session refused) still has its own event, one per request, at DEBUG.
//! At INFO they are counted per kind and per window (10 s), and each window ends with at most
//! [`MAX_LINES`] `refusals_summary` events in all, whatever the number of kinds and addresses:
//!
//! ```text
//! INFO scopegate::auth: 2970 requests refused for invalid_token in the last 10 s, from 1 addresses,
//!      most from 192.0.2.7 (2970) event="refusals_summary" kind="invalid_token" count=2970
//!      window_secs=10 top_address=192.0.2.7 top_count=2970 addresses=1
//! INFO scopegate::http: 1200 requests refused for host_rejected origin_rejected in the last 10 s
//!      event="refusals_summary" kind="other" kinds="host_rejected origin_rejected" count=1200
//!      window_secs=10
//! ```
//!
//! An attacker therefore cannot fill a disk or a log bill through refusals: a flood from one
//! address and one spread over many IPv6 /64s write the same few lines, and the memory held is
//! fixed (a table of [`SLOTS`] heavy hitters and a HyperLogLog sketch per kind).
//!
//! The hot path is a few relaxed atomic operations: no lock, no allocation. A background task,
//! started by the first refusal on the runtime that serves it, closes each window; it holds the
//! tally weakly, so it ends with the router, and the router's last clone, when dropped, writes
//! the window still open, so a final partial window is not lost when traffic stops.
//!
//! Events that matter stay one per occurrence at their own level: a denial for scope
//! (`scope_denied`), an issuer outage (`jwks_fetch_failed`), a store outage.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a window lasts: each kind gets at most one summary line per window.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// Summary lines per window, all kinds together: the busiest `MAX_LINES - 1` kinds get a line
/// each (`overloaded` first, whatever its count), and when more kinds were refused the rest
/// share one line of kind `other`.
pub(crate) const MAX_LINES: usize = 4;

/// Heavy-hitter slots per kind (Misra–Gries, direct-mapped).
const SLOTS: usize = 32;

/// HyperLogLog registers per kind: 2^10, a standard error of 1.04/√1024 ≈ 3 %.
const REGISTER_BITS: u32 = 10;
const REGISTERS: usize = 1 << REGISTER_BITS;

/// An address is tallied as one `u64`: an IPv4 address under this tag, an IPv6 address as its
/// /64 prefix (as the rate limiter groups them). The tag's prefix, `ff00::/8`, is multicast,
/// which is never a source address, so no IPv6 /64 collides with it.
const V4_TAG: u64 = 0xff00_0000_0000_0000;
const V4_MASK: u64 = 0xffff_ffff_0000_0000;
/// An empty slot: `ffff:ffff:ffff:ffff::/64`, multicast again, never a client.
const EMPTY: u64 = u64::MAX;

/// What a request was refused for. The name is the summary's `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Over the per-address or per-principal rate limit (429).
    RateLimited,
    /// No credentials (401).
    TokenMissing,
    /// A token the verifier refused (401 `invalid_token`).
    InvalidToken,
    /// Malformed credentials: another scheme, two headers, a token in the query (400).
    InvalidRequest,
    /// A `Host` this server does not answer to (403, DNS-rebinding protection).
    HostRejected,
    /// An `Origin` not allowed (403).
    OriginRejected,
    /// A body that did not arrive in time (408).
    BodyTimeout,
    /// Too many requests in flight (503): summarised at WARN, as the operator must act.
    Overloaded,
    /// A session unknown, ended, or someone else's (404), or asked for by a token without a
    /// subject (403).
    SessionRejected,
    /// A body refused before it was understood: malformed JSON-RPC (400), too large (413), not
    /// `application/json` (415).
    BadRequest,
}

const KINDS: usize = 10;

impl Kind {
    const ALL: [Kind; KINDS] = [
        Kind::RateLimited,
        Kind::TokenMissing,
        Kind::InvalidToken,
        Kind::InvalidRequest,
        Kind::HostRejected,
        Kind::OriginRejected,
        Kind::BodyTimeout,
        Kind::Overloaded,
        Kind::SessionRejected,
        Kind::BadRequest,
    ];

    /// The summary's `kind` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::RateLimited => "rate_limited",
            Kind::TokenMissing => "token_missing",
            Kind::InvalidToken => "invalid_token",
            Kind::InvalidRequest => "invalid_request",
            Kind::HostRejected => "host_rejected",
            Kind::OriginRejected => "origin_rejected",
            Kind::BodyTimeout => "body_timeout",
            Kind::Overloaded => "overloaded",
            Kind::SessionRejected => "session_rejected",
            Kind::BadRequest => "bad_request",
        }
    }

    /// Refusals about credentials are summarised on `scopegate::auth`, where their per-request
    /// events are; the others on `scopegate::http`.
    fn is_auth(self) -> bool {
        matches!(
            self,
            Kind::TokenMissing | Kind::InvalidToken | Kind::InvalidRequest | Kind::SessionRejected
        )
    }
}

/// The refusals of one router, counted per kind for the window under way.
pub(crate) struct Refusals {
    tallies: [Tally; KINDS],
    window: Duration,
    /// When the window under way began. Locked only to close a window (once per window), so
    /// two closings never interleave.
    started: Mutex<Instant>,
    /// Whether the task closing windows was started.
    ticking: AtomicBool,
}

impl Refusals {
    /// A tally whose windows last `window`.
    pub(crate) fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            tallies: [const { Tally::new() }; KINDS],
            window,
            started: Mutex::new(Instant::now()),
            ticking: AtomicBool::new(false),
        })
    }

    /// Counts one refusal of `kind` from `address` (the client's, as the per-address rate limit
    /// sees it: behind trusted proxies, the forwarded one). Relaxed atomics only: a summary is a
    /// count, and a refusal racing a window's end may land in either window.
    pub(crate) fn record(self: &Arc<Self>, kind: Kind, address: Option<IpAddr>) {
        let tally = &self.tallies[kind as usize];
        tally.count.fetch_add(1, Relaxed);
        if let Some(address) = address {
            tally.note(key(address));
        }
        if !self.ticking.load(Relaxed) {
            self.start_ticking();
        }
    }

    /// Starts the task that closes each window, on the runtime serving this refusal. It holds
    /// the tally weakly: when the router is dropped, the task ends at its next tick.
    #[cold]
    fn start_ticking(self: &Arc<Self>) {
        if self.ticking.swap(true, Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a router called by hand): the next refusal tries again, and the
            // window is written when the router is dropped.
            self.ticking.store(false, Relaxed);
            return;
        };
        *lock(&self.started) = Instant::now();
        let weak: Weak<Self> = Arc::downgrade(self);
        let window = self.window;
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + window, window);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(refusals) => refusals.flush(),
                    None => break,
                }
            }
        });
    }

    /// Closes the window under way: at most [`MAX_LINES`] summary events, then a new window.
    pub(crate) fn flush(&self) {
        for line in self.close_window() {
            line.emit();
        }
    }

    /// The window under way, summarised in at most [`MAX_LINES`] lines; a new window begins.
    fn close_window(&self) -> Vec<Line> {
        let mut started = lock(&self.started);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(*started);
        *started = now;
        // Whole seconds, rounded up: a partial window of 300 ms is "the last 1 s".
        let secs = elapsed
            .as_secs()
            .saturating_add(u64::from(elapsed.subsec_nanos() > 0))
            .max(1);
        let mut counts: Vec<(Kind, u64)> = Kind::ALL
            .iter()
            .map(|&kind| (kind, self.tallies[kind as usize].count.swap(0, Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        // The busiest first; `overloaded` always keeps its own line, summarised at WARN.
        counts.sort_by_key(|&(kind, count)| (kind != Kind::Overloaded, std::cmp::Reverse(count)));
        let own = if counts.len() > MAX_LINES {
            MAX_LINES - 1
        } else {
            counts.len()
        };
        let mut lines: Vec<Line> = counts[..own]
            .iter()
            .map(|&(kind, count)| Line::Kind {
                kind,
                count,
                secs,
                summary: self.tallies[kind as usize].take(),
            })
            .collect();
        let rest = &counts[own..];
        if !rest.is_empty() {
            for &(kind, _) in rest {
                self.tallies[kind as usize].take();
            }
            lines.push(Line::Other {
                kinds: rest.iter().map(|&(kind, _)| kind).collect(),
                count: rest.iter().map(|(_, count)| count).sum(),
                secs,
            });
        }
        lines
    }
}

impl Drop for Refusals {
    /// The router's last clone is gone: the window under way is written, not lost.
    fn drop(&mut self) {
        self.flush();
    }
}

/// A poisoned lock only guards an `Instant`, which stays valid: go on with it.
fn lock(started: &Mutex<Instant>) -> std::sync::MutexGuard<'_, Instant> {
    started
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One kind's window: its count, its heaviest addresses, and how many addresses it saw.
struct Tally {
    count: AtomicU64,
    /// Direct-mapped Misra–Gries counters (Misra and Gries 1982, "Finding repeated elements"):
    /// an address in its slot adds one; another address takes one away and, at zero, takes the
    /// slot. An address sending more than its slot's share of the window keeps it.
    keys: [AtomicU64; SLOTS],
    hits: [AtomicU64; SLOTS],
    /// HyperLogLog registers (Flajolet et al. 2007), with linear counting for small counts, so
    /// one address reads 1 and a thousand read about a thousand, in 1 KiB.
    registers: [AtomicU8; REGISTERS],
}

/// What a window of one kind comes to.
#[derive(Debug)]
struct Summary {
    /// The heaviest address and the refusals counted for it.
    top: Option<(IpAddr, u64)>,
    /// About how many distinct addresses (IPv6: /64 prefixes) were refused.
    addresses: u64,
}

impl Tally {
    const fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            keys: [const { AtomicU64::new(EMPTY) }; SLOTS],
            hits: [const { AtomicU64::new(0) }; SLOTS],
            registers: [const { AtomicU8::new(0) }; REGISTERS],
        }
    }

    fn note(&self, key: u64) {
        let hash = mix(key);
        // HyperLogLog: the top bits pick a register, the rank of the first one bit in the rest
        // is kept if it is the highest seen (a sentinel bit bounds the rank).
        let register = &self.registers[(hash >> (64 - REGISTER_BITS)) as usize];
        let rest = (hash << REGISTER_BITS) | (1 << (REGISTER_BITS - 1));
        // At most 64 - REGISTER_BITS + 1: fits in a byte.
        let rank = rest.leading_zeros() as u8 + 1;
        if register.load(Relaxed) < rank {
            register.fetch_max(rank, Relaxed);
        }
        let slot = (hash as usize) % SLOTS;
        let (keys, hits) = (&self.keys[slot], &self.hits[slot]);
        let holder = match keys.compare_exchange(EMPTY, key, Relaxed, Relaxed) {
            Ok(_) => key,
            Err(holder) => holder,
        };
        if holder == key {
            hits.fetch_add(1, Relaxed);
            return;
        }
        let before = hits.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        if matches!(before, Ok(1) | Err(0))
            && keys.compare_exchange(holder, key, Relaxed, Relaxed).is_ok()
        {
            hits.fetch_add(1, Relaxed);
        }
    }

    /// The window's summary; the tally starts over.
    fn take(&self) -> Summary {
        let mut top: Option<(u64, u64)> = None;
        for (keys, hits) in self.keys.iter().zip(&self.hits) {
            let key = keys.swap(EMPTY, Relaxed);
            let hits = hits.swap(0, Relaxed);
            if key != EMPTY && hits > top.map_or(0, |(_, most)| most) {
                top = Some((key, hits));
            }
        }
        let m = REGISTERS as f64;
        let (mut sum, mut zeros) = (0.0f64, 0u32);
        for register in &self.registers {
            let rank = register.swap(0, Relaxed);
            sum += (-f64::from(rank)).exp2();
            zeros += u32::from(rank == 0);
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        Summary {
            top: top.map(|(key, hits)| (address(key), hits)),
            // A finite, non-negative estimate: the cast is exact up to 2^53.
            addresses: estimate.round() as u64,
        }
    }
}

/// One summary line of a window.
#[derive(Debug)]
enum Line {
    /// The refusals of one kind.
    Kind {
        kind: Kind,
        count: u64,
        secs: u64,
        summary: Summary,
    },
    /// The refusals of the kinds past the cap, together.
    Other {
        kinds: Vec<Kind>,
        count: u64,
        secs: u64,
    },
}

impl Line {
    /// The line as an event, at INFO (WARN for `overloaded`), on the kind's target.
    fn emit(&self) {
        let (kind, count, secs, summary) = match *self {
            Line::Kind {
                kind,
                count,
                secs,
                ref summary,
            } => (kind, count, secs, summary),
            Line::Other {
                ref kinds,
                count,
                secs,
            } => {
                let kinds: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
                let kinds = kinds.join(" ");
                tracing::info!(target: "scopegate::http", event = "refusals_summary", kind = "other", kinds = %kinds, count, window_secs = secs, "{count} requests refused for {kinds} in the last {secs} s");
                return;
            }
        };
        let name = kind.name();
        let addresses = summary.addresses;
        let (top, top_count) = match summary.top {
            Some((address, hits)) => (super::limit::address_key(address), hits),
            None => ("unknown".to_owned(), 0),
        };
        macro_rules! line {
            ($level:ident, $target:literal) => {
                tracing::$level!(target: $target, event = "refusals_summary", kind = name, count, window_secs = secs, top_address = %top, top_count, addresses, "{count} requests refused for {name} in the last {secs} s, from {addresses} addresses, most from {top} ({top_count})")
            };
        }
        match (kind == Kind::Overloaded, kind.is_auth()) {
            (true, _) => line!(warn, "scopegate::http"),
            (false, true) => line!(info, "scopegate::auth"),
            (false, false) => line!(info, "scopegate::http"),
        }
    }
}

/// An address as one `u64` (see [`V4_TAG`]).
fn key(address: IpAddr) -> u64 {
    let v4 = |v4: Ipv4Addr| V4_TAG | u64::from(u32::from(v4));
    match address {
        IpAddr::V4(address) => v4(address),
        IpAddr::V6(address) => match address.to_ipv4_mapped() {
            Some(address) => v4(address),
            // The /64 prefix: the high half, which the shift leaves in range.
            None => (u128::from(address) >> 64) as u64,
        },
    }
}

/// The address a key stands for (an IPv6 /64 as its prefix).
fn address(key: u64) -> IpAddr {
    if key & V4_MASK == V4_TAG {
        // The low half holds the IPv4 address.
        IpAddr::V4(Ipv4Addr::from(key as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(u128::from(key) << 64))
    }
}

/// splitmix64's finaliser (Steele et al. 2014): spreads neighbouring addresses over the
/// registers and slots.
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn only_line(lines: &[Line]) -> (Kind, u64, &Summary) {
        match lines {
            [
                Line::Kind {
                    kind,
                    count,
                    summary,
                    ..
                },
            ] => (*kind, *count, summary),
            other => panic!("expected one line, got {other:?}"),
        }
    }

    #[test]
    fn a_flood_from_one_address_is_one_line_naming_it() {
        let refusals = Refusals::new(WINDOW);
        for _ in 0..3000 {
            refusals.record(Kind::InvalidToken, v4("192.0.2.7"));
        }
        let lines = refusals.close_window();
        let (kind, count, summary) = only_line(&lines);
        assert_eq!(kind, Kind::InvalidToken);
        assert_eq!(count, 3000);
        assert_eq!(summary.top, Some(("192.0.2.7".parse().unwrap(), 3000)));
        assert_eq!(summary.addresses, 1);
        // The window starts over.
        assert!(refusals.close_window().is_empty());
    }

    #[test]
    fn addresses_of_one_ipv6_64_are_one_address() {
        let refusals = Refusals::new(WINDOW);
        for host in 0..500u16 {
            let address = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, host, 0, 0, 1);
            refusals.record(Kind::RateLimited, Some(IpAddr::V6(address)));
        }
        // An IPv4-mapped IPv6 address is its IPv4 address.
        refusals.record(Kind::RateLimited, v4("::ffff:192.0.2.1"));
        refusals.record(Kind::RateLimited, v4("192.0.2.1"));
        let lines = refusals.close_window();
        let (_, count, summary) = only_line(&lines);
        assert_eq!(count, 502);
        assert_eq!(summary.addresses, 2);
        assert_eq!(
            summary.top,
            Some(("2001:db8:1:2::".parse().unwrap(), 500)),
            "the /64 is the address"
        );
        assert_eq!(
            super::super::limit::address_key(summary.top.unwrap().0),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn a_flood_over_many_64s_is_counted_in_fixed_memory() {
        let refusals = Refusals::new(WINDOW);
        // 20,000 /64s, one refusal each, and one address sending 5,000 among them.
        let heavy = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 7, 0, 0, 0, 1));
        for n in 0..20_000u32 {
            let address = Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 9);
            refusals.record(Kind::TokenMissing, Some(IpAddr::V6(address)));
            if n % 4 == 0 {
                refusals.record(Kind::TokenMissing, Some(heavy));
            }
        }
        let lines = refusals.close_window();
        let (_, count, summary) = only_line(&lines);
        assert_eq!(count, 25_000);
        let (top, top_count) = summary.top.unwrap();
        assert_eq!(top, "2001:db8:ffff:7::".parse::<IpAddr>().unwrap());
        // Misra–Gries undercounts by at most what the others in its slot sent.
        assert!(
            (4_000..=5_000).contains(&top_count),
            "top_count {top_count}"
        );
        // HyperLogLog: within 3 standard errors (3 %).
        let addresses = summary.addresses as f64;
        assert!(
            (20_001.0 * 0.9..=20_001.0 * 1.1).contains(&addresses),
            "addresses {addresses}"
        );
    }

    #[test]
    fn a_thousand_addresses_read_about_a_thousand() {
        let refusals = Refusals::new(WINDOW);
        for n in 0..1000u32 {
            let address = Ipv4Addr::from(0x7f00_0000 | (n + 1));
            for _ in 0..3 {
                refusals.record(Kind::RateLimited, Some(IpAddr::V4(address)));
            }
        }
        let lines = refusals.close_window();
        let (_, count, summary) = only_line(&lines);
        assert_eq!(count, 3000);
        assert!(
            (950..=1050).contains(&summary.addresses),
            "addresses {}",
            summary.addresses
        );
        assert!(summary.top.is_some_and(|(_, hits)| hits >= 3));
    }

    #[test]
    fn every_kind_refused_still_makes_at_most_max_lines() {
        let refusals = Refusals::new(WINDOW);
        for (n, kind) in Kind::ALL.into_iter().enumerate() {
            for _ in 0..=n {
                refusals.record(kind, v4("198.51.100.1"));
            }
        }
        let lines = refusals.close_window();
        assert_eq!(lines.len(), MAX_LINES);
        // `overloaded` and the busiest kinds get their own line, the rest share the last.
        let own: Vec<(Kind, u64)> = lines
            .iter()
            .filter_map(|line| match line {
                Line::Kind { kind, count, .. } => Some((*kind, *count)),
                Line::Other { .. } => None,
            })
            .collect();
        assert_eq!(
            own,
            [
                (Kind::Overloaded, 8),
                (Kind::BadRequest, 10),
                (Kind::SessionRejected, 9)
            ]
        );
        match lines.last() {
            Some(Line::Other { kinds, count, .. }) => {
                assert_eq!(kinds.len(), KINDS - (MAX_LINES - 1));
                assert!(!kinds.contains(&Kind::SessionRejected));
                assert!(kinds.contains(&Kind::BodyTimeout));
                assert_eq!(*count, (1..=7).sum::<u64>());
            }
            other => panic!("expected the `other` line, got {other:?}"),
        }
        // Nothing of the capped kinds is left for the next window.
        assert!(refusals.close_window().is_empty());
    }

    #[test]
    fn a_refusal_without_an_address_is_counted() {
        let refusals = Refusals::new(WINDOW);
        refusals.record(Kind::BodyTimeout, None);
        let lines = refusals.close_window();
        let (_, count, summary) = only_line(&lines);
        assert_eq!(count, 1);
        assert_eq!(summary.top, None);
        assert_eq!(summary.addresses, 0);
    }

    #[test]
    fn without_a_runtime_nothing_ticks_and_nothing_panics() {
        let refusals = Refusals::new(WINDOW);
        refusals.record(Kind::HostRejected, v4("192.0.2.9"));
        assert!(!refusals.ticking.load(Relaxed));
        assert_eq!(refusals.close_window().len(), 1);
    }

    #[tokio::test]
    async fn the_background_tick_closes_each_window() {
        let refusals = Refusals::new(Duration::from_millis(50));
        refusals.record(Kind::OriginRejected, v4("192.0.2.9"));
        assert!(refusals.ticking.load(Relaxed));
        // The tick closes the window although no refusal follows.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(refusals.close_window().is_empty());
        // The task holds the tally weakly: it ends with it.
        let weak = Arc::downgrade(&refusals);
        drop(refusals);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn keys_stand_for_their_address() {
        for text in [
            "192.0.2.7",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::",
            "::",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(address(key(ip)), ip, "{text}");
            assert_ne!(key(ip), EMPTY);
        }
    }
}
