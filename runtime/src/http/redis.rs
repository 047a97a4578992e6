//! Sessions and rate limits shared by replicas through one Redis (feature `redis`): every
//! operation is one round trip, and the ones that read and write are Lua scripts, so two
//! replicas never interleave inside one.
//!
//! Keys (under a prefix, `scopegate:` by default): `session:<id>` holds a session's record as
//! JSON and expires after `session_ttl` without use; `owner:<owner>` is a sorted set of an
//! owner's session ids by creation time, to end the oldest past the per-owner cap;
//! `rate:<limit>:<key>` is a rate limit's theoretical arrival time (GCRA) in microseconds of
//! Redis's clock, so the replicas' clocks do not matter; `state:<id>` marks an input request's
//! state as used; `task:<id>` holds a task's record (JSON); the channel `events` carries what
//! replicas tell each other (pub/sub). One Redis server (or a primary with replicas); not Redis
//! Cluster, whose slots would split a session from its owner's set.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::store::{RateLimitStore, SessionRecord, SessionStore, StoreError, StoreFuture};
use crate::server::Quota;

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prepended to every key (default `scopegate:`), to share a Redis with other uses.
    pub prefix: String,
    /// How long an unused session lives (default 24 h); each request renews it.
    pub session_ttl: Duration,
    /// Longest wait for a connection or an answer (default 1 s); past it the request gets 503
    /// (sessions) or is limited in-process (rate limits). Never a hang.
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "scopegate:".into(),
            session_ttl: Duration::from_secs(24 * 60 * 60),
            timeout: Duration::from_secs(1),
        }
    }
}

/// A [`SessionStore`] and [`RateLimitStore`] in Redis. Cheap to clone: the clones share one
/// multiplexed connection, which reconnects by itself.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use scopegate_runtime::http::{HttpConfig, Quota, RedisStore};
/// let redis = RedisStore::open("redis://127.0.0.1:6379")?;
/// let config = HttpConfig::new("https://mcp.example.com/mcp")
///     .jwt_issuer("https://auth.example.com")
///     .session_store(redis.clone())
///     .rate_limit_store(redis)
///     .rate_per_principal(Some(Quota::new(50, 20.0)));
/// # let _ = config; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    /// For the event bus's subscription, which needs a connection of its own.
    client: redis::Client,
    shared: Arc<Settings>,
}

struct Settings {
    prefix: String,
    ttl_secs: u64,
    create: Script,
    end: Script,
    take: Script,
    put_task: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.shared.prefix)
            .field("session_ttl_secs", &self.shared.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// Stores a new session, forgets the owner's expired ids, ends the owner's oldest past the cap.
/// KEYS: the session, the owner's set. ARGV: id, record, ttl (s), cap, session key prefix.
const CREATE: &str = r"
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[5] .. id) == 0 then redis.call('ZREM', KEYS[2], id) end
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('DEL', ARGV[5] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 0
";

/// Ends a session if the caller owns it. KEYS: the session, the caller's set. ARGV: id, owner.
const END: &str = r"
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
local ok, record = pcall(cjson.decode, json)
if not ok or type(record) ~= 'table' or record.owner ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
";

/// GCRA: one request from a key's allowance. KEYS: the key. ARGV: emission interval (µs),
/// burst. Returns 0 when allowed, else the wait in µs.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local wait = tat + interval - interval * tonumber(ARGV[2]) - now
if wait > 0 then return math.max(1, math.floor(wait)) end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.floor((next - now) / 1000) + 1)
return 0
";

/// Writes a task's record unless the stored one is final. KEYS: the record. ARGV: the record,
/// its life (ms). Returns 1 when written.
const PUT_TASK: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and type(record.task) == 'table' then
    local status = record.task.status
    if status == 'completed' or status == 'failed' or status == 'cancelled' then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`, `rediss://` for TLS is not built in) with the
    /// default [`RedisOptions`]. Connects on first use, so replicas may start before Redis.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, RedisOptions::default())
    }

    /// A store at `url` with `options`.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn open_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::new)?;
        let timeout = options.timeout.max(Duration::from_millis(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(StoreError::new)?;
        Ok(Self {
            connection,
            client,
            shared: Arc::new(Settings {
                prefix: options.prefix,
                ttl_secs: options.session_ttl.as_secs().max(1),
                create: Script::new(CREATE),
                end: Script::new(END),
                take: Script::new(TAKE),
                put_task: Script::new(PUT_TASK),
            }),
        })
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}session:{id}", self.shared.prefix)
    }

    fn owner_key(&self, owner: &str) -> String {
        format!("{}owner:{owner}", self.shared.prefix)
    }

    /// Asks Redis for `PONG`, e.g. to fail at start-up rather than on the first session.
    ///
    /// # Errors
    /// When Redis does not answer within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(StoreError::new)
    }
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        id: &'a str,
        record: &'a SessionRecord,
        max_per_owner: usize,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            self.shared
                .create
                .key(self.session_key(id))
                .key(self.owner_key(record.owner()))
                .arg(id)
                .arg(record.to_json())
                .arg(self.shared.ttl_secs)
                .arg(max_per_owner.max(1))
                .arg(format!("{}session:", self.shared.prefix))
                .invoke_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(StoreError::new)
        })
    }

    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let json: Option<String> = redis::cmd("GETEX")
                .arg(self.session_key(id))
                .arg("EX")
                .arg(self.shared.ttl_secs)
                .query_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            json.as_deref().map(SessionRecord::from_json).transpose()
        })
    }

    fn save<'a>(&'a self, id: &'a str, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            // XX: only a live session is written; an ended one stays ended.
            redis::cmd("SET")
                .arg(self.session_key(id))
                .arg(record.to_json())
                .arg("XX")
                .arg("EX")
                .arg(self.shared.ttl_secs)
                .query_async::<Option<String>>(&mut connection)
                .await
                .map(drop)
                .map_err(StoreError::new)
        })
    }

    fn end<'a>(&'a self, id: &'a str, owner: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            self.shared
                .end
                .key(self.session_key(id))
                .key(self.owner_key(owner))
                .arg(id)
                .arg(owner)
                .invoke_async::<i64>(&mut connection)
                .await
                .map(|ended| ended == 1)
                .map_err(StoreError::new)
        })
    }
}

impl RateLimitStore for RedisStore {
    fn take<'a>(&'a self, key: &'a str, quota: Quota) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let interval = (1_000_000.0 / quota.per_second.max(1e-6)).ceil().max(1.0);
            let wait: i64 = self
                .shared
                .take
                .key(format!("{}rate:{key}", self.shared.prefix))
                .arg(format!("{interval:.0}"))
                .arg(quota.burst.max(1))
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok((wait > 0).then(|| Duration::from_micros(wait.unsigned_abs())))
        })
    }
}

impl crate::server::ReplayStore for RedisStore {
    fn first_use<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            // SET NX: one replica wins, atomically; the key lives as long as the state could.
            let set: Option<String> = redis::cmd("SET")
                .arg(format!("{}state:{id}", self.shared.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                .query_async(&mut connection)
                .await
                .map_err(StoreError::new)?;
            Ok(set.is_some())
        })
    }
}

impl crate::server::TaskStore for RedisStore {
    fn put<'a>(&'a self, id: &'a str, record: &'a str, keep: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            self.shared
                .put_task
                .key(format!("{}task:{id}", self.shared.prefix))
                .arg(record)
                .arg(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1))
                .invoke_async::<i64>(&mut connection)
                .await
                .map(|written| written == 1)
                .map_err(StoreError::new)
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("GET")
                .arg(format!("{}task:{id}", self.shared.prefix))
                .query_async(&mut connection)
                .await
                .map_err(StoreError::new)
        })
    }
}

impl crate::server::EventBus for RedisStore {
    fn publish<'a>(&'a self, message: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("PUBLISH")
                .arg(format!("{}events", self.shared.prefix))
                .arg(message)
                .query_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(StoreError::new)
        })
    }

    fn subscribe(&self, deliver: Arc<dyn Fn(&str) -> bool + Send + Sync>) {
        use futures_util::StreamExt as _;
        let client = self.client.clone();
        let channel = format!("{}events", self.shared.prefix);
        // Subscribed for the life of the process, reconnecting after a second when Redis goes
        // away (events published meanwhile are lost: pub/sub does not keep them).
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                        Ok(()) => {
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                if let Ok(text) = message.get_payload::<String>()
                                    && !deliver(&text)
                                {
                                    return;
                                }
                            }
                            tracing::warn!(target: "scopegate::replicas", "event bus disconnected");
                        }
                        Err(error) => {
                            tracing::warn!(target: "scopegate::replicas", %error, "event bus: subscribe failed");
                        }
                    },
                    Err(error) => {
                        tracing::warn!(target: "scopegate::replicas", %error, "event bus unreachable");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
