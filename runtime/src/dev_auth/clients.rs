//! The registered clients, bounded so that no caller can crowd out the others: registrations
//! are rate limited per client address, each address holds a quota of clients, and a full
//! store refuses new clients instead of evicting anyone's (only a client idle for a day is
//! forgotten).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Most clients held at once.
pub(super) const MAX_CLIENTS: usize = 10_000;
/// Most rate-limit buckets held at once (one per address seen recently).
const MAX_BUCKETS: usize = 10_000;
/// A client neither authorized nor used at the token endpoint for this long is forgotten.
pub(super) const CLIENT_IDLE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Who registered a client: the peer's address (an IPv6 address by its /64, which one host
/// usually holds whole), or `None` when the connection did not say.
pub(super) type Owner = Option<IpAddr>;

/// The owner key of a peer address.
pub(super) fn owner_of(peer: Option<SocketAddr>) -> Owner {
    peer.map(|peer| match peer.ip().to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    })
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
}

/// Why a client was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    /// This address holds its quota of clients.
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
    per_owner: HashMap<Owner, usize>,
    buckets: HashMap<Owner, Bucket>,
}

impl Clients {
    /// The client `id`, marked as used now; `None` if unknown or idle past [`CLIENT_IDLE_TTL`].
    pub(super) fn get(&mut self, id: &str, now: Instant) -> Option<&Client> {
        let idle = self
            .by_id
            .get(id)
            .is_some_and(|c| now.duration_since(c.last_used) >= CLIENT_IDLE_TTL);
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
        let bucket = self.buckets.entry(owner).or_insert(Bucket {
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

    /// Stores a client, unless its owner holds `per_owner` clients or the store is full (after
    /// forgetting idle clients). Nobody's client is evicted to make room.
    pub(super) fn insert(
        &mut self,
        id: String,
        client: Client,
        per_owner: usize,
        now: Instant,
    ) -> Result<(), Full> {
        let owned = |s: &Self| s.per_owner.get(&client.owner).copied().unwrap_or(0);
        if owned(self) >= per_owner || self.by_id.len() >= MAX_CLIENTS {
            self.forget_idle(now);
        }
        if owned(self) >= per_owner {
            return Err(Full::Owner);
        }
        if self.by_id.len() >= MAX_CLIENTS {
            return Err(Full::Store);
        }
        *self.per_owner.entry(client.owner).or_default() += 1;
        self.by_id.insert(id, client);
        Ok(())
    }

    fn forget_idle(&mut self, now: Instant) {
        let idle: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, c)| now.duration_since(c.last_used) >= CLIENT_IDLE_TTL)
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.remove(&id);
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(client) = self.by_id.remove(id)
            && let Some(count) = self.per_owner.get_mut(&client.owner)
        {
            *count -= 1;
            if *count == 0 {
                self.per_owner.remove(&client.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(owner: &str, now: Instant) -> Client {
        Client {
            secret: None,
            redirect_uris: vec![],
            refresh: false,
            name: None,
            owner: Some(owner.parse().unwrap()),
            last_used: now,
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
    fn registrations_are_rate_limited_per_address() {
        let mut clients = Clients::default();
        let now = Instant::now();
        let a = owner_of(Some("10.0.0.1:1".parse().unwrap()));
        for _ in 0..5 {
            clients.admit(a, 5, now).unwrap();
        }
        let wait = clients.admit(a, 5, now).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 12.0).abs() < 0.01,
            "5 a minute: one every 12 s, not {wait:?}"
        );
        assert!(
            clients
                .admit(owner_of(Some("10.0.0.2:1".parse().unwrap())), 5, now)
                .is_ok()
        );
        assert!(clients.admit(a, 5, now + Duration::from_secs(11)).is_err());
        assert!(
            clients
                .admit(a, 5, now + Duration::from_millis(12_100))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_their_64_bit_prefix() {
        let a = owner_of(Some("[2001:db8:1:2::1]:1".parse().unwrap()));
        let b = owner_of(Some("[2001:db8:1:2:ffff::9]:1".parse().unwrap()));
        let c = owner_of(Some("[2001:db8:1:3::1]:1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            owner_of(Some("[::ffff:10.0.0.1]:1".parse().unwrap())),
            owner_of(Some("10.0.0.1:1".parse().unwrap()))
        );
    }
}
