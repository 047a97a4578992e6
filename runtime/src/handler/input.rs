//! One round of a 2026-07-28 input request (SEP-2322, basic/patterns/mrtr): the answers the
//! client brought, and the requests the handler made that no answer covers yet.
//!
//! A handler's future cannot be kept between rounds, so the handler runs again from its start
//! every round. Each request it makes to the client has a key; a key answered in this round or
//! an earlier one (the earlier answers travel in the sealed request state) returns its answer at
//! once, and an unanswered one is recorded here and never completes. The dispatcher sees the
//! recorded requests once the handler stops making progress, drops the handler, and answers
//! with an `InputRequiredResult` asking for them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use tokio::sync::Notify;

use crate::principal::Principal;
use crate::protocol::{Method, ParamsText};

/// The kinds of request a server may make of a client through an input request (2026-07-28
/// mrtr "InputRequests": elicitation, sampling, roots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    Elicit,
    Sample,
    Roots,
}

impl InputKind {
    /// The request's method.
    pub(crate) fn method(self) -> Method {
        match self {
            InputKind::Elicit => Method::Elicit,
            InputKind::Sample => Method::CreateMessage,
            InputKind::Roots => Method::ListRoots,
        }
    }

    /// The client capability the request needs.
    pub(crate) fn capability(self) -> &'static str {
        match self {
            InputKind::Elicit => "elicitation",
            InputKind::Sample => "sampling",
            InputKind::Roots => "roots",
        }
    }

    /// The kind of a request sent by method, when input requests may carry it.
    pub(crate) fn of(method: &str) -> Option<Self> {
        [InputKind::Elicit, InputKind::Sample, InputKind::Roots]
            .into_iter()
            .find(|kind| kind.method().as_str() == method)
    }

    /// Whether `answer` has the shape of this request's result (`ElicitResult`,
    /// `CreateMessageResult`, `ListRootsResult`): the client's answers are checked before a
    /// handler reads them.
    pub(crate) fn accepts(self, answer: &Value) -> bool {
        let Some(answer) = answer.as_object() else {
            return false;
        };
        match self {
            InputKind::Elicit => {
                matches!(
                    answer.get("action").and_then(Value::as_str),
                    Some("accept" | "decline" | "cancel")
                ) && answer.get("content").is_none_or(Value::is_object)
            }
            InputKind::Sample => {
                answer.get("role").is_some_and(Value::is_string)
                    && answer
                        .get("content")
                        .is_some_and(|c| c.is_object() || c.is_array())
            }
            InputKind::Roots => {
                answer
                    .get("roots")
                    .and_then(Value::as_array)
                    .is_some_and(|roots| {
                        roots
                            .iter()
                            .all(|root| root.get("uri").is_some_and(Value::is_string))
                    })
            }
        }
    }
}

/// A request the handler made that no answer covers: asked for in the round's
/// `InputRequiredResult`.
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    pub(crate) key: String,
    pub(crate) kind: InputKind,
    pub(crate) params: Value,
    /// [`question`] of the request: its answer is accepted for this request only.
    pub(crate) question: String,
}

/// What a request asks, as a digest (SHA-256 of its method and params): an answer travels in the
/// sealed state with the question it answered, and counts only for that question. A handler
/// whose question changed between rounds (different params under the same key) is asked again.
pub(crate) fn question(kind: InputKind, params: &Value) -> String {
    use base64::Engine as _;
    let text = format!("{}\n{params}", kind.method().as_str());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// An answer the round holds: the client's result, and the question it answered.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) result: Value,
    pub(crate) question: String,
}

/// Where the requests of a call that went on as a task go: its task, which shows them in
/// `tasks/get` and hands back what `tasks/update` answers (the handler waits, alive).
pub(crate) trait TaskInputs: Send + Sync + std::fmt::Debug {
    /// Shows request `key` as outstanding; the receiver gets its answer, already checked to be
    /// of `kind`'s shape.
    fn ask(
        &self,
        key: String,
        kind: InputKind,
        params: Value,
    ) -> tokio::sync::oneshot::Receiver<Value>;
}

/// What a handler's request to the client comes to in this round.
pub(crate) enum Lookup {
    /// The call went on as a task: the answer comes through the task.
    Wait(tokio::sync::oneshot::Receiver<Value>),
    /// Answered (now or in an earlier round), with an answer of the right shape.
    Answered(Value),
    /// Not answered yet: recorded, to be asked for.
    Asked,
    /// Answered with something that is not the request's result: the round fails.
    Malformed,
}

/// What the handler did in a round.
#[derive(Debug, Default)]
struct Progress {
    /// The answers it read: the next state carries these, and only these.
    used: std::collections::HashMap<String, Answer>,
    /// What it asked for, in order.
    asked: Vec<Asked>,
    /// The key of the first malformed answer it read.
    malformed: Option<String>,
    /// The first capability it needed that the client did not declare.
    missing: Option<&'static str>,
    /// Once the call went on as a task: where its requests go.
    task: Option<std::sync::Arc<dyn TaskInputs>>,
}

impl Progress {
    fn is_waiting(&self) -> bool {
        !self.asked.is_empty() || self.malformed.is_some() || self.missing.is_some()
    }
}

/// One round of an input request: the answers available, and what the handler asked for.
#[derive(Debug)]
pub(crate) struct InputRound {
    /// What the round's state is bound to (the dispatcher's digest of the caller, request and
    /// arguments): the next state is bound to it too. Worked out from `deferred` when first
    /// asked for, which a first round whose handler asks the client nothing never is.
    bind: std::sync::OnceLock<String>,
    /// What a first round's binding is worked out from (kept in the round itself: a boxed
    /// closure was one allocation more for every 2026-07-28 call).
    deferred: Option<DeferredBind>,
    /// The id of the state the client presented, and how long it lives: recorded as used
    /// before the handler runs.
    presented: Option<(String, std::time::Duration)>,
    /// Answers from earlier rounds (from the sealed state) and this round's `inputResponses` to
    /// the requests the previous round asked (nothing else: an answer to a question never
    /// asked is ignored, as mrtr asks).
    answers: std::collections::HashMap<String, Answer>,
    /// What the handler did this round, under one lock.
    progress: Mutex<Progress>,
    /// Woken when the handler asks for something, for a handler that asks from a task of its own.
    wanted: Notify,
    /// Numbers the requests made without a key of their own.
    next_auto: AtomicU32,
    /// Whether the call may go on as a task (a task tool, a client that supports tasks).
    may_detach: std::sync::atomic::AtomicBool,
    /// Set when the round is over (answered, or dropped): a request still waiting on it (made
    /// from a task the handler spawned) then fails instead of waiting forever.
    over: std::sync::atomic::AtomicBool,
    ended: Notify,
}

/// What a first round's binding is worked out from, when needed: the request's params as the
/// transport kept them, its caller and method, and the dispatcher's digest of them (`digest`:
/// the handler layer does not compute it).
#[derive(Debug)]
pub(crate) struct DeferredBind {
    pub(crate) text: ParamsText,
    pub(crate) principal: Principal,
    pub(crate) method: Method,
    /// The member of the params that names the target (`name`, `uri`).
    pub(crate) target_key: &'static str,
    pub(crate) digest: fn(&DeferredBind) -> String,
}

impl InputRound {
    pub(crate) fn new(
        bind: String,
        presented: Option<(String, std::time::Duration)>,
        answers: std::collections::HashMap<String, Answer>,
    ) -> Self {
        Self::with(std::sync::OnceLock::from(bind), None, presented, answers)
    }

    /// A first round: no state presented, no answers, its binding worked out from `deferred`
    /// when needed.
    pub(crate) fn first(deferred: DeferredBind) -> Self {
        Self::with(
            std::sync::OnceLock::new(),
            Some(deferred),
            None,
            std::collections::HashMap::new(),
        )
    }

    fn with(
        bind: std::sync::OnceLock<String>,
        deferred: Option<DeferredBind>,
        presented: Option<(String, std::time::Duration)>,
        answers: std::collections::HashMap<String, Answer>,
    ) -> Self {
        Self {
            bind,
            deferred,
            presented,
            answers,
            progress: Mutex::new(Progress::default()),
            wanted: Notify::new(),
            next_auto: AtomicU32::new(1),
            may_detach: std::sync::atomic::AtomicBool::new(false),
            over: std::sync::atomic::AtomicBool::new(false),
            ended: Notify::new(),
        }
    }

    /// The round is over: the requests still waiting on it give up.
    pub(crate) fn end(&self) {
        self.over.store(true, Ordering::SeqCst);
        self.ended.notify_waiters();
    }

    /// Completes once the round is over (see [`Self::end`]).
    pub(crate) async fn over(&self) {
        loop {
            let notified = self.ended.notified();
            if self.over.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Lets the call go on as a task.
    pub(crate) fn allow_detach(&self) {
        self.may_detach.store(true, Ordering::Relaxed);
    }

    /// Whether the call may go on as a task and has not yet.
    pub(crate) fn may_detach(&self) -> bool {
        self.may_detach.load(Ordering::Relaxed) && !self.is_detached()
    }

    /// The call went on as a task: from now on its requests go to `task`.
    pub(crate) fn detach(&self, task: std::sync::Arc<dyn TaskInputs>) {
        lock(&self.progress).task = Some(task);
    }

    /// Whether the call went on as a task.
    pub(crate) fn is_detached(&self) -> bool {
        lock(&self.progress).task.is_some()
    }

    /// What the round's state is bound to.
    pub(crate) fn bind(&self) -> &str {
        self.bind.get_or_init(|| {
            self.deferred
                .as_ref()
                .map_or_else(String::new, |deferred| (deferred.digest)(deferred))
        })
    }

    /// The id of the state the client presented, with its remaining life.
    pub(crate) fn presented(&self) -> Option<&(String, std::time::Duration)> {
        self.presented.as_ref()
    }

    /// The next key for a request made without one: `input-1`, `input-2`, … in the order the
    /// handler makes them, which is the same every round as long as the handler's path depends
    /// only on its arguments and answers.
    pub(crate) fn auto_key(&self) -> String {
        format!("input-{}", self.next_auto.fetch_add(1, Ordering::Relaxed))
    }

    /// The answer to request `key`, or a note that it must be asked for (`params`).
    pub(crate) fn lookup(&self, key: &str, kind: InputKind, params: Value) -> Lookup {
        let asking = question(kind, &params);
        let mut progress = lock(&self.progress);
        // An answer counts for the question it answered; a changed question is asked again.
        if let Some(answer) = self.answers.get(key).filter(|a| a.question == asking) {
            if kind.accepts(&answer.result) {
                progress.used.insert(key.to_owned(), answer.clone());
                return Lookup::Answered(answer.result.clone());
            }
            progress.malformed.get_or_insert_with(|| key.to_owned());
            drop(progress);
            self.wanted.notify_one();
            return Lookup::Malformed;
        }
        if let Some(task) = progress.task.clone() {
            drop(progress);
            return Lookup::Wait(task.ask(key.to_owned(), kind, params));
        }
        // A key asked twice in one round is asked once: the first request stands.
        if !progress.asked.iter().any(|a| a.key == key) {
            progress.asked.push(Asked {
                key: key.to_owned(),
                kind,
                params,
                question: asking,
            });
        }
        drop(progress);
        self.wanted.notify_one();
        Lookup::Asked
    }

    /// Notes that the handler needs `capability`, which the client did not declare: the round
    /// ends with the error that says so (2026-07-28, "Missing Required Client Capability"),
    /// whatever else the handler asked.
    pub(crate) fn needs_capability(&self, capability: &'static str) {
        lock(&self.progress).missing.get_or_insert(capability);
        self.wanted.notify_one();
    }

    /// The capability the handler needed and the client lacks, if any.
    pub(crate) fn missing(&self) -> Option<&'static str> {
        lock(&self.progress).missing
    }

    /// Whether the handler is waiting on the client (or read a malformed answer, or needs a
    /// capability the client lacks): once it has stopped making progress, the round is over.
    pub(crate) fn is_waiting(&self) -> bool {
        lock(&self.progress).is_waiting()
    }

    /// Completes once the handler asks for something (see [`Self::is_waiting`]).
    pub(crate) async fn waiting(&self) {
        loop {
            let notified = self.wanted.notified();
            if self.is_waiting() {
                return;
            }
            notified.await;
        }
    }

    /// The key of the malformed answer the handler read, if any.
    pub(crate) fn malformed(&self) -> Option<String> {
        lock(&self.progress).malformed.clone()
    }

    /// What the handler asked for this round, in the order it asked.
    pub(crate) fn asked(&self) -> Vec<Asked> {
        lock(&self.progress).asked.clone()
    }

    /// The answers the handler read this round.
    pub(crate) fn used(&self) -> std::collections::HashMap<String, Answer> {
        lock(&self.progress).used.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// Answers to requests of `kind` with empty params, keyed.
    fn answers(entries: &[(&str, InputKind, Value)]) -> HashMap<String, Answer> {
        entries
            .iter()
            .map(|(key, kind, result)| {
                let answer = Answer {
                    result: result.clone(),
                    question: question(*kind, &json!({})),
                };
                ((*key).to_owned(), answer)
            })
            .collect()
    }

    #[test]
    fn answers_are_read_once_checked_and_unanswered_requests_recorded() {
        let round = InputRound::new(
            String::new(),
            None,
            answers(&[
                (
                    "name",
                    InputKind::Elicit,
                    json!({ "action": "accept", "content": { "name": "Ada" } }),
                ),
                (
                    "model",
                    InputKind::Sample,
                    json!({ "role": "assistant", "content": { "type": "text", "text": "Paris" } }),
                ),
                (
                    "roots",
                    InputKind::Roots,
                    json!({ "roots": [{ "uri": "file:///w" }] }),
                ),
                ("extra", InputKind::Elicit, json!({ "action": "accept" })),
            ]),
        );
        assert!(matches!(
            round.lookup("name", InputKind::Elicit, json!({})),
            Lookup::Answered(a) if a["content"]["name"] == "Ada"
        ));
        assert!(matches!(
            round.lookup("model", InputKind::Sample, json!({})),
            Lookup::Answered(_)
        ));
        assert!(matches!(
            round.lookup("roots", InputKind::Roots, json!({})),
            Lookup::Answered(_)
        ));
        assert!(!round.is_waiting());
        assert!(matches!(
            round.lookup("later", InputKind::Elicit, json!({ "message": "a" })),
            Lookup::Asked
        ));
        assert!(matches!(
            round.lookup("later", InputKind::Elicit, json!({ "message": "b" })),
            Lookup::Asked
        ));
        assert!(round.is_waiting());
        let asked = round.asked();
        assert_eq!(asked.len(), 1, "a key asked twice is asked once");
        assert_eq!(asked[0].params["message"], "a");
        assert_eq!(
            asked[0].question,
            question(InputKind::Elicit, &json!({ "message": "a" }))
        );
        // Only what was read travels on: `extra` was never asked for.
        let mut used: Vec<String> = round.used().into_keys().collect();
        used.sort();
        assert_eq!(used, ["model", "name", "roots"]);
    }

    #[test]
    fn an_answer_counts_only_for_the_question_it_answered() {
        let round = InputRound::new(
            String::new(),
            None,
            answers(&[("confirm", InputKind::Elicit, json!({ "action": "accept" }))]),
        );
        // The same key, another question (other params, or another kind): asked again.
        assert!(matches!(
            round.lookup(
                "confirm",
                InputKind::Elicit,
                json!({ "message": "Delete 300 notes?" })
            ),
            Lookup::Asked
        ));
        assert!(matches!(
            round.lookup("confirm", InputKind::Sample, json!({})),
            Lookup::Asked
        ));
        assert!(round.used().is_empty());
    }

    #[test]
    fn an_answer_of_the_wrong_shape_is_malformed() {
        for (kind, answer) in [
            (InputKind::Elicit, json!(12345)),
            (InputKind::Elicit, json!({ "action": "maybe" })),
            (
                InputKind::Elicit,
                json!({ "action": "accept", "content": "x" }),
            ),
            (InputKind::Sample, json!({ "action": "accept" })),
            (InputKind::Roots, json!({ "roots": [{ "name": "no uri" }] })),
            (InputKind::Roots, json!({ "roots": "file:///" })),
        ] {
            let round =
                InputRound::new(String::new(), None, answers(&[("k", kind, answer.clone())]));
            assert!(
                matches!(round.lookup("k", kind, json!({})), Lookup::Malformed),
                "{kind:?} accepted {answer}"
            );
            assert_eq!(round.malformed().as_deref(), Some("k"));
            assert!(round.is_waiting());
            assert!(round.used().is_empty());
        }
    }

    #[test]
    fn automatic_keys_follow_the_order_of_the_requests() {
        let round = InputRound::new(String::new(), None, HashMap::new());
        assert_eq!(round.auto_key(), "input-1");
        assert_eq!(round.auto_key(), "input-2");
        assert_eq!(InputKind::of("roots/list"), Some(InputKind::Roots));
        assert_eq!(InputKind::of("tools/call"), None);
    }

    #[tokio::test]
    async fn waiting_completes_when_a_request_is_made_from_another_task() {
        let round = std::sync::Arc::new(InputRound::new(String::new(), None, HashMap::new()));
        let asker = std::sync::Arc::clone(&round);
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            asker.lookup("k", InputKind::Roots, json!({}));
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), round.waiting())
            .await
            .expect("woken");
        task.await.expect("joined");
        assert_eq!(round.asked().len(), 1);
    }
}
