//! The tasks extension of 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663): a
//! `tools/call` of a task tool goes on as a task once its handler first waits on something
//! other than the client (see `run::settle`), and `tasks/get`, `tasks/update` and
//! `tasks/cancel` follow it. The tasks of this process live in [`Tasks`], bounded, each until
//! its time to live runs out.
//!
//! A task belongs to the principal that started it: to anyone else it does not exist (the same
//! error as an unknown id), and the tool's scopes are checked again on every request about it,
//! so a token that lost them sees nothing more (403, a step-up).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::input::{InputEnd, missing_capability};
use super::json::raw;
use super::params::parse_params;
use super::registry::Core;
use super::reply::Reply;
use super::task::Task;
use crate::handler::{InputRound, Link, TaskInputs};
use crate::principal::Principal;
use crate::protocol::{
    CallToolResult, ErrorObject, Method, RequestId, Response, TASKS_EXTENSION, error_code,
};
use crate::tool::ToolFuture;

/// The tasks of this process, by id.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    by_id: Mutex<HashMap<String, Arc<Task>>>,
}

/// Whose a task is: the caller's issuer, subject and client.
pub(crate) fn owner_key(principal: &Principal) -> String {
    [
        principal.issuer(),
        principal.subject(),
        principal.client_id(),
    ]
    .map(|part| part.unwrap_or(""))
    .join("\n")
}

impl Tasks {
    /// Keeps `task`, unless `max` tasks are already kept (expired ones are forgotten first).
    fn insert(&self, task: Arc<Task>, max: usize) -> bool {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_id.len() >= max {
            let now = SystemTime::now();
            by_id.retain(|_, task| !task.expired(now));
            if by_id.len() >= max {
                return false;
            }
        }
        by_id.insert(task.id.clone(), task);
        true
    }

    /// The live task `id`.
    fn get(&self, id: &str) -> Option<Arc<Task>> {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let task = by_id.get(id)?;
        if task.expired(SystemTime::now()) {
            by_id.remove(id);
            return None;
        }
        Some(Arc::clone(task))
    }
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

    /// Starts task `task` for a handler that went on waiting: kept, its requests to the
    /// client routed to it from now on, and its future run to the end, to its time to live, or
    /// to its cancellation. Answers the `CreateTaskResult`, or the error when too many tasks
    /// are kept (the handler is dropped).
    pub(super) fn start_task(
        &self,
        task: Task,
        round: &InputRound,
        future: ToolFuture,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let task = Arc::new(task);
        if !self
            .inner
            .tasks
            .insert(Arc::clone(&task), self.inner.options.max_tasks)
        {
            return Err(ErrorObject::new(
                error_code::INTERNAL_ERROR,
                "too many tasks are running; try again later",
            ));
        }
        round.detach(Arc::clone(&task) as Arc<dyn TaskInputs>);
        let created = raw(&task.to_json(true));
        let name = self.inner.tools[task.tool].meta.name;
        tokio::spawn(async move {
            let outcome = tokio::select! {
                biased;
                () = task.cancel.cancelled() => return,
                outcome = future => Some(outcome),
                () = tokio::time::sleep(task.remaining()) => None,
            };
            settle(&task, name, outcome);
        });
        Ok(created)
    }

    /// A task for a call whose handler finished at once (a tool whose calls are always tasks).
    pub(super) fn finished_task(
        &self,
        task: Task,
        result: &CallToolResult,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let task = Arc::new(task);
        let name = self.inner.tools[task.tool].meta.name;
        settle(&task, name, Some(Ok(result.clone())));
        if !self
            .inner
            .tasks
            .insert(Arc::clone(&task), self.inner.options.max_tasks)
        {
            return Err(ErrorObject::new(
                error_code::INTERNAL_ERROR,
                "too many tasks are kept; try again later",
            ));
        }
        Ok(raw(&task.to_json(true)))
    }

    /// `tasks/get`, `tasks/update`, `tasks/cancel` (2026-07-28 only): for a client that
    /// declared the extension in this request, about a task of its own, with the tool's scopes.
    pub(super) fn task_request(
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
        let unknown = || error(ErrorObject::new(error_code::INVALID_PARAMS, "unknown task"));
        // Someone else's task is as unknown as one that never was.
        let Some(task) = self
            .inner
            .tasks
            .get(&params.task_id)
            .filter(|task| task.owner == owner_key(principal))
        else {
            return unknown();
        };
        let meta = &self.inner.tools[task.tool].meta;
        if let Err(denial) = self.authorize(&id, "tool", meta.name, meta.scopes, principal) {
            return Reply::Denied(denial);
        }
        let result = match method {
            Method::GetTask => task.to_json(false),
            Method::UpdateTask => {
                let Some(responses) = params.input_responses else {
                    return error(ErrorObject::new(
                        error_code::INVALID_PARAMS,
                        "`inputResponses` is required",
                    ));
                };
                if let Err(malformed) = task.answer(&responses) {
                    return error(ErrorObject::new(
                        error_code::INVALID_PARAMS,
                        format!(
                            "`inputResponses[{}]` is not the result of the request it answers",
                            Value::String(malformed.0)
                        ),
                    ));
                }
                json!({})
            }
            _ => {
                task.cancel();
                json!({})
            }
        };
        Reply::Response(Response::result(id, raw(&result)))
    }
}

/// Records how a task's handler ended: its result (a tool's own error included), or a failure
/// (`None`: it ran out of time).
fn settle(task: &Task, name: &str, outcome: Option<Result<CallToolResult, String>>) {
    match outcome {
        Some(Ok(result)) => match serde_json::to_value(&result) {
            Ok(result) => task.complete(result),
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
