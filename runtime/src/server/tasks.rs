//! The tasks extension of 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663): a
//! `tools/call` of a task tool goes on as a task once its handler first waits on something
//! other than the client (see `run::settle`), and `tasks/get`, `tasks/update` and
//! `tasks/cancel` follow it. The tasks of this process live in [`Tasks`], bounded, each until
//! its time to live runs out.
//!
//! A task belongs to the principal that started it: to anyone else it does not exist (the same
//! error as an unknown id), and the tool's scopes are checked again on every request about it,
//! so a token that lost them sees nothing more (403, a step-up).
//!
//! With replicas, the replica running a task writes its record to the [`TaskStore`] on every
//! change and renews its lease; another replica answers `tasks/get` from the record (a running
//! task whose lease ran out belonged to a replica that died: it is reported failed), and hands
//! `tasks/update` and `tasks/cancel` to the runner through the event bus.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::bus::Event;
use super::input::{InputEnd, malformed_answer, missing_capability};
use super::json::raw;
use super::params::parse_params;
use super::registry::Core;
use super::reply::Reply;
use super::task::{Task, iso8601};
use super::task_store::{TaskRecord, millis};
use crate::handler::{InputKind, InputRound, Link, Refused, RequestContext, TaskInputs};
use crate::principal::Principal;
use crate::protocol::{
    CallToolResult, ErrorObject, Method, RequestId, Response, TASKS_EXTENSION, error_code,
};
use crate::tool::ToolFuture;

/// Whose a task is: the caller's issuer, subject and client, each length-prefixed so that no
/// two callers share a key. `None` for an authenticated caller without a subject (an
/// introspection answer or a custom verifier may give none): every such caller of one client
/// would share every task, so they get none (as they get no session). An anonymous caller
/// (authorization off) has no identity to tell callers apart: its tasks are told apart by their
/// random ids alone.
pub(crate) fn owner_key(principal: &Principal) -> Option<String> {
    if principal.subject().is_none() && !principal.is_anonymous() {
        return None;
    }
    let mut key = String::new();
    for part in [
        principal.issuer(),
        principal.subject(),
        principal.client_id(),
    ] {
        let part = part.unwrap_or("");
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    Some(key)
}

/// How a call became a task: its handler still running, or done at once.
pub(super) enum TaskStart {
    /// Its round, its handler's future, the request's context (a refused run-time demand
    /// fails the task) and the caller.
    Running(Arc<InputRound>, ToolFuture, RequestContext, Principal),
    Finished(CallToolResult),
}

/// The error of a request that needs the tasks extension the client did not declare.
pub(crate) fn tasks_required() -> ErrorObject {
    missing_capability(json!({ "extensions": { TASKS_EXTENSION: {} } }))
}

impl Core {
    /// Whether any tool may run as a task: the server then offers the extension.
    pub(super) fn offers_tasks(&self) -> bool {
        self.inner
            .tools
            .iter()
            .any(|tool| tool.meta.task != crate::tool::TaskSupport::Never)
    }

    /// The answer to a `tools/call` that became task `task`: started from its handler's future,
    /// or done at once. Boxed, and everything it needs moved in: this rare path must not make
    /// every call's future larger.
    pub(super) fn task_reply(
        &self,
        id: RequestId,
        task: Task,
        start: TaskStart,
    ) -> std::pin::Pin<Box<dyn Future<Output = Reply> + Send + '_>> {
        Box::pin(async move {
            let created = match start {
                TaskStart::Running(round, future, context, principal) => {
                    self.start_task(task, round, future, (context, principal))
                        .await
                }
                TaskStart::Finished(result) => self.finished_task(task, &result).await,
            };
            Reply::Response(match created {
                Ok(created) => Response::result(id, created),
                Err(error) => Response::error(Some(id), error),
            })
        })
    }

    /// Whether a task of `owner` would be kept now: checked before a task tool's handler runs,
    /// so that a call refused for want of room has done nothing.
    pub(super) fn task_room(&self, owner: &str) -> bool {
        let options = &self.inner.options;
        self.inner
            .tasks
            .has_room(owner, options.max_tasks, options.max_tasks_per_principal)
    }

    /// Keeps `task` among this process's tasks, unless as many as `max_tasks` are kept, or as
    /// many as `max_tasks_per_principal` of its owner's.
    fn keep(&self, task: Task) -> Result<Arc<Task>, ErrorObject> {
        let task = Arc::new(task);
        if self.inner.tasks.insert(
            Arc::clone(&task),
            self.inner.options.max_tasks,
            self.inner.options.max_tasks_per_principal,
        ) {
            Ok(task)
        } else {
            Err(too_many_tasks())
        }
    }

    /// Starts task `task` for a handler that went on waiting: kept (and, with a task store,
    /// written there before it is announced: SEP-2663 wants it readable at once), its requests
    /// to the client routed to it from now on, and its future run to the end, to its time to
    /// live, or to its cancellation. Answers the `CreateTaskResult`, or the error when too many
    /// tasks are kept or the store did not answer (the handler is dropped).
    ///
    /// Everything past keeping the task runs in a task of its own: a client that goes away
    /// while the record is written drops only its wait for the answer, never a task half
    /// started (kept, but with nobody to run or end it).
    async fn start_task(
        &self,
        task: Task,
        round: Arc<InputRound>,
        future: ToolFuture,
        caller: (RequestContext, Principal),
    ) -> Result<Box<RawValue>, ErrorObject> {
        let task = self.keep(task)?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let core = self.clone();
        tokio::spawn(async move {
            if let Err(error) = core.persist(&task).await {
                core.inner.tasks.remove(&task.id);
                let _ = answer.send(Err(error));
                return;
            }
            round.detach(Arc::clone(&task) as Arc<dyn TaskInputs>);
            let _ = answer.send(Ok(raw(&task.to_json(true))));
            core.run_task(task, future, caller).await;
        });
        answered.await.unwrap_or_else(|_| {
            Err(ErrorObject::new(
                error_code::INTERNAL_ERROR,
                "the task could not be started",
            ))
        })
    }

    /// Runs a task's handler to its end, its time to live or its cancellation, writing its
    /// record to the task store (if any) on every change and renewing its lease.
    async fn run_task(
        self,
        task: Arc<Task>,
        future: ToolFuture,
        (context, principal): (RequestContext, Principal),
    ) {
        let name = self.inner.tools[task.tool].meta.name;
        let shared = self.inner.options.task_store.is_some();
        let renew = (self.inner.options.task_lease / 3).max(std::time::Duration::from_millis(10));
        let mut future = std::pin::pin!(future);
        let deadline = tokio::time::sleep(task.remaining());
        let mut deadline = std::pin::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                () = task.cancel.cancelled() => break,
                outcome = &mut future => {
                    match context.refused() {
                        Some(refused) => self.refuse_task(&task, &context, refused, &principal),
                        None => settle(&task, name, Some(outcome)),
                    }
                    break;
                }
                () = &mut deadline => {
                    settle(&task, name, None);
                    break;
                }
                () = task.changed.notified() => self.announce(&task),
                () = tokio::time::sleep(renew), if shared => {}
            }
            let _ = self.persist(&task).await;
        }
        self.announce(&task);
        let _ = self.persist(&task).await;
    }

    /// Fails a task whose handler demanded scopes the caller lacks: the error carries the
    /// step-up challenge in its `data` (a task's result is no place for a 403).
    fn refuse_task(
        &self,
        task: &Task,
        context: &RequestContext,
        refused: &Refused,
        principal: &Principal,
    ) {
        let meta = self.inner.tools[task.tool].meta;
        let target = super::authorize::Target::tool(meta);
        let response = match self.refusal(context.request_id(), target, refused, principal) {
            Ok(denial) => denial.to_response_with_challenge(&self.in_band_challenge(&denial)),
            Err(response) => response,
        };
        if let Some(error) = response.error_object() {
            task.fail_with(serde_json::to_value(error).unwrap_or_default());
        }
    }

    /// Tells the subscriptions that follow `task`, here and on every other replica, of its state.
    fn announce(&self, task: &Task) {
        let state = task.to_json(false);
        let tool = self.inner.tools[task.tool].meta.name;
        self.notify_task_listeners(&task.owner, tool, &state);
        self.publish(Event::TaskChanged {
            owner: task.owner.clone(),
            tool: tool.to_owned(),
            task: state,
        });
    }

    /// The tasks of `ids` that `principal` started (here or, with a task store, on any
    /// replica): those a subscription may follow.
    pub(super) async fn agree_tasks(
        &self,
        ids: &[String],
        principal: &Principal,
    ) -> std::collections::HashSet<String> {
        let mut agreed = std::collections::HashSet::new();
        let Some(owner) = owner_key(principal) else {
            return agreed;
        };
        // Task ids are this server's (32 hex digits): anything else names no task, and each is
        // looked up once.
        let ids: std::collections::BTreeSet<&String> = ids
            .iter()
            .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        for id in ids {
            let mine = match self.inner.tasks.get(id) {
                Some(task) => task.owner == owner,
                None => {
                    matches!(self.stored_task(id).await, Ok(Some(record)) if record.owner == owner)
                }
            };
            if mine {
                agreed.insert(id.clone());
            }
        }
        agreed
    }

    /// Writes task `task`'s record to the task store, if there is one, with a fresh lease. When
    /// the store already holds a final status for it (another replica cancelled it, or found
    /// its lease run out), that status stands and the handler here is dropped.
    async fn persist(&self, task: &Task) -> Result<(), ErrorObject> {
        let Some(store) = &self.inner.options.task_store else {
            return Ok(());
        };
        let record = TaskRecord {
            owner: task.owner.clone(),
            tool: self.inner.tools[task.tool].meta.name.to_owned(),
            matched: task.matched,
            lease_until: millis(
                SystemTime::now()
                    .checked_add(self.inner.options.task_lease)
                    .unwrap_or_else(SystemTime::now),
            ),
            task: task.to_json(false),
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        match store.put(&task.id, &text, task.keep()).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                task.cancel();
                Ok(())
            }
            Err(e) => Err(store_unavailable(&e)),
        }
    }

    /// A task for a call whose handler finished at once (a tool whose calls are always tasks).
    async fn finished_task(
        &self,
        task: Task,
        result: &CallToolResult,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let name = self.inner.tools[task.tool].meta.name;
        settle(&task, name, Some(Ok(result.clone())));
        let task = self.keep(task)?;
        if let Err(error) = self.persist(&task).await {
            self.inner.tasks.remove(&task.id);
            return Err(error);
        }
        Ok(raw(&task.to_json(true)))
    }

    /// `tasks/get`, `tasks/update`, `tasks/cancel` (2026-07-28 only): for a client that
    /// declared the extension in this request, about a task of its own, with the tool's scopes.
    /// A task this process does not run is looked up in the task store.
    pub(super) async fn task_request(
        &self,
        id: RequestId,
        method: &Method,
        params: Option<&RawValue>,
        principal: &Principal,
        link: &Link,
    ) -> Reply {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TaskParams {
            task_id: String,
            #[serde(default)]
            input_responses: Option<Map<String, Value>>,
        }
        let error = |error: ErrorObject| Reply::Response(Response::error(Some(id.clone()), error));
        if !link.connection.client_supports_extension(TASKS_EXTENSION) {
            return InputEnd::MissingCapability(tasks_required()).reply(&id);
        }
        let params: TaskParams = match parse_params(params) {
            Ok(params) => params,
            Err(e) => return error(e),
        };
        if *method == Method::UpdateTask && params.input_responses.is_none() {
            return error(ErrorObject::new(
                error_code::INVALID_PARAMS,
                "`inputResponses` is required",
            ));
        }
        // A caller with no owner key has no task; someone else's task is as unknown as one that
        // never was.
        let owner = owner_key(principal).unwrap_or_default();
        let found = match self.inner.tasks.get(&params.task_id) {
            Some(task) => (task.owner == owner).then_some(Found::Here(task)),
            None => match self.stored_task(&params.task_id).await {
                Ok(record) => record
                    .filter(|record| record.owner == owner)
                    .map(Found::Elsewhere),
                Err(e) => return error(e),
            },
        };
        let Some(found) = found else {
            return error(ErrorObject::new(error_code::INVALID_PARAMS, "unknown task"));
        };
        let tool = match &found {
            Found::Here(task) => Some(task.tool),
            Found::Elsewhere(record) => self.inner.by_name.get(record.tool.as_str()).copied(),
        };
        let Some(meta) = tool.map(|tool| &self.inner.tools[tool].meta) else {
            return error(ErrorObject::new(error_code::INVALID_PARAMS, "unknown task"));
        };
        let target = super::authorize::Target::tool(meta);
        let matched = match &found {
            Found::Here(task) => task.matched,
            Found::Elsewhere(record) => record.matched,
        };
        let authorized = self
            .authorize(&id, target, principal)
            .and_then(|()| match matched {
                0 => Ok(()),
                matched => self.authorize_when(&id, target, matched, principal),
            });
        if let Err(denial) = authorized {
            return Reply::Denied(denial);
        }
        let responses = params.input_responses.unwrap_or_default();
        let result = match (method, found) {
            (Method::GetTask, Found::Here(task)) => task.to_json(false),
            (Method::GetTask, Found::Elsewhere(record)) => record.task,
            (Method::UpdateTask, Found::Here(task)) => match task.answer(&responses) {
                Ok(()) => json!({}),
                Err(malformed) => return error(malformed_answer(&malformed.0)),
            },
            (Method::UpdateTask, Found::Elsewhere(record)) => {
                if let Some(key) = malformed_for(&record, &responses) {
                    return error(malformed_answer(&key));
                }
                self.publish(Event::AnswerTask {
                    task: params.task_id,
                    responses,
                });
                json!({})
            }
            (_, Found::Here(task)) => {
                task.cancel();
                json!({})
            }
            (_, Found::Elsewhere(mut record)) => {
                if record.is_running() {
                    // Seen cancelled at once by every replica; the runner drops the handler.
                    record.task["status"] = "cancelled".into();
                    record.task["lastUpdatedAt"] = iso8601(SystemTime::now()).into();
                    if let Some(task) = record.task.as_object_mut() {
                        task.remove("inputRequests");
                    }
                    if let Err(e) = self.store_record(&params.task_id, &record).await {
                        return error(e);
                    }
                    self.publish(Event::CancelTask {
                        task: params.task_id,
                    });
                }
                json!({})
            }
        };
        Reply::Response(Response::result(id, raw(&result)))
    }

    /// Task `id`'s record in the task store (none without a store). A running task whose
    /// lease ran out is reported, and recorded, failed: its replica died.
    async fn stored_task(&self, id: &str) -> Result<Option<TaskRecord>, ErrorObject> {
        let Some(store) = &self.inner.options.task_store else {
            return Ok(None);
        };
        let Some(text) = store.get(id).await.map_err(|e| store_unavailable(&e))? else {
            return Ok(None);
        };
        let Ok(mut record) = serde_json::from_str::<TaskRecord>(&text) else {
            return Ok(None);
        };
        if record.abandoned(SystemTime::now()) {
            record.task["status"] = "failed".into();
            record.task["lastUpdatedAt"] = iso8601(SystemTime::now()).into();
            record.task["error"] = json!({
                "code": error_code::INTERNAL_ERROR,
                "message": "the replica running the task stopped",
            });
            if let Some(task) = record.task.as_object_mut() {
                task.remove("inputRequests");
            }
            self.store_record(id, &record).await?;
        }
        Ok(Some(record))
    }

    /// Writes a record this process changed for a task it does not run.
    async fn store_record(&self, id: &str, record: &TaskRecord) -> Result<(), ErrorObject> {
        let Some(store) = &self.inner.options.task_store else {
            return Ok(());
        };
        let text = serde_json::to_string(record).unwrap_or_default();
        store
            .put(id, &text, self.inner.options.task_ttl)
            .await
            .map(drop)
            .map_err(|e| store_unavailable(&e))
    }

    /// Another replica's `tasks/cancel` for a task this process runs.
    pub(super) fn cancel_local_task(&self, id: &str) {
        if let Some(task) = self.inner.tasks.get(id) {
            task.cancel();
        }
    }

    /// Another replica's `tasks/update` for a task this process runs (checked there).
    pub(super) fn answer_local_task(&self, id: &str, responses: &Map<String, Value>) {
        if let Some(task) = self.inner.tasks.get(id) {
            let _ = task.answer(responses);
        }
    }
}

/// Where a task was found: run by this process, or by another (its record).
enum Found {
    Here(Arc<Task>),
    Elsewhere(TaskRecord),
}

/// A call refused for want of room: as many tasks are kept as the options allow.
pub(super) fn too_many_tasks() -> ErrorObject {
    ErrorObject::new(
        error_code::INTERNAL_ERROR,
        "too many tasks are kept; try again later",
    )
}

/// The task store did not answer (logged).
fn store_unavailable(error: &crate::server::StoreError) -> ErrorObject {
    tracing::warn!(target: "scopegate::tasks", %error, "task store unavailable");
    ErrorObject::new(
        error_code::INTERNAL_ERROR,
        "the task store did not answer; try again",
    )
}

/// The first answer in `responses` to an outstanding request of `record` that is not that
/// request's result.
fn malformed_for(record: &TaskRecord, responses: &Map<String, Value>) -> Option<String> {
    let outstanding = record.task.get("inputRequests")?.as_object()?;
    responses.iter().find_map(|(key, answer)| {
        let method = outstanding.get(key)?.get("method")?.as_str()?;
        let kind = InputKind::of(method)?;
        (!kind.accepts(answer)).then(|| key.clone())
    })
}

/// Records how a task's handler ended: its result (a tool's own error included), or a failure
/// (`None`: it ran out of time).
fn settle(task: &Task, name: &str, outcome: Option<Result<CallToolResult, String>>) {
    match outcome {
        Some(Ok(result)) => match serde_json::to_value(&result) {
            // The call's own result as a 2026-07-28 `tools/call` would answer it: a complete
            // `CallToolResult` carries its `resultType` (clients check it, e.g. ext-tasks).
            Ok(mut result) => {
                result["resultType"] = "complete".into();
                task.complete(result);
            }
            Err(e) => task.fail(
                error_code::INTERNAL_ERROR,
                format!("the result of tool `{name}` could not be serialized: {e}"),
            ),
        },
        Some(Err(panic)) => {
            tracing::error!(target: "scopegate::tool", tool = name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "task panicked");
            task.fail(
                error_code::INTERNAL_ERROR,
                format!("tool `{name}` failed with an internal error"),
            );
        }
        None => task.fail(
            error_code::INTERNAL_ERROR,
            format!("tool `{name}` ran past its task's time to live"),
        ),
    }
}
