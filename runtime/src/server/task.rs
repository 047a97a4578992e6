//! One task of the 2026-07-28 tasks extension (SEP-2663): a `tools/call` that went on after
//! its request was answered. Its status, the requests its handler made of the client (shown by
//! `tasks/get`, answered by `tasks/update`), its result or error once done, and its wire form
//! (`DetailedTask`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::connection::Cancel;
use crate::handler::{InputKind, TaskInputs};

/// How often clients are told to poll `tasks/get`.
pub(crate) const POLL_INTERVAL_MS: u64 = 500;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Running (`input_required` while requests to the client are outstanding).
    Working,
    /// Done with a result (a tool's own error included: `isError`).
    Completed,
    /// Done with a JSON-RPC error (the handler panicked, or ran out of time).
    Failed,
    Cancelled,
}

/// A request of the handler that the client has not answered yet.
#[derive(Debug)]
struct Outstanding {
    kind: InputKind,
    /// `{ "method", "params" }`, as `inputRequests` shows it.
    request: Value,
    answer: oneshot::Sender<Value>,
}

#[derive(Debug)]
struct State {
    status: Status,
    updated: SystemTime,
    result: Option<Value>,
    error: Option<Value>,
    outstanding: BTreeMap<String, Outstanding>,
}

/// One task.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) id: String,
    /// Whose it is ([`owner_key`](super::tasks::owner_key)): nobody else may see it.
    pub(crate) owner: String,
    /// The tool's index: its scopes are checked again on every `tasks/*` request.
    pub(crate) tool: usize,
    /// The tool's `when` clauses the call's arguments matched: their scopes are checked again
    /// on every `tasks/*` request too.
    pub(crate) matched: u64,
    created: SystemTime,
    ttl: Duration,
    state: Mutex<State>,
    /// Set by `tasks/cancel`: the handler is dropped.
    pub(crate) cancel: Cancel,
    /// Woken on every change, for the runner that writes the task's record to a shared store.
    pub(crate) changed: tokio::sync::Notify,
}

/// What `tasks/update` found wrong.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MalformedAnswer(pub(crate) String);

impl Task {
    /// A running task of tool `tool` for `owner`, with a fresh random id, kept for `ttl`.
    pub(crate) fn new(owner: String, tool: usize, matched: u64, ttl: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            id: random_id(),
            owner,
            tool,
            matched,
            created: now,
            ttl,
            state: Mutex::new(State {
                status: Status::Working,
                updated: now,
                result: None,
                error: None,
                outstanding: BTreeMap::new(),
            }),
            cancel: Cancel::default(),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the task may be forgotten: finished, and finished longer ago than its time to
    /// live (a running task fails when its time to live runs out, so its status is seen).
    pub(crate) fn expired(&self, now: SystemTime) -> bool {
        let state = self.state();
        state.status != Status::Working
            && now
                .duration_since(state.updated)
                .is_ok_and(|age| age >= self.ttl)
    }

    /// How long a shared store keeps the task's record from now: its time to live, counted
    /// from its last change once finished.
    pub(crate) fn keep(&self) -> Duration {
        let state = self.state();
        let since = if state.status == Status::Working {
            self.created
        } else {
            state.updated
        };
        let age = SystemTime::now().duration_since(since).unwrap_or_default();
        self.ttl.saturating_sub(age).max(Duration::from_secs(1))
    }

    /// How long the task may still run before it fails as timed out.
    pub(crate) fn remaining(&self) -> Duration {
        let age = SystemTime::now()
            .duration_since(self.created)
            .unwrap_or_default();
        self.ttl.saturating_sub(age)
    }

    /// Completes the task with the tool's result (the first final status stands).
    pub(crate) fn complete(&self, result: Value) {
        self.settle(Status::Completed, Some(result), None);
    }

    /// Fails the task with a JSON-RPC error object.
    pub(crate) fn fail(&self, code: i32, message: String) {
        let error = json!({ "code": code, "message": message });
        self.settle(Status::Failed, None, Some(error));
    }

    /// Fails the task with this JSON-RPC error object.
    pub(crate) fn fail_with(&self, error: Value) {
        self.settle(Status::Failed, None, Some(error));
    }

    /// Cancels the task: it shows as cancelled at once, and its handler is dropped. A task
    /// already done stays as it is (cancellation is cooperative, SEP-2663).
    pub(crate) fn cancel(&self) {
        if self.settle(Status::Cancelled, None, None) {
            self.cancel.cancel();
        }
    }

    /// Moves to a final status, unless the task already has one. Outstanding requests are
    /// dropped (their waits end). Answers whether it moved.
    fn settle(&self, status: Status, result: Option<Value>, error: Option<Value>) -> bool {
        let mut state = self.state();
        if state.status != Status::Working {
            return false;
        }
        state.status = status;
        state.result = result;
        state.error = error;
        state.outstanding.clear();
        state.updated = SystemTime::now();
        drop(state);
        self.changed.notify_one();
        true
    }

    /// Hands `responses` to the outstanding requests they answer. Keys that are not outstanding
    /// (never asked, already answered) are ignored, as SEP-2663 asks; an answer that is not
    /// the result its request asked for refuses the whole update, delivering none.
    pub(crate) fn answer(&self, responses: &Map<String, Value>) -> Result<(), MalformedAnswer> {
        let mut state = self.state();
        for (key, answer) in responses {
            if let Some(outstanding) = state.outstanding.get(key)
                && !outstanding.kind.accepts(answer)
            {
                return Err(MalformedAnswer(key.clone()));
            }
        }
        let mut delivered = false;
        for (key, answer) in responses {
            if let Some(outstanding) = state.outstanding.remove(key) {
                // The handler may have been dropped meanwhile: nothing to deliver to.
                let _ = outstanding.answer.send(answer.clone());
                delivered = true;
            }
        }
        if delivered {
            state.updated = SystemTime::now();
            drop(state);
            self.changed.notify_one();
        }
        Ok(())
    }

    /// The task as `tasks/get` returns it (`DetailedTask`), or with `resultType: "task"` as a
    /// `CreateTaskResult` (which carries no `inputRequests`, `result` or `error`).
    pub(crate) fn to_json(&self, created: bool) -> Value {
        let state = self.state();
        let status = match state.status {
            Status::Working if !state.outstanding.is_empty() => "input_required",
            Status::Working => "working",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        };
        let mut task = json!({
            "taskId": self.id,
            "status": status,
            "createdAt": iso8601(self.created),
            "lastUpdatedAt": iso8601(state.updated),
            "ttlMs": u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX),
            "pollIntervalMs": POLL_INTERVAL_MS,
        });
        if created {
            task["resultType"] = "task".into();
            return task;
        }
        if status == "input_required" {
            let requests: Map<String, Value> = state
                .outstanding
                .iter()
                .map(|(key, o)| (key.clone(), o.request.clone()))
                .collect();
            task["inputRequests"] = requests.into();
        }
        if let Some(result) = &state.result {
            task["result"] = result.clone();
        }
        if let Some(error) = &state.error {
            task["error"] = error.clone();
        }
        task
    }
}

impl TaskInputs for Task {
    fn ask(&self, key: String, kind: InputKind, params: Value) -> oneshot::Receiver<Value> {
        let (answer, receiver) = oneshot::channel();
        let mut state = self.state();
        // A finished task asks nothing: the sender is dropped and the wait ends at once.
        if state.status == Status::Working {
            let request = json!({ "method": kind.method(), "params": params });
            state.outstanding.insert(
                key,
                Outstanding {
                    kind,
                    request,
                    answer,
                },
            );
            state.updated = SystemTime::now();
            drop(state);
            self.changed.notify_one();
        }
        receiver
    }
}

/// A random id (128 bits, hex).
pub(crate) fn random_id() -> String {
    let mut id = [0_u8; 16];
    getrandom::fill(&mut id).expect("the operating system provides randomness");
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// `time` as an RFC 3339 / ISO 8601 UTC timestamp with milliseconds.
pub(crate) fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        assert_eq!(iso8601(t), "2025-11-24T16:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn outstanding_requests_show_until_answered_and_answers_are_checked() {
        let task = Task::new("o".into(), 0, 0, Duration::from_secs(60));
        assert_eq!(task.to_json(false)["status"], "working");
        let first = task.ask("a".into(), InputKind::Elicit, json!({ "message": "A?" }));
        let second = task.ask("b".into(), InputKind::Roots, json!({}));
        let shown = task.to_json(false);
        assert_eq!(shown["status"], "input_required");
        assert_eq!(shown["inputRequests"]["a"]["method"], "elicitation/create");
        assert_eq!(shown["inputRequests"]["b"]["method"], "roots/list");
        // The created form never carries them.
        assert!(task.to_json(true).get("inputRequests").is_none());
        // A malformed answer delivers nothing.
        let bad = json!({ "a": { "action": "accept" }, "b": { "roots": "nope" } });
        assert_eq!(
            task.answer(bad.as_object().unwrap()),
            Err(MalformedAnswer("b".into()))
        );
        assert_eq!(
            task.to_json(false)["inputRequests"]
                .as_object()
                .unwrap()
                .len(),
            2
        );
        // A partial answer, and one nobody asked for.
        let partial = json!({ "a": { "action": "accept", "content": {} }, "zz": {} });
        task.answer(partial.as_object().unwrap()).unwrap();
        assert_eq!(first.await.unwrap()["action"], "accept");
        let shown = task.to_json(false);
        assert_eq!(shown["status"], "input_required");
        assert!(shown["inputRequests"].get("a").is_none());
        assert!(shown["inputRequests"].get("b").is_some());
        task.answer(json!({ "b": { "roots": [] } }).as_object().unwrap())
            .unwrap();
        assert!(second.await.is_ok());
        assert_eq!(task.to_json(false)["status"], "working");
    }

    #[test]
    fn the_first_final_status_stands() {
        let task = Task::new("o".into(), 0, 0, Duration::from_secs(60));
        task.cancel();
        assert!(task.cancel.is_cancelled());
        task.complete(json!({ "content": [] }));
        let shown = task.to_json(false);
        assert_eq!(shown["status"], "cancelled");
        assert!(shown.get("result").is_none());
        let done = Task::new("o".into(), 0, 0, Duration::from_secs(60));
        done.fail(-32603, "boom".into());
        done.cancel();
        assert!(
            !done.cancel.is_cancelled(),
            "a finished task is not cancelled"
        );
        assert_eq!(done.to_json(false)["error"]["code"], -32603);
    }
}
