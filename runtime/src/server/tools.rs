//! Tools: `tools/list`, `tools/call`, and a tool's list entry.

use std::borrow::Borrow;

use serde_json::value::RawValue;

use super::authorize::Target;
use super::complete::Complete;
use super::input::InputEnd;
use super::params::NamedParams;
use super::registry::Core;
use super::reply::Reply;
use super::run::{Failure, run};
use super::task::Task;
use super::tasks::{TaskStart, owner_key, tasks_required, too_many_tasks};
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::{
    CallRead, CallToolResult, ErrorObject, ModernParams, RawJson, RequestId, Response,
    TASKS_EXTENSION, error_code,
};
use crate::tool::TaskSupport;

impl Core {
    pub(super) fn list_tools(
        &self,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Result<Box<RawValue>, ErrorObject> {
        self.list_for(
            "tools",
            &self.inner.list_pages,
            self.inner
                .tools
                .iter()
                .map(|t| ((t.meta.scopes, t.meta.rules.any_scopes), &*t.json)),
            params,
            principal,
        )
    }

    /// `tools/call`. The server and the principal are borrowed (`&Core`, `&Principal`) or
    /// owned (`Core`, `Principal`): owned, the future is `'static`, and a transport that may
    /// hand it on to a task of its own boxes it as it is, with no block around it to own them
    /// (see [`Core::handle_in`]).
    // Not an `async fn`, which would keep its arguments twice (see `http::endpoint`).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn call_tool<'a>(
        core: impl Borrow<Core> + Send + 'a,
        id: RequestId,
        // The raw params, or the name and arguments read with the message (`Message::read`).
        (params, call): (Option<Box<RawValue>>, Option<CallRead>),
        modern: Option<Box<ModernParams>>,
        principal: impl Borrow<Principal> + Send + 'a,
        link: Link,
    ) -> impl Future<Output = Reply> + Send + 'a {
        async move {
            let this: &Core = core.borrow();
            let principal: &Principal = principal.borrow();
            // Taken apart at once: the params whole, or the lookup's result, kept as locals
            // would take room in this future across its awaits.
            let (arguments, request_meta, index) = match NamedParams::find(
                params.as_deref(),
                modern
                    .and_then(|modern| modern.named)
                    .or_else(|| call.and_then(|call| call.into_named())),
                &this.inner.by_name,
                "tool",
                &id,
            ) {
                Ok((params, index)) => (params.arguments, params.meta, index),
                Err(reply) => return reply,
            };
            let tool = &this.inner.tools[index];
            let meta = tool.meta;

            if let Err(denial) = this.authorize(&id, Target::tool(meta), principal) {
                return Reply::Denied(denial);
            }
            // Counted once the caller's scopes pass, before anything of the call runs.
            if let Some(quota) = meta.quota
                && let Err(refusal) =
                    Box::pin(this.take_quota(&id, index, meta, quota, principal)).await
            {
                return refusal;
            }

            let arguments = arguments.unwrap_or_default();
            let mut problems: Vec<String> = arguments
                .keys()
                .filter(|key| !tool.arguments.contains(key))
                .map(|key| format!("`{key}`: unknown argument"))
                .collect();
            // A header parameter carries only what every client mirrors exactly (SEP-2243).
            for param in &tool.headers {
                if arguments
                    .get(param.name)
                    .is_some_and(crate::schema::unsafe_header_integer)
                {
                    problems.push(format!(
                        "`{}`: outside the integers a header parameter may carry (±{})",
                        param.name,
                        crate::schema::MAX_HEADER_INTEGER
                    ));
                }
            }
            // The tasks extension (2026-07-28): a task tool's call may go on as a task when the
            // client declared the extension in this request; a tool whose calls are always
            // tasks refuses any other client.
            // The task's owner must be a caller told apart from others, and have room for one
            // more task: checked before the handler runs, so a refused call has done nothing
            // (a tool that may answer at once then does).
            let declared = meta.task != TaskSupport::Never
                && link.input.is_some()
                && link.connection.client_supports_extension(TASKS_EXTENSION);
            if meta.task == TaskSupport::Required && !declared {
                return InputEnd::MissingCapability(tasks_required()).reply(&id);
            }
            let owner = declared.then(|| owner_key(principal)).flatten();
            let tasks = owner.as_deref().is_some_and(|owner| this.task_room(owner));
            if meta.task == TaskSupport::Required && !tasks {
                let error = match owner {
                    None => ErrorObject::new(
                        error_code::INVALID_REQUEST,
                        "a task needs a caller with a subject",
                    ),
                    Some(_) => too_many_tasks(),
                };
                return Reply::Response(Response::error(Some(id), error));
            }
            let round = link.input.clone().filter(|_| tasks);
            if let Some(round) = &round {
                round.allow_detach();
            }
            // A 2026-07-28 call (only those open an input round): its result is written
            // complete at once.
            let modern = link.input.is_some();
            let mut detached = None;
            let mut detach = |future: crate::tool::ToolFuture| detached = Some(future);
            // The generated `call` extracts every parameter (collecting problems), then starts the
            // tool only if no problem was found, unknown arguments included.
            let handlers = &*this.inner.handlers;
            let matched = std::cell::Cell::new(0);
            let outcome = run!(
                this,
                id: &id,
                meta: request_meta,
                link: link,
                name: meta.name,
                target: Target::tool(meta),
                matched: &matched,
                principal: principal,
                arguments: arguments,
                problems: problems,
                strings: false,
                detach: if tasks { Some(&mut detach) } else { None },
                handler: |call| handlers.call_tool(index, call),
            );
            let result = match outcome {
                Some(Ok(result)) => result,
                None => return Reply::Nothing,
                Some(Err(Failure::Detached(context))) => {
                    let (Some(round), Some(future), Some(context)) = (round, detached, context)
                    else {
                        return Reply::Response(Response::error(
                            Some(id),
                            ErrorObject::new(
                                error_code::INTERNAL_ERROR,
                                "the task was not started",
                            ),
                        ));
                    };
                    let task = Task::new(
                        owner.unwrap_or_default(),
                        index,
                        matched.get(),
                        this.inner.options.task_ttl,
                    );
                    return this
                        .task_reply(
                            id,
                            task,
                            TaskStart::Running(round, future, context, principal.clone()),
                        )
                        .await;
                }
                Some(Err(
                    failure @ (Failure::Input(_) | Failure::Denied(_) | Failure::Answered(_)),
                )) => {
                    return failure.reply(&id).unwrap_or(Reply::Nothing);
                }
                Some(Err(Failure::TimedOut)) => failed(meta.name, None),
                Some(Err(Failure::ExtractionPanicked(panic) | Failure::Panicked(panic))) => {
                    failed(meta.name, Some(panic))
                }
            };
            if tasks && meta.task == TaskSupport::Required {
                // Finished at once, but this tool's calls are tasks: a task already done.
                let task = Task::new(
                    owner.unwrap_or_default(),
                    index,
                    matched.get(),
                    this.inner.options.task_ttl,
                );
                return this.task_reply(id, task, TaskStart::Finished(result)).await;
            }
            // Written behind room for its response's envelope: the response's body is then
            // the same buffer.
            let raw = if modern {
                RawJson::for_response(&id, &Complete::new(&result, &this.inner.server_info_meta))
            } else {
                RawJson::for_response(&id, &result)
            };
            Reply::Response(match raw {
                Ok(raw) => Response::result(id, raw),
                Err(e) => unserializable(id, &e),
            })
        }
    }
}

// The failures' answers, out of line and marked cold, so that their logging and formatting do
// not sit among the steps every call runs (issue 24: the instruction cache).

/// The error result of a tool that timed out (`panic` is `None`) or panicked, logged.
#[cold]
#[inline(never)]
fn failed(tool: &'static str, panic: Option<String>) -> CallToolResult {
    match panic {
        None => {
            tracing::warn!(target: "scopegate::tool", tool, "tool timed out");
            CallToolResult::error(format!("tool `{tool}` timed out"))
        }
        Some(panic) => {
            tracing::error!(target: "scopegate::tool", tool, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "tool panicked");
            CallToolResult::error(format!("tool `{tool}` failed with an internal error"))
        }
    }
}

/// The error response for a result serde could not write.
#[cold]
#[inline(never)]
fn unserializable(id: RequestId, error: &serde_json::Error) -> Response {
    Response::error(
        Some(id),
        ErrorObject::new(
            error_code::INTERNAL_ERROR,
            format!("tool result could not be serialized: {error}"),
        ),
    )
}
