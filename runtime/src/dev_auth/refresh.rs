//! Refresh token families: rotation with reuse detection that cannot be flushed (OAuth 2.1
//! §4.3.1 and §6.1; RFC 9700 §4.14.2).
//!
//! Every authorization code redeemed by a client that may refresh starts a *family*. Each
//! refresh token names its family and its generation, authenticated with a key generated at
//! start (HMAC-SHA256): `base64url(family id ‖ generation ‖ tag)`. A family remembers only its
//! current generation, so the store holds one small entry per family however often it rotates
//! (the bound per family), and nothing is ever cleared wholesale:
//!
//! - the token of the current generation is exchanged for the next one in the same critical
//!   section that retires it: of two concurrent uses, one wins and the other is a reuse;
//! - a token of an earlier generation, which only ever existed if it was issued, is a reuse: the
//!   family is revoked, the legitimate client's live token with it (RFC 9700 §4.14.2);
//! - a family that is not in the store (expired, revoked, or evicted from a full store) refuses
//!   every token that names it: absence means refusal, never a fresh start;
//! - a family lives `refresh_token_ttl` from the code that started it, however often it rotates;
//! - redeeming its authorization code a second time revokes it (OAuth 2.1 §4.1.3).
//!
//! Access tokens already issued from a revoked family are not recalled: they are self-contained
//! JWTs and live out their short lifetime (`access_token_ttl`, 5 minutes by default).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::grant::Grant;

/// Most families held at once; when full, the oldest is evicted (and its tokens refused).
pub(super) const MAX_FAMILIES: usize = 10_000;

const ID_LEN: usize = 16;
const TAG_LEN: usize = 32;
const TOKEN_LEN: usize = ID_LEN + 8 + TAG_LEN;

type FamilyId = [u8; ID_LEN];

/// A digest of an authorization code: the store never keeps a redeemed code itself.
pub(super) type CodeDigest = [u8; 32];

struct Family {
    grant: Grant,
    /// The generation of the one live token; every earlier one has been used.
    generation: u64,
    started: Instant,
    /// `started` plus `refresh_token_ttl`: rotation never extends it.
    expires: Instant,
    code: CodeDigest,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Not a token this server issued, or of a family it no longer holds.
    Unknown,
    /// The family outlived `refresh_token_ttl`.
    Expired,
    /// A token already exchanged: the family is now revoked.
    Reused,
    /// The token belongs to another client (nothing is spent or revoked).
    OtherClient,
}

/// A refresh that did not happen: the token was refused, or the caller's own check failed
/// (then nothing was spent).
pub(super) enum RotateError<E> {
    Refused(Refused),
    Check(E),
}

/// The families of one development server.
pub(super) struct Families {
    key: hmac::Key,
    live: HashMap<FamilyId, Family>,
    /// Redeemed authorization code -> the family it started.
    by_code: HashMap<CodeDigest, FamilyId>,
    /// Families evicted so far (logged at the first and every thousandth: a flood of grants
    /// must not flood the log).
    evicted: u64,
}

impl Families {
    pub(super) fn new() -> Self {
        let mut secret = [0u8; 32];
        // getrandom fails only when the OS has no entropy source at all; nothing can go on then.
        getrandom::fill(&mut secret).expect("the operating system provides randomness");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            live: HashMap::new(),
            by_code: HashMap::new(),
            evicted: 0,
        }
    }

    /// How many families are held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.live.len()
    }

    /// Starts a family for `grant`, redeemed from the code whose digest is `code`; returns its
    /// first refresh token. A full store first drops expired families, then evicts the oldest.
    pub(super) fn start(
        &mut self,
        grant: Grant,
        code: CodeDigest,
        ttl: Duration,
        now: Instant,
    ) -> String {
        if self.live.len() >= MAX_FAMILIES {
            self.live.retain(|_, f| f.expires > now);
            let live = &self.live;
            self.by_code.retain(|_, id| live.contains_key(id));
        }
        if self.live.len() >= MAX_FAMILIES
            && let Some(oldest) = self
                .live
                .iter()
                .min_by_key(|(_, f)| f.started)
                .map(|(id, _)| *id)
        {
            self.remove(&oldest);
            if self.evicted.is_multiple_of(1000) {
                tracing::warn!(
                    target: "scopegate::dev_auth",
                    event = "refresh_family_evicted",
                    evicted = self.evicted + 1,
                    "the refresh token store is full: the oldest family was evicted, its tokens are refused from now on"
                );
            }
            self.evicted += 1;
        }
        let mut id = [0u8; ID_LEN];
        getrandom::fill(&mut id).expect("the operating system provides randomness");
        self.live.insert(
            id,
            Family {
                grant,
                generation: 0,
                started: now,
                expires: now + ttl,
                code,
            },
        );
        self.by_code.insert(code, id);
        self.token(&id, 0)
    }

    /// Exchanges `presented` for its successor in one step: checks it, runs `check` on the
    /// family's grant (nothing is spent if that fails), retires it and issues the next
    /// generation. Presenting a retired token revokes the family.
    pub(super) fn rotate<T, E>(
        &mut self,
        presented: &str,
        client_id: &str,
        now: Instant,
        check: impl FnOnce(&Grant) -> Result<T, E>,
    ) -> Result<(Grant, T, String), RotateError<E>> {
        let refused = |why| Err(RotateError::Refused(why));
        let Some((id, generation)) = self.parse(presented) else {
            return refused(Refused::Unknown);
        };
        let Some(family) = self.live.get_mut(&id) else {
            return refused(Refused::Unknown);
        };
        if family.expires <= now {
            self.remove(&id);
            return refused(Refused::Expired);
        }
        if family.grant.client_id != client_id {
            return refused(Refused::OtherClient);
        }
        if generation < family.generation {
            // Someone else holds a copy of a retired token: whoever it is, the family ends.
            self.remove(&id);
            tracing::warn!(
                target: "scopegate::dev_auth",
                event = "refresh_token_reused",
                client_id,
                "a refresh token was used twice: its family is revoked"
            );
            return refused(Refused::Reused);
        }
        if generation != family.generation {
            return refused(Refused::Unknown);
        }
        let out = check(&family.grant).map_err(RotateError::Check)?;
        family.generation += 1;
        let next = family.generation;
        let grant = family.grant.clone();
        Ok((grant, out, self.token(&id, next)))
    }

    /// An authorization code presented again: revokes the family it started, if any. Returns
    /// whether there was one.
    pub(super) fn revoke_code(&mut self, code: &CodeDigest) -> bool {
        match self.by_code.get(code).copied() {
            Some(id) => {
                self.remove(&id);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, id: &FamilyId) {
        if let Some(family) = self.live.remove(id) {
            self.by_code.remove(&family.code);
        }
    }

    fn tag(&self, id: &FamilyId, generation: u64) -> hmac::Tag {
        let mut message = [0u8; ID_LEN + 8];
        message[..ID_LEN].copy_from_slice(id);
        message[ID_LEN..].copy_from_slice(&generation.to_be_bytes());
        hmac::sign(&self.key, &message)
    }

    fn token(&self, id: &FamilyId, generation: u64) -> String {
        let mut raw = Vec::with_capacity(TOKEN_LEN);
        raw.extend_from_slice(id);
        raw.extend_from_slice(&generation.to_be_bytes());
        raw.extend_from_slice(self.tag(id, generation).as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The family and generation a token names, if this server issued it (the tag is checked
    /// in constant time).
    fn parse(&self, token: &str) -> Option<(FamilyId, u64)> {
        if token.len() > 128 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() != TOKEN_LEN {
            return None;
        }
        let (message, tag) = raw.split_at(ID_LEN + 8);
        hmac::verify(&self.key, message, tag).ok()?;
        let id: FamilyId = message[..ID_LEN].try_into().ok()?;
        let generation = u64::from_be_bytes(message[ID_LEN..].try_into().ok()?);
        Some((id, generation))
    }
}

/// The digest under which a redeemed code is remembered.
pub(super) fn code_digest(code: &str) -> CodeDigest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client: &str) -> Grant {
        Grant {
            client_id: client.into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            challenge: String::new(),
            scopes: vec!["a".into()],
            resource: "http://127.0.0.1/mcp".into(),
            jkt: None,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn ok(families: &mut Families, token: &str, now: Instant) -> Result<String, Refused> {
        match families.rotate(token, "c", now, |_| Ok::<(), ()>(())) {
            Ok((_, (), next)) => Ok(next),
            Err(RotateError::Refused(why)) => Err(why),
            Err(RotateError::Check(())) => unreachable!(),
        }
    }

    #[test]
    fn rotation_retires_the_parent_and_reuse_revokes_the_family() {
        let mut f = Families::new();
        let now = Instant::now();
        let t0 = f.start(grant("c"), code_digest("code"), HOUR, now);
        let t1 = ok(&mut f, &t0, now).unwrap();
        let t2 = ok(&mut f, &t1, now).unwrap();
        assert_eq!(ok(&mut f, &t0, now), Err(Refused::Reused));
        assert_eq!(ok(&mut f, &t2, now), Err(Refused::Unknown), "revoked");
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn a_family_holds_one_entry_however_often_it_rotates() {
        let mut f = Families::new();
        let now = Instant::now();
        let mut token = f.start(grant("c"), code_digest("code"), HOUR, now);
        let first = token.clone();
        for _ in 0..10_000 {
            token = ok(&mut f, &token, now).unwrap();
        }
        assert_eq!((f.live.len(), f.by_code.len()), (1, 1));
        // The very first token is still recognised as a reuse after 10,000 rotations.
        assert_eq!(ok(&mut f, &first, now), Err(Refused::Reused));
    }

    #[test]
    fn a_family_expires_from_its_first_grant_not_from_each_rotation() {
        let mut f = Families::new();
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let t0 = f.start(grant("c"), code_digest("code"), ttl, start);
        let t1 = ok(&mut f, &t0, start + Duration::from_secs(9)).unwrap();
        assert_eq!(
            ok(&mut f, &t1, start + Duration::from_secs(10)),
            Err(Refused::Expired)
        );
    }

    #[test]
    fn forged_other_clients_and_evicted_tokens_are_refused() {
        let mut f = Families::new();
        let now = Instant::now();
        let t0 = f.start(grant("c"), code_digest("code"), HOUR, now);
        // Another server's key: same shape, wrong tag.
        let other = Families::new().token(&f.parse(&t0).unwrap().0, 1);
        assert_eq!(ok(&mut f, &other, now), Err(Refused::Unknown));
        assert_eq!(ok(&mut f, "not-a-token", now), Err(Refused::Unknown));
        assert_eq!(
            f.rotate(&t0, "d", now, |_| Ok::<(), ()>(()))
                .err()
                .map(|e| matches!(e, RotateError::Refused(Refused::OtherClient))),
            Some(true)
        );
        // A failed check spends nothing.
        assert!(matches!(
            f.rotate(&t0, "c", now, |_| Err::<(), _>("no")),
            Err(RotateError::Check("no"))
        ));
        let t1 = ok(&mut f, &t0, now).unwrap();
        // Fill the store: the oldest family (this one) is evicted, and its token refused.
        for i in 0..MAX_FAMILIES {
            f.start(
                grant("x"),
                code_digest(&i.to_string()),
                HOUR,
                now + Duration::from_millis(1),
            );
        }
        assert_eq!(f.len(), MAX_FAMILIES);
        assert_eq!(ok(&mut f, &t1, now), Err(Refused::Unknown));
    }

    #[test]
    fn a_replayed_code_revokes_its_family() {
        let mut f = Families::new();
        let now = Instant::now();
        let t0 = f.start(grant("c"), code_digest("code"), HOUR, now);
        assert!(!f.revoke_code(&code_digest("other")));
        assert!(f.revoke_code(&code_digest("code")));
        assert_eq!(ok(&mut f, &t0, now), Err(Refused::Unknown));
    }
}
