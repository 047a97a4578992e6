//! RFC 9068 JWT access tokens, verified against the authorization server's JWKS.
//!
//! Keys are discovered from the issuer's metadata (RFC 8414, then OpenID Connect Discovery),
//! cached for as long as `Cache-Control` says (within bounds), refreshed once when a token names
//! an unknown `kid` (single-flight, with a cooldown: the `kid` is chosen by whoever sent the
//! token), refreshed in the background when they expire, and kept while the issuer is down.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

use super::claims::{alias_scopes, fits_scheme, principal_from_claims};
use super::jwks::{KeyId, KeySet, KeyVerdict, VerifyKey, family_of, key_verdicts, lookup};
use super::jws;
use super::jwt_config::JwtConfig;
use super::steps::{CheckOutcome, FirstFailure, Follow, TokenCheck, TokenExplanation};
use super::verified::VerifiedTokens;
use super::verifier::{AuthError, ReadyFuture, TokenVerifier, VerifyFuture};
use crate::challenge::AuthScheme;
use crate::fetch::{self, FetchError, Fetcher};
use crate::principal::Principal;
use crate::transport_security::{InsecureHttp, UrlRole, check_url};

/// Longest token accepted, in bytes. Real access tokens are a few kilobytes at most.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verifies RFC 9068 JWT access tokens against the issuer's JWKS. Cheap to clone.
#[derive(Clone)]
pub struct JwtVerifier {
    shared: Arc<Shared>,
}

struct Shared {
    config: JwtConfig,
    algorithms: Vec<Algorithm>,
    fetcher: Fetcher,
    keys: RwLock<Arc<KeySet>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Keys given at construction: never fetched.
    fixed: std::sync::atomic::AtomicBool,
    /// Whether the start-up fetch ([`TokenVerifier::warm_up`]) was started: once per verifier,
    /// however many routers are built with it.
    warmed: std::sync::atomic::AtomicBool,
    /// Verified tokens, with the principal and when the token expires.
    verified: VerifiedTokens,
    /// Held (shared) while a token is remembered, and (exclusive) while a withdrawn key's
    /// tokens are forgotten and `cache_epoch` bumped: no token verified by a withdrawn key is
    /// remembered after its key's tokens were forgotten.
    forgetting: RwLock<()>,
    /// When the current key set goes stale, in milliseconds since `origin` (`u64::MAX`:
    /// never), for the remembered-token path to check without taking the key set. On the
    /// monotonic clock, as the key set's own expiry: a wall clock stepped back must not delay
    /// the refresh that drops a withdrawn key.
    keys_stale_at: AtomicU64,
    origin: Instant,
    /// What the issuer's metadata gave cause to warn about (see [`fetch::pkce_warning`]).
    warnings: std::sync::Mutex<Vec<String>>,
    /// Bumped, under `forgetting`, each time a key is withdrawn (or changed): a token verified
    /// against an older set is not remembered (its key may be the one withdrawn).
    cache_epoch: AtomicU64,
}

#[derive(Default)]
struct RefreshState {
    /// The last fetch of any kind: a failed first fetch, or a background refresh, waits the
    /// cooldown before the next.
    last_attempt: Option<Instant>,
    /// The last fetch an unknown `kid` caused. Only those start the cooldown that unknown `kid`s
    /// wait on (the `kid` is chosen by whoever sent the token): the first fetch, at start-up or
    /// by the readiness probe, does not, so a key published just after it is found at once.
    last_unknown_kid: Option<Instant>,
    jwks_uri: Option<String>,
    background: bool,
}

/// What makes the verifier fetch the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No keys yet (the first token, or the readiness probe).
    Load,
    /// A token names a `kid` the set does not hold.
    UnknownKid,
    /// The keys' cache time is over.
    Expired,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    /// Whether `crit` is there at all: any value, `null` included, names extensions this
    /// server does not implement (RFC 7515 §4.1.11 allows no empty or null `crit`).
    #[serde(default, deserialize_with = "member_present")]
    crit: bool,
}

fn member_present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

impl JwtVerifier {
    /// A verifier; keys are fetched on first use.
    pub fn new(config: JwtConfig) -> Self {
        let algorithms = config
            .algorithms
            .iter()
            .copied()
            .filter(|a| family_of(*a).is_some())
            .collect();
        let fetcher = Fetcher::new(config.http_timeout, config.max_document_bytes)
            .allow_insecure_http(config.allow_insecure_http);
        let verified = VerifiedTokens::new(config.cache_capacity, config.cache_max_bytes);
        Self {
            shared: Arc::new(Shared {
                config,
                algorithms,
                fetcher,
                keys: RwLock::new(Arc::new(KeySet::empty())),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
                fixed: std::sync::atomic::AtomicBool::new(false),
                warmed: std::sync::atomic::AtomicBool::new(false),
                verified,
                forgetting: RwLock::new(()),
                keys_stale_at: AtomicU64::new(u64::MAX),
                origin: Instant::now(),
                warnings: std::sync::Mutex::default(),
                cache_epoch: AtomicU64::new(0),
            }),
        }
    }

    /// A verifier with a fixed JWK set (e.g. read from a file, or an issuer that cannot be
    /// reached from here): nothing is ever fetched, and an unknown `kid` is simply refused.
    pub fn with_jwks(config: JwtConfig, jwks: &Value) -> Result<Self, FetchError> {
        let verifier = Self::new(config);
        let mut set = verifier.shared.parse_jwks(jwks)?;
        set.expires = None;
        verifier.shared.store(set);
        verifier
            .shared
            .fixed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(verifier)
    }

    /// A verifier holding no key at all, fetching none: every token's key check fails. For
    /// explaining a token when the issuer's key set is unusable.
    pub(crate) fn without_keys(config: JwtConfig) -> Self {
        let verifier = Self::new(config);
        verifier.shared.store(KeySet::empty());
        verifier.shared.fixed.store(true, Ordering::SeqCst);
        verifier
    }

    /// What this verifier makes of each key of the JWK set `body`, in order: its `kid` and
    /// `Ok`, or why it ignores it. `None`: not a JWK set.
    pub(crate) fn key_verdicts(&self, body: &Value) -> Option<Vec<KeyVerdict>> {
        key_verdicts(
            body,
            &self.shared.algorithms,
            self.shared.config.min_rsa_bits,
        )
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.shared.config
    }

    /// Number of verified tokens remembered (never more than `cache_capacity`).
    pub fn cached(&self) -> usize {
        self.shared.verified.len()
    }

    /// Whether keys have been fetched at least once.
    pub fn has_keys(&self) -> bool {
        self.shared.snapshot().loaded()
    }

    /// Fetches the keys now (at start-up, to fail fast on a misconfigured issuer).
    pub async fn prefetch(&self) -> Result<(), FetchError> {
        let shared = &self.shared;
        let mut state = shared.refresh.lock().await;
        state.last_attempt = Some(Instant::now());
        let set = shared.fetch(&mut state).await?;
        shared.store(set);
        Ok(())
    }

    /// Verifies a token not remembered (see [`TokenVerifier::verify`] for the remembered
    /// ones), and remembers it.
    async fn verify_token(&self, token: &str, scheme: AuthScheme) -> Result<Principal, AuthError> {
        let shared = &self.shared;
        let epoch = shared.cache_epoch.load(Ordering::Acquire);
        let (principal, key) = self.verify_signed(token, scheme).await?;
        shared.remember(token, &principal, epoch, key);
        Ok(principal)
    }

    async fn verify_uncached(
        &self,
        token: &str,
        scheme: AuthScheme,
    ) -> Result<Principal, AuthError> {
        self.verify_signed(token, scheme)
            .await
            .map(|(principal, _)| principal)
    }

    /// Verifies `token`, presented in `scheme`; returns its principal and the key that verified
    /// it.
    async fn verify_signed(
        &self,
        token: &str,
        scheme: AuthScheme,
    ) -> Result<(Principal, KeyId), AuthError> {
        self.checks(token, scheme, &mut FirstFailure).await
    }

    /// Explains how this verifier judges `token`: every check of [`TokenCheck::ALL`], in the
    /// order the verifier applies them, through the same code, going on past a failure
    /// wherever the rest can still be judged (a signature that fails does not stop the claims
    /// from being read, unverified). Nothing is remembered; with a key set fetched on demand,
    /// the keys may be fetched as for a token.
    pub async fn explain(&self, token: &str) -> TokenExplanation {
        let mut explanation = TokenExplanation::default();
        let _ = self
            .checks(token, AuthScheme::Bearer, &mut explanation)
            .await;
        explanation.finish()
    }

    /// The checks of a token, in order, each reported to `follow`; with [`FirstFailure`] the
    /// first failure returns at once.
    async fn checks<F: Follow>(
        &self,
        token: &str,
        scheme: AuthScheme,
        follow: &mut F,
    ) -> Result<(Principal, KeyId), AuthError> {
        let shared = &self.shared;
        let config = &shared.config;
        let mut first: Option<AuthError> = None;
        // A check's result: its value, or (explaining) `None` and the failure recorded.
        macro_rules! check {
            ($check:expr, $result:expr) => {
                match $result {
                    Ok(value) => {
                        follow.record($check, CheckOutcome::Passed);
                        Some(value)
                    }
                    Err(error) => {
                        if !F::EVERY {
                            return Err(error);
                        }
                        follow.record($check, CheckOutcome::Failed(error.clone()));
                        first.get_or_insert(error);
                        None
                    }
                }
            };
        }
        // What nothing after can be judged without.
        macro_rules! needed {
            ($value:expr) => {
                match $value {
                    Some(value) => value,
                    None => return Err(first.unwrap_or(AuthError::Malformed)),
                }
            };
        }

        let shape =
            token.len() <= MAX_TOKEN_BYTES && token.bytes().filter(|&b| b == b'.').count() == 2;
        needed!(check!(
            TokenCheck::Shape,
            shape.then_some(()).ok_or(AuthError::Malformed)
        ));
        let header_segment = token.split('.').next().unwrap_or_default();
        // RFC 7515 §5.2: UTF-8 JSON, all of it (serde skips unknown members unchecked).
        let header: RawHeader = needed!(check!(
            TokenCheck::Header,
            URL_SAFE_NO_PAD
                .decode(header_segment)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| serde_json::from_str(&text).ok())
                .ok_or(AuthError::Malformed)
        ));
        let alg = check!(
            TokenCheck::Algorithm,
            Algorithm::from_str(&header.alg)
                .ok()
                .filter(|alg| shared.algorithms.contains(alg))
                .ok_or(AuthError::Algorithm)
        );
        // RFC 7515 §4.1.11: a critical extension we do not implement makes the token invalid.
        check!(
            TokenCheck::Critical,
            if header.crit {
                Err(AuthError::Critical)
            } else {
                Ok(())
            }
        );
        check!(
            TokenCheck::Type,
            type_matches(header.typ.as_deref(), config.token_type.as_deref())
        );

        let key = match alg {
            Some(alg) => check!(
                TokenCheck::Key,
                shared.key_for(header.kid.as_deref(), alg).await
            ),
            None => None,
        };
        // The signature before anything in the payload is believed.
        let verified = match (&key, alg) {
            (Some(key), Some(alg)) => check!(TokenCheck::Signature, key.key.verify(token, alg)),
            _ => None,
        };
        // Explaining past a failed signature: the payload as sent, believed by no one.
        let payload =
            needed!(verified.or_else(|| { F::EVERY.then(|| token.split('.').nth(1)).flatten() }));
        let claims = needed!(check!(TokenCheck::Payload, jws::claims(payload)));
        follow.claims(&claims);
        let expected = jws::Expected {
            issuer: &config.issuer,
            audience: &config.audience,
            leeway: config.leeway.as_secs(),
            now: jsonwebtoken::get_current_timestamp(),
            scheme,
        };
        for (name, claim_check) in &jws::CLAIM_CHECKS {
            check!(*name, claim_check(&claims, &expected));
        }
        let claims = alias_scopes(claims, &config.scope_aliases);
        let principal = check!(TokenCheck::Scopes, principal_from_claims(claims));
        match (first, principal, key) {
            (None, Some(principal), Some(key)) => Ok((principal, key.id)),
            (first, ..) => Err(first.unwrap_or(AuthError::Malformed)),
        }
    }
}

/// RFC 9068 §2.1: the `typ` header is the configured type (`None`: any), with or without the
/// `application/` prefix, in any case.
fn type_matches(typ: Option<&str>, expected: Option<&str>) -> Result<(), AuthError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let typ = typ.ok_or(AuthError::Type)?;
    let typ = typ
        .strip_prefix("application/")
        .filter(|_| typ.len() > "application/".len())
        .unwrap_or(typ);
    if typ.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(AuthError::Type)
    }
}

impl JwtVerifier {
    /// [`TokenVerifier::verify`] and [`TokenVerifier::verify_dpop`]: `token` as presented in
    /// `scheme`. A remembered token was verified in one scheme or the other: its principal's
    /// binding is checked against this request's scheme every time.
    fn verify_in<'a>(&'a self, token: &'a str, scheme: AuthScheme) -> VerifyFuture<'a> {
        // A remembered token is answered by a small ready future: the verifying one is most of
        // a kilobyte, moved into its box on every call.
        if self.shared.config.cache_capacity == 0 {
            return Box::pin(self.verify_uncached(token, scheme));
        }
        if let Some(principal) = self.shared.remembered(token.as_bytes()) {
            let fits = fits_scheme(&principal, scheme).map(|()| principal);
            return Box::pin(std::future::ready(fits));
        }
        Box::pin(self.verify_token(token, scheme))
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        self.verify_in(token, AuthScheme::Bearer)
    }

    fn verify_dpop<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        self.verify_in(token, AuthScheme::Dpop)
    }

    /// A token in the verified-token cache, not expired and its key not withdrawn since.
    fn verify_remembered(&self, token: &[u8]) -> Option<Result<Principal, AuthError>> {
        if self.shared.config.cache_capacity == 0 {
            return None;
        }
        let principal = self.shared.remembered(token)?;
        Some(fits_scheme(&principal, AuthScheme::Bearer).map(|()| principal))
    }

    /// Ready once a key set has been fetched (or was given). Until then each call tries to
    /// fetch it, within the refresh cooldown, so an instance nobody has sent a token to yet
    /// still becomes ready.
    fn ready(&self) -> ReadyFuture<'_> {
        Box::pin(async move {
            let set = self.shared.snapshot();
            set.loaded()
                || self
                    .shared
                    .refresh(set.generation, Trigger::Load)
                    .await
                    .loaded()
        })
    }

    /// The issuer, and the JWKS URI when configured, are checked; a discovered JWKS URI is
    /// checked when it is fetched. A fixed key set fetches nothing, so has nothing to check.
    fn check_urls(&self) -> Result<(), InsecureHttp> {
        if self.shared.fixed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let config = &self.shared.config;
        let role = |what| UrlRole {
            what,
            setting: "JwtConfig",
        };
        check_url(&config.issuer, role("issuer"), config.allow_insecure_http)?;
        match &config.jwks_uri {
            Some(uri) => check_url(uri, role("JWKS URI"), config.allow_insecure_http),
            None => Ok(()),
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.shared
            .warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fetches the keys (and, with a configured `jwks_uri`, the issuer's metadata, which the
    /// keys' discovery would otherwise read) in a task of the current tokio runtime, once per
    /// verifier: an issuer without `S256` is warned about at start (issue 18 item 8). Without a
    /// runtime, or with a fixed key set, nothing happens. The fetch does not start the
    /// unknown-`kid` cooldown, and one that fails does not hold back the first token's.
    fn warm_up(&self) {
        if self.shared.fixed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.shared.warmed.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(&self.shared);
        runtime.spawn(async move {
            shared.warm_up_keys().await;
            if shared.config.jwks_uri.is_some() {
                shared.check_issuer_metadata().await;
            }
        });
    }
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.shared.config.issuer)
            .field("audience", &self.shared.config.audience)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn snapshot(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Milliseconds from `origin` to `at`.
    fn millis_since_origin(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn store(&self, mut set: KeySet) {
        let stale_at = set
            .expires
            .map_or(u64::MAX, |at| self.millis_since_origin(at));
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        self.keys_stale_at.store(stale_at, Ordering::Relaxed);
        set.generation = keys.generation + 1;
        // Compared by kid and key material, not as JSON: a periodic refresh, or one an unknown
        // `kid` caused, that finds the same keys keeps every verified token.
        let withdrawn = keys.withdrawn_in(&set);
        *keys = Arc::new(set);
        if withdrawn.is_empty() {
            return;
        }
        // A key was withdrawn or changed: what it vouched for is checked again, and what a
        // verification under way checked with it is not remembered.
        tracing::info!(target: "scopegate::auth", event = "jwks_keys_withdrawn", issuer = %self.config.issuer, keys = withdrawn.len(), "the issuer withdrew or changed signing keys; tokens they verified are checked again");
        let _forgetting = self.forgetting.write().unwrap_or_else(|e| e.into_inner());
        self.cache_epoch.fetch_add(1, Ordering::AcqRel);
        self.verified.retain(|v| !withdrawn.contains(&v.key));
    }

    /// A token verified before and not expired since. Stale keys are refreshed as on the
    /// uncached path (a withdrawn key then clears what it vouched for).
    fn remembered(self: &Arc<Self>, token: &[u8]) -> Option<Principal> {
        let now = SystemTime::now();
        let verified = self.verified.find(token)?;
        if now >= verified.expires {
            self.verified.forget(token);
            return None;
        }
        let principal = verified.principal;
        if self.millis_since_origin(Instant::now()) >= self.keys_stale_at.load(Ordering::Relaxed) {
            self.refresh_in_background();
        }
        Some(principal)
    }

    /// Remembers a verified token until its `exp` (without the leeway: a remembered token
    /// never outlives the time it was issued for), unless the key set changed since `epoch`
    /// (read before the token was verified). The table stays within `cache_capacity` tokens and
    /// `cache_max_bytes` (see [`VerifiedTokens`]).
    fn remember(&self, token: &str, principal: &Principal, epoch: u64, key: KeyId) {
        let Some(exp) = principal.claims().get("exp").and_then(Value::as_u64) else {
            return;
        };
        let now = SystemTime::now();
        // A far-future `exp` (up to u64::MAX, which SystemTime cannot hold) is remembered for
        // an hour at most.
        let hour = now + Duration::from_secs(3600);
        let expires = UNIX_EPOCH
            .checked_add(Duration::from_secs(exp))
            .map_or(hour, |e| e.min(hour));
        if expires <= now {
            return; // accepted only through the leeway: not worth remembering
        }
        let _remembering = self.forgetting.read().unwrap_or_else(|e| e.into_inner());
        if self.cache_epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        self.verified.insert(token, principal, expires, key);
    }

    /// The key a token with this `kid` and `alg` must verify with.
    async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, AuthError> {
        let mut set = self.snapshot();
        if !set.loaded() {
            set = self.refresh(set.generation, Trigger::Load).await;
            if !set.loaded() {
                return Err(AuthError::Unavailable);
            }
        } else if set.expires.is_some_and(|e| Instant::now() >= e) {
            self.refresh_in_background();
        }
        let found = lookup(&set, kid, alg);
        let key = match found {
            Some(key) => key,
            // An unknown `kid` may be a key the issuer just rotated in: ask once (or join the
            // fetch already under way); the cooldown caps what a flood of made-up kids costs.
            None if kid.is_some() => {
                let fresh = self.refresh(set.generation, Trigger::UnknownKid).await;
                lookup(&fresh, kid, alg).ok_or(AuthError::UnknownKey)?
            }
            None => return Err(AuthError::UnknownKey),
        };
        let compatible = key.family == family_of(alg).ok_or(AuthError::Algorithm)?
            && key.alg.is_none_or(|a| a == alg)
            && key.key.supports(alg);
        if compatible {
            Ok(key)
        } else {
            Err(AuthError::Algorithm)
        }
    }

    /// Fetches the keys unless another task did since `seen_generation` or the cooldown holds:
    /// for an unknown `kid`, since the last fetch an unknown `kid` caused; otherwise since the
    /// last fetch of any kind. Returns the keys to use either way; on failure the old ones stay.
    async fn refresh(self: &Arc<Self>, seen_generation: u64, trigger: Trigger) -> Arc<KeySet> {
        if self.fixed.load(std::sync::atomic::Ordering::SeqCst) {
            return self.snapshot();
        }
        let mut state = self.refresh.lock().await;
        let current = self.snapshot();
        if current.generation != seen_generation {
            return current;
        }
        let last = match trigger {
            Trigger::UnknownKid => state.last_unknown_kid,
            Trigger::Load | Trigger::Expired => state.last_attempt,
        };
        if last.is_some_and(|t| t.elapsed() < self.config.refresh_cooldown) {
            return current;
        }
        let now = Instant::now();
        state.last_attempt = Some(now);
        if trigger == Trigger::UnknownKid {
            state.last_unknown_kid = Some(now);
        }
        match self.fetch(&mut state).await {
            Ok(set) => {
                self.store(set);
                self.snapshot()
            }
            Err(error) => {
                tracing::warn!(target: "scopegate::auth", event = "jwks_fetch_failed", issuer = %self.config.issuer, error = %error, "could not fetch the issuer's keys; keeping the last good ones");
                current
            }
        }
    }

    /// The start-up fetch of the keys, unless something fetched them already. Only a success
    /// counts as an attempt for the cooldown: an issuer still starting must not make the first
    /// token wait `refresh_cooldown` for a retry. `last_unknown_kid` is left alone (issue 18
    /// item 7): a key published just after start is found at once.
    async fn warm_up_keys(&self) {
        let mut state = self.refresh.lock().await;
        if self.snapshot().loaded() {
            return;
        }
        match self.fetch(&mut state).await {
            Ok(set) => {
                state.last_attempt = Some(Instant::now());
                self.store(set);
            }
            Err(error) => {
                tracing::warn!(target: "scopegate::auth", event = "jwks_fetch_failed", issuer = %self.config.issuer, error = %error, "could not fetch the issuer's keys at start-up; the first token or readiness probe tries again");
            }
        }
    }

    /// With a configured `jwks_uri` the keys' fetch reads no metadata: read it once here for
    /// the `S256` check. An issuer without readable metadata is warned about too (MCP clients
    /// discover the authorization server through it, RFC 8414 §3), never refused: the keys are
    /// all that verifying tokens needs.
    async fn check_issuer_metadata(&self) {
        let issuer = &self.config.issuer;
        match fetch::discover(&self.fetcher, issuer).await {
            Ok(found) => {
                if let Some(warning) = fetch::pkce_warning(issuer, &found) {
                    self.warn_once("issuer_without_pkce", warning);
                }
            }
            Err(error) => self.warn_once(
                "issuer_metadata_unavailable",
                format!(
                    "the authorization server `{issuer}` has no metadata this server could read ({error}): MCP clients discover it there (RFC 8414), and whether it supports PKCE's S256 is unknown"
                ),
            ),
        }
    }

    /// Starts a refresh of expired keys without making any request wait for it.
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(mut state) = self.refresh.try_lock() else {
            return; // a refresh is running
        };
        if state.background
            || state
                .last_attempt
                .is_some_and(|t| t.elapsed() < self.config.refresh_cooldown)
        {
            return;
        }
        state.background = true;
        drop(state);
        let shared = Arc::clone(self);
        let generation = self.snapshot().generation;
        tokio::spawn(async move {
            shared.refresh(generation, Trigger::Expired).await;
            shared.refresh.lock().await.background = false;
        });
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<KeySet, FetchError> {
        let jwks_uri = match (&self.config.jwks_uri, &state.jwks_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let found = fetch::discover(&self.fetcher, &self.config.issuer).await?;
                if let Some(warning) = fetch::pkce_warning(&self.config.issuer, &found) {
                    self.warn_once("issuer_without_pkce", warning);
                }
                let uri = found
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        FetchError::Invalid("the issuer's metadata has no jwks_uri".into())
                    })?
                    .to_owned();
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let document = self.fetcher.get_json(&jwks_uri).await?;
        let set = self.parse_jwks(&document.body)?;
        let ttl = document
            .max_age
            .unwrap_or(self.config.default_cache)
            .clamp(self.config.min_cache, self.config.max_cache);
        Ok(KeySet {
            expires: Some(Instant::now() + ttl),
            ..set
        })
    }

    /// Logs `warning` loudly the first time, and keeps it for [`TokenVerifier::warnings`].
    fn warn_once(&self, event: &'static str, warning: String) {
        let mut warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if !warnings.contains(&warning) {
            tracing::warn!(target: "scopegate::auth", event, issuer = %self.config.issuer, "{warning}");
            warnings.push(warning);
        }
    }

    /// The keys of `body` fit for verifying signatures.
    fn parse_jwks(&self, body: &Value) -> Result<KeySet, FetchError> {
        KeySet::parse(body, &self.algorithms, self.config.min_rsa_bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A principal whose token expires in five minutes.
    fn live_principal() -> Principal {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 300;
        let mut claims = serde_json::Map::new();
        claims.insert("exp".into(), exp.into());
        Principal::builder().subject("s").claims(claims).build()
    }

    #[test]
    fn a_token_verified_on_another_thread_is_answered_at_once() {
        let verifier = JwtVerifier::new(JwtConfig::new("http://issuer", "http://rs"));
        let token = "header.payload-elsewhere.signature";
        // Verified, and put in the table, by another thread.
        let epoch = verifier.shared.cache_epoch.load(Ordering::Acquire);
        verifier
            .shared
            .remember(token, &live_principal(), epoch, [0; 32]);
        let meets = std::thread::spawn(move || {
            let mut future = verifier.verify(token);
            let answer = future
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
            let std::task::Poll::Ready(Ok(principal)) = answer else {
                panic!("a remembered token is answered at once");
            };
            principal.subject().map(str::to_owned)
        });
        assert_eq!(meets.join().unwrap().as_deref(), Some("s"));
    }

    #[test]
    fn a_remembered_token_is_answered_by_its_bytes_alone() {
        let verifier = JwtVerifier::new(JwtConfig::new("http://issuer", "http://rs"));
        let token = "header.payload.signature-of-a-bearer-token";
        let bound = "header.payload.signature-of-a-bound-token";
        assert!(
            verifier.verify_remembered(token.as_bytes()).is_none(),
            "not yet"
        );
        let epoch = verifier.shared.cache_epoch.load(Ordering::Acquire);
        verifier
            .shared
            .remember(token, &live_principal(), epoch, [0; 32]);
        let dpop = Principal::builder()
            .subject("s")
            .claims(live_principal().claims().clone())
            .key_binding(crate::principal::KeyBinding::Dpop("jkt".into()))
            .build();
        verifier.shared.remember(bound, &dpop, epoch, [0; 32]);
        let answer = verifier.verify_remembered(token.as_bytes());
        assert_eq!(
            answer
                .and_then(Result::ok)
                .as_ref()
                .and_then(Principal::subject),
            Some("s")
        );
        // One byte changed, a prefix, the token with a byte more: not remembered.
        let mut changed = token.as_bytes().to_vec();
        changed[3] ^= 0x20;
        assert!(verifier.verify_remembered(&changed).is_none());
        assert!(verifier.verify_remembered(&token.as_bytes()[1..]).is_none());
        assert!(
            verifier
                .verify_remembered(format!("{token}=").as_bytes())
                .is_none()
        );
        // A token bound to a key, remembered from a DPoP request: no bearer token.
        assert_eq!(
            verifier
                .verify_remembered(bound.as_bytes())
                .map(|a| a.err()),
            Some(Some(AuthError::Bound))
        );
        // Without a cache, nothing is remembered.
        let mut config = JwtConfig::new("http://issuer", "http://rs");
        config.cache_capacity = 0;
        let uncached = JwtVerifier::new(config);
        uncached
            .shared
            .remember(token, &live_principal(), epoch, [0; 32]);
        assert!(uncached.verify_remembered(token.as_bytes()).is_none());
    }

    /// The share of lookups that found a token remembered, over `rounds` passes of tokens
    /// `0..working_set` in turn, each remembered when not found, with room for `capacity`.
    fn hit_rate(capacity: usize, working_set: usize, rounds: usize) -> f64 {
        let mut config = JwtConfig::new("http://issuer", "http://rs");
        config.cache_capacity = capacity;
        let verifier = JwtVerifier::new(config);
        let principal = live_principal();
        let (mut hits, mut lookups) = (0usize, 0usize);
        for round in 0..rounds {
            for token in 0..working_set {
                // Tokens of 800 bytes, told apart by their ends as signatures are.
                let token = format!("{:0>800}", format!("token-{token}"));
                let found = verifier.shared.remembered(token.as_bytes()).is_some();
                if !found {
                    verifier.shared.remember(&token, &principal, 0, [0; 32]);
                }
                // The first pass fills the table: it is not counted.
                if round > 0 {
                    lookups += 1;
                    hits += usize::from(found);
                }
            }
            assert!(
                verifier.cached() <= capacity,
                "{} > {capacity}",
                verifier.cached()
            );
        }
        hits as f64 / lookups as f64
    }

    #[test]
    fn a_working_set_beyond_the_capacity_still_hits_in_part() {
        // Within the capacity: every token found once remembered.
        assert!(hit_rate(1_000, 900, 4) > 0.99);
        // Half again as many tokens as the table holds, sent round-robin (the scan that empties
        // a table forgetting everything when full): at least half still hit.
        let rate = hit_rate(1_000, 1_500, 6);
        eprintln!("hit rate of a working set 1.5x the capacity: {rate:.3}");
        assert!(rate >= 0.5, "hit rate {rate:.2}");
    }

    /// A key set of the test JWKs named by `kids`.
    fn key_set(kids: &[&str]) -> KeySet {
        let keys: Vec<Value> = kids
            .iter()
            .map(|kid| super::super::jwks::test_jwk(kid))
            .collect();
        KeySet::parse(
            &serde_json::json!({ "keys": keys }),
            &[Algorithm::ES256],
            2048,
        )
        .unwrap()
    }

    #[test]
    fn a_token_checked_against_a_replaced_key_set_is_not_remembered() {
        let verifier = JwtVerifier::new(JwtConfig::new("http://issuer", "http://rs"));
        let shared = &verifier.shared;
        let principal = live_principal();
        shared.store(key_set(&["a"]));
        let key_a = shared.snapshot().by_kid["a"][0].id;
        // Verified while the key set was replaced (a key withdrawn): not remembered.
        let before = shared.cache_epoch.load(Ordering::Acquire);
        shared.store(key_set(&["b"]));
        shared.remember("a", &principal, before, key_a);
        assert_eq!(verifier.cached(), 0);
        assert!(shared.remembered(b"a").is_none());
        // Verified under the current set: remembered, and forgotten when its key goes.
        let key_b = shared.snapshot().by_kid["b"][0].id;
        let now = shared.cache_epoch.load(Ordering::Acquire);
        shared.remember("b", &principal, now, key_b);
        assert_eq!(verifier.cached(), 1);
        assert!(shared.remembered(b"b").is_some());
        shared.store(key_set(&["a"]));
        assert_eq!(verifier.cached(), 0);
    }

    #[test]
    fn a_refresh_that_finds_the_same_keys_keeps_the_verified_tokens() {
        let verifier = JwtVerifier::new(JwtConfig::new("http://issuer", "http://rs"));
        let shared = &verifier.shared;
        let principal = live_principal();
        shared.store(key_set(&["a", "b"]));
        let epoch = shared.cache_epoch.load(Ordering::Acquire);
        let (key_a, key_b) = {
            let set = shared.snapshot();
            (set.by_kid["a"][0].id, set.by_kid["b"][0].id)
        };
        shared.remember("by a", &principal, epoch, key_a);
        shared.remember("by b", &principal, epoch, key_b);
        // The same keys, in another order; then a key added: nothing forgotten, and a
        // verification under way is still remembered.
        shared.store(key_set(&["b", "a"]));
        shared.store(key_set(&["b", "a", "c"]));
        assert_eq!(shared.cache_epoch.load(Ordering::Acquire), epoch);
        shared.remember("by a, later", &principal, epoch, key_a);
        assert_eq!(verifier.cached(), 3);
        // `b` withdrawn: the token it verified is checked again, the others stay.
        shared.store(key_set(&["a", "c"]));
        assert!(shared.remembered(b"by b").is_none());
        assert!(shared.remembered(b"by a").is_some());
        assert!(shared.remembered(b"by a, later").is_some());
        assert_eq!(verifier.cached(), 2);
    }

    #[test]
    fn only_asymmetric_algorithms_are_ever_accepted() {
        let config = JwtConfig {
            algorithms: vec![Algorithm::HS256, Algorithm::RS256, Algorithm::HS512],
            ..JwtConfig::new("http://issuer", "http://rs")
        };
        assert_eq!(
            JwtVerifier::new(config).shared.algorithms,
            [Algorithm::RS256]
        );
    }
}
