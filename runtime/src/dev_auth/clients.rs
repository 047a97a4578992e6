//! The registered clients, bounded so that no caller can crowd out the others: registrations
//! are rate limited per owner, each owner holds a quota of clients (in count and in bytes),
//! and a full store refuses new clients instead of evicting anyone's. Only idle clients are
//! forgotten: one that never completed an authorization after 10 minutes, any other after a
//! day.
//!
//! An owner is the peer's address *and* the request's `Origin` (or its absence). The server
//! is loopback-only, so every caller's address is 127.0.0.1: by address alone, one web page
//! that registers its quota would lock the developer's own tools out. Browsers set `Origin`
//! themselves (Fetch standard, "forbidden request header"), so a page cannot spend another
//! origin's quota, nor the quota of tools that send no `Origin`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Most clients held at once.
pub(super) const MAX_CLIENTS: usize = 10_000;
/// Most rate-limit buckets held at once (one per address seen recently).
const MAX_BUCKETS: usize = 10_000;
/// A client that completed an authorization, unused (authorized or at the token endpoint)
/// for this long, is forgotten.
pub(super) const CLIENT_IDLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// A client that never completed an authorization is forgotten after this long unused, so a
/// page that registered a quota of clients and left does not hold it for a day.
pub(super) const UNAUTHORIZED_IDLE_TTL: Duration = Duration::from_secs(10 * 60);
/// Bytes of client metadata one owner may hold registered (ids, secret, redirect URIs, name).
pub(super) const MAX_BYTES_PER_OWNER: usize = 256 * 1024;
/// Longest `Origin` kept as an owner key; a longer one (no browser sends it) shares one key.
const MAX_ORIGIN_LEN: usize = 512;

/// Who registered a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Owner {
    /// The peer's address (an IPv6 address by its /64, which one host usually holds whole),
    /// or `None` when the connection did not say.
    addr: Option<IpAddr>,
    /// The `Origin` header's value, `none` without one.
    origin: String,
}

/// The owner key of a peer address and the request's `Origin` header.
pub(super) fn owner_of(peer: Option<SocketAddr>, origin: Option<&[u8]>) -> Owner {
    let addr = peer.map(|peer| match peer.ip().to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    });
    let origin = match origin {
        None => "none".to_owned(),
        Some(o) if o.len() > MAX_ORIGIN_LEN => "oversized".to_owned(),
        // `none` spelled by a caller is a key of its own, apart from no header at all.
        Some(o) => format!("origin:{}", String::from_utf8_lossy(o)),
    };
    Owner { addr, origin }
}

#[derive(Clone)]
pub(super) struct Client {
    pub(super) secret: Option<String>,
    pub(super) redirect_uris: Vec<String>,
    /// Whether it registered the `refresh_token` grant: only then does it get refresh tokens
    /// (a client that cannot refresh re-authorizes, which is how it steps up its scopes).
    pub(super) refresh: bool,
    /// `client_name` (RFC 7591 §2), shown on the consent page.
    pub(super) name: Option<String>,
    pub(super) owner: Owner,
    pub(super) last_used: Instant,
    /// Whether an authorization code was ever issued to it.
    pub(super) authorized: bool,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request must carry a proof.
    pub(super) dpop_bound: bool,
}

impl Client {
    /// Roughly the bytes it holds, counted against its owner's [`MAX_BYTES_PER_OWNER`].
    fn size(&self, id: &str) -> usize {
        64 + id.len()
            + self.secret.as_ref().map_or(0, String::len)
            + self.name.as_ref().map_or(0, String::len)
            + self
                .redirect_uris
                .iter()
                .map(|u| u.len() + 24)
                .sum::<usize>()
    }

    fn idle(&self, now: Instant) -> bool {
        let ttl = if self.authorized {
            CLIENT_IDLE_TTL
        } else {
            UNAUTHORIZED_IDLE_TTL
        };
        now.duration_since(self.last_used) >= ttl
    }
}

/// What one owner holds.
#[derive(Default)]
struct Held {
    clients: usize,
    bytes: usize,
}

/// Why a client was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    /// This owner holds its quota of clients, in count or in bytes.
    Owner,
    /// The store holds [`MAX_CLIENTS`].
    Store,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Default)]
pub(super) struct Clients {
    by_id: HashMap<String, Client>,
    per_owner: HashMap<Owner, Held>,
    buckets: HashMap<Owner, Bucket>,
}

impl Clients {
    /// The client `id`, marked as used now; `None` if unknown or idle (see [`Client::idle`]).
    pub(super) fn get(&mut self, id: &str, now: Instant) -> Option<&Client> {
        let idle = self.by_id.get(id).is_some_and(|c| c.idle(now));
        if idle {
            self.remove(id);
            return None;
        }
        let client = self.by_id.get_mut(id)?;
        client.last_used = now;
        Some(client)
    }

    /// Takes one registration from `owner`'s allowance of `per_minute` (a token bucket holding
    /// as many); when none is left, how long until one is.
    pub(super) fn admit(
        &mut self,
        owner: Owner,
        per_minute: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        let burst = f64::from(per_minute.max(1));
        let rate = burst / 60.0;
        let refill = |b: &Bucket| b.tokens + now.duration_since(b.last).as_secs_f64() * rate;
        if !self.buckets.contains_key(&owner) && self.buckets.len() >= MAX_BUCKETS {
            // Buckets that have refilled say nothing the default does not.
            self.buckets.retain(|_, b| refill(b) < burst);
            if self.buckets.len() >= MAX_BUCKETS {
                // Too many addresses registering at once: refuse rather than forget a limit.
                return Err(Duration::from_secs(60));
            }
        }
        let bucket = self.buckets.entry(owner).or_insert_with(|| Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens = refill(bucket).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Marks the client `id` as having completed an authorization: it is then kept for
    /// [`CLIENT_IDLE_TTL`] unused, not [`UNAUTHORIZED_IDLE_TTL`].
    pub(super) fn authorized(&mut self, id: &str, now: Instant) {
        if let Some(client) = self.by_id.get_mut(id) {
            client.authorized = true;
            client.last_used = now;
        }
    }

    /// Stores a client, unless its owner would hold more than `per_owner` clients or
    /// [`MAX_BYTES_PER_OWNER`], or the store is full (after forgetting idle clients). Nobody's
    /// client is evicted to make room.
    pub(super) fn insert(
        &mut self,
        id: String,
        client: Client,
        per_owner: usize,
        now: Instant,
    ) -> Result<(), Full> {
        let size = client.size(&id);
        let over = |s: &Self| {
            s.per_owner
                .get(&client.owner)
                .is_some_and(|h| h.clients >= per_owner || h.bytes + size > MAX_BYTES_PER_OWNER)
                || per_owner == 0
                || size > MAX_BYTES_PER_OWNER
        };
        if over(self) || self.by_id.len() >= MAX_CLIENTS {
            self.forget_idle(now);
        }
        if over(self) {
            return Err(Full::Owner);
        }
        if self.by_id.len() >= MAX_CLIENTS {
            return Err(Full::Store);
        }
        let held = self.per_owner.entry(client.owner.clone()).or_default();
        held.clients += 1;
        held.bytes += size;
        self.by_id.insert(id, client);
        Ok(())
    }

    fn forget_idle(&mut self, now: Instant) {
        let idle: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, c)| c.idle(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.remove(&id);
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(client) = self.by_id.remove(id)
            && let Some(held) = self.per_owner.get_mut(&client.owner)
        {
            held.clients -= 1;
            held.bytes = held.bytes.saturating_sub(client.size(id));
            if held.clients == 0 {
                self.per_owner.remove(&client.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owner of a request from `addr` (port 1) with `origin`.
    fn owner(addr: &str, origin: Option<&str>) -> Owner {
        owner_of(
            Some(format!("{addr}:1").parse().unwrap()),
            origin.map(str::as_bytes),
        )
    }

    fn client(owner_addr: &str, now: Instant) -> Client {
        client_of(owner(owner_addr, None), now)
    }

    fn client_of(owner: Owner, now: Instant) -> Client {
        Client {
            secret: None,
            redirect_uris: vec![],
            refresh: false,
            name: None,
            owner,
            last_used: now,
            authorized: false,
            dpop_bound: false,
        }
    }

    #[test]
    fn one_address_cannot_crowd_out_or_evict_another() {
        let mut clients = Clients::default();
        let now = Instant::now();
        clients
            .insert("victim".into(), client("10.0.0.2", now), 3, now)
            .unwrap();
        for i in 0..3 {
            clients
                .insert(format!("a{i}"), client("10.0.0.1", now), 3, now)
                .unwrap();
        }
        assert_eq!(
            clients.insert("a3".into(), client("10.0.0.1", now), 3, now),
            Err(Full::Owner)
        );
        assert!(clients.get("victim", now).is_some(), "never evicted");
        // Another address still registers.
        assert!(
            clients
                .insert("b".into(), client("10.0.0.3", now), 3, now)
                .is_ok()
        );
        // A day idle frees the quota.
        let later = now + CLIENT_IDLE_TTL;
        assert!(
            clients
                .insert("a4".into(), client("10.0.0.1", later), 3, later)
                .is_ok()
        );
        assert!(clients.get("a0", later).is_none());
    }

    #[test]
    fn one_origin_on_loopback_cannot_spend_the_quota_of_another() {
        let mut clients = Clients::default();
        let now = Instant::now();
        let page = owner("127.0.0.1", Some("https://evil.example"));
        for i in 0..3 {
            clients
                .insert(format!("e{i}"), client_of(page.clone(), now), 3, now)
                .unwrap();
        }
        assert_eq!(
            clients.insert("e3".into(), client_of(page.clone(), now), 3, now),
            Err(Full::Owner)
        );
        // The developer's own tools (no Origin) and another origin, on the same address.
        for other in [
            owner("127.0.0.1", None),
            owner("127.0.0.1", Some("http://localhost:6274")),
            owner("127.0.0.1", Some("none")),
        ] {
            assert_ne!(other, page);
            assert!(
                clients
                    .insert(format!("{other:?}"), client_of(other.clone(), now), 3, now)
                    .is_ok(),
                "{other:?}"
            );
        }
        // The rate limit is per owner too.
        for _ in 0..2 {
            clients.admit(page.clone(), 2, now).unwrap();
        }
        assert!(clients.admit(page, 2, now).is_err());
        assert!(clients.admit(owner("127.0.0.1", None), 2, now).is_ok());
    }

    #[test]
    fn clients_that_never_authorized_are_forgotten_after_ten_minutes() {
        let mut clients = Clients::default();
        let now = Instant::now();
        for id in ["idle", "used"] {
            clients
                .insert(id.into(), client("127.0.0.1", now), 2, now)
                .unwrap();
        }
        clients.authorized("used", now);
        let later = now + UNAUTHORIZED_IDLE_TTL;
        // The quota of 2 is free again: the client that never authorized is gone.
        assert!(
            clients
                .insert("new".into(), client("127.0.0.1", later), 2, later)
                .is_ok()
        );
        assert!(clients.get("idle", later).is_none());
        assert!(clients.get("used", later).is_some(), "authorized: kept");
        // One minute short of ten, a client is still there.
        let fresh = later + UNAUTHORIZED_IDLE_TTL - Duration::from_secs(60);
        assert!(clients.get("new", fresh).is_some());
    }

    #[test]
    fn an_owner_holds_a_bounded_number_of_bytes() {
        let mut clients = Clients::default();
        let now = Instant::now();
        let big = |owner_addr: &str| Client {
            redirect_uris: vec![format!("https://a.example/{}", "x".repeat(2000)); 10],
            ..client(owner_addr, now)
        };
        let mut stored = 0;
        while clients
            .insert(format!("c{stored}"), big("127.0.0.1"), 1000, now)
            .is_ok()
        {
            stored += 1;
        }
        // 10 URIs of ~2 KB: about 20 KB each, so about 12 fit in 256 KiB, far short of 1000.
        assert!((10..=13).contains(&stored), "{stored} clients stored");
        assert_eq!(
            clients.insert("over".into(), big("127.0.0.1"), 1000, now),
            Err(Full::Owner)
        );
        let held = &clients.per_owner[&owner("127.0.0.1", None)];
        assert!(held.bytes <= MAX_BYTES_PER_OWNER, "{}", held.bytes);
        // Another owner is not affected; removing a client gives its bytes back.
        assert!(
            clients
                .insert("b".into(), big("10.0.0.9"), 1000, now)
                .is_ok()
        );
        clients.remove("c0");
        assert!(
            clients
                .insert("again".into(), big("127.0.0.1"), 1000, now)
                .is_ok()
        );
    }

    #[test]
    fn registrations_are_rate_limited_per_address() {
        let mut clients = Clients::default();
        let now = Instant::now();
        let a = owner("10.0.0.1", None);
        for _ in 0..5 {
            clients.admit(a.clone(), 5, now).unwrap();
        }
        let wait = clients.admit(a.clone(), 5, now).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 12.0).abs() < 0.01,
            "5 a minute: one every 12 s, not {wait:?}"
        );
        assert!(clients.admit(owner("10.0.0.2", None), 5, now).is_ok());
        assert!(
            clients
                .admit(a.clone(), 5, now + Duration::from_secs(11))
                .is_err()
        );
        assert!(
            clients
                .admit(a, 5, now + Duration::from_millis(12_100))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_their_64_bit_prefix() {
        let a = owner("[2001:db8:1:2::1]", None);
        let b = owner("[2001:db8:1:2:ffff::9]", None);
        let c = owner("[2001:db8:1:3::1]", None);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(owner("[::ffff:10.0.0.1]", None), owner("10.0.0.1", None));
    }
}
