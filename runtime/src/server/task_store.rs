//! [`TaskStore`]: where replicas keep their tasks' records, so that any replica answers
//! `tasks/get` for a task another runs (`RedisStore`, feature `redis`). The replica running a
//! task writes its record on every change and renews its lease; a record whose lease ran out
//! belongs to a replica that died, and its task is reported failed. A final status, once
//! stored, stands: a cancellation or a failure written by another replica is not overwritten by
//! the runner, which drops its handler when it finds it. Leases compare the replicas' clocks:
//! keep them synchronised well within the lease (30 s by default).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::StoreFuture;

/// Records of tasks, as JSON text, by task id.
pub trait TaskStore: Send + Sync + std::fmt::Debug + 'static {
    /// Writes task `id`'s record, kept for `keep`, unless the record stored already shows a
    /// final status (`completed`, `failed`, `cancelled`: a final status never changes, whichever
    /// replica wrote it). Answers whether it wrote; atomically, as two replicas may race.
    fn put<'a>(&'a self, id: &'a str, record: &'a str, keep: Duration) -> StoreFuture<'a, bool>;

    /// Task `id`'s record, if kept.
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>>;
}

/// One task as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskRecord {
    /// Whose it is (`tasks::owner_key`).
    pub(crate) owner: String,
    /// The tool's name: its scopes are checked on every request about the task.
    pub(crate) tool: String,
    /// The tool's `when` clauses the call's arguments matched (their scopes are checked too).
    #[serde(default)]
    pub(crate) matched: u64,
    /// Milliseconds since the Unix epoch until which the running replica vouches for it.
    pub(crate) lease_until: u64,
    /// The task as `tasks/get` shows it (`DetailedTask`).
    pub(crate) task: Value,
}

impl TaskRecord {
    /// Whether the task is still running by its record (working or waiting for input).
    pub(crate) fn is_running(&self) -> bool {
        matches!(
            self.task.get("status").and_then(Value::as_str),
            Some("working" | "input_required")
        )
    }

    /// Whether the replica running it stopped renewing its lease (it died).
    pub(crate) fn abandoned(&self, now: SystemTime) -> bool {
        self.is_running() && millis(now) > self.lease_until
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_running_task_whose_lease_ran_out_is_abandoned() {
        let now = SystemTime::now();
        let mut record = TaskRecord {
            owner: "o".into(),
            tool: "t".into(),
            matched: 0,
            lease_until: millis(now) + 1_000,
            task: json!({ "status": "working" }),
        };
        assert!(!record.abandoned(now));
        assert!(record.abandoned(now + Duration::from_secs(2)));
        record.task = json!({ "status": "completed" });
        assert!(
            !record.abandoned(now + Duration::from_secs(2)),
            "a finished task is not"
        );
    }
}
