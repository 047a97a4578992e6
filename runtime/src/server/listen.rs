//! `subscriptions/listen` (2026-07-28, basic/patterns/subscriptions): a request that stays open
//! and carries the notifications its client opted in to, each tagged with the request's id. Its
//! first message is the acknowledgement of what the server agreed to deliver; it ends when the
//! client cancels it (closing the HTTP stream, or `notifications/cancelled` on stdio), when the
//! client goes, or when the server shuts down (then it is answered, a graceful end).
//!
//! What the server agrees to: updates of the resources the caller may read (the rule of
//! `audience`, which legacy subscriptions follow too), and the status of the caller's own tasks
//! (`taskIds`, tasks extension: `notifications/tasks`, each the task as `tasks/get` shows it,
//! sent while the caller may still use the task's tool). List changes never: the tools,
//! resources and prompts are fixed for the server's lifetime, and `server/discover` says so
//! (`listChanged: false`), so those filter fields are left out of the acknowledgement.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::audience::Audience;
use super::json::raw;
use super::listeners::{End, Listener};
use super::params::parse_params;
use super::registry::Core;
use super::reply::{Refusal, Reply};
use super::tasks::tasks_required;
use crate::connection::{MAX_SUBSCRIPTION_BYTES, MAX_SUBSCRIPTIONS};
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::{
    ErrorObject, META_SUBSCRIPTION_ID, Method, Request, RequestId, Response, TASKS_EXTENSION,
    error_code,
};

/// The params of `subscriptions/listen`; `notifications` is required (SEP-2575: every type is
/// opted in to explicitly).
#[derive(Deserialize)]
struct ListenParams {
    notifications: Filter,
}

/// The notification filter. The list-changed fields are not read: no list ever changes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    resource_subscriptions: Option<Vec<String>>,
    task_ids: Option<Vec<String>>,
}

impl Core {
    /// Serves one `subscriptions/listen` request until the subscription ends: the
    /// acknowledgement and the updates go to `link.outbound`; the answer is the closing result
    /// when the server ends it, and nothing when the client does.
    pub(super) async fn listen(
        &self,
        request: Request,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        let Request { id, params, .. } = request;
        // Registered first, so that a `notifications/cancelled` sent right after the request
        // finds it (stdio).
        let flight = link.connection.start(&id);
        flight.listen();
        let refuse = |code, message: String| {
            Reply::Response(Response::error(
                Some(id.clone()),
                ErrorObject::new(code, message),
            ))
        };
        let Some(outbound) = link.outbound else {
            return refuse(
                error_code::INVALID_REQUEST,
                "subscriptions/listen needs a stream for its notifications (over HTTP, accept text/event-stream)".into(),
            );
        };
        let filter = match parse_params::<ListenParams>(params.as_deref()) {
            Ok(params) => params.notifications,
            Err(error) => return Reply::Response(Response::error(Some(id.clone()), error)),
        };
        let asked = filter.resource_subscriptions.is_some();
        let wanted = filter.resource_subscriptions.unwrap_or_default();
        let bytes: usize = wanted.iter().map(String::len).sum();
        if wanted.len() > MAX_SUBSCRIPTIONS || bytes > MAX_SUBSCRIPTION_BYTES {
            return refuse(
                error_code::INVALID_PARAMS,
                format!(
                    "too many resource subscriptions: at most {MAX_SUBSCRIPTIONS} URIs of {} KiB in all per stream",
                    MAX_SUBSCRIPTION_BYTES / 1024
                ),
            );
        }
        let (agreed, resources) = self.agree(&wanted, principal);
        let mut tasks = HashSet::new();
        // Task status is a type of notification only a server with task tools supports: the
        // others leave it out of the acknowledgement, as any unsupported type.
        let task_ids = filter.task_ids.as_ref().filter(|_| self.offers_tasks());
        if let Some(task_ids) = task_ids {
            if !link.connection.client_supports_extension(TASKS_EXTENSION) {
                return Reply::Refused(
                    Response::error(Some(id.clone()), tasks_required()),
                    Refusal::BadRequest,
                );
            }
            if task_ids.len() > MAX_SUBSCRIPTIONS {
                return refuse(
                    error_code::INVALID_PARAMS,
                    format!("too many task ids: at most {MAX_SUBSCRIPTIONS} per stream"),
                );
            }
            tasks = self.agree_tasks(task_ids, principal).await;
        }
        let mut notifications = json!({});
        if task_ids.is_some() {
            let mut agreed: Vec<&String> = tasks.iter().collect();
            agreed.sort();
            notifications["taskIds"] = json!(agreed);
        }
        // Resource subscriptions are a type this server supports when it has resources: the
        // acknowledgement then lists those it agreed to, possibly none.
        if asked && !self.inner.resources.is_empty() {
            notifications["resourceSubscriptions"] = agreed.into();
        }
        let ack = json!({
            "jsonrpc": "2.0",
            "method": Method::SubscriptionAcknowledged,
            "params": {
                "_meta": { META_SUBSCRIPTION_ID: id },
                "notifications": notifications,
            },
        });
        let listener = Listener::new(id.clone(), principal.clone(), resources, tasks, outbound);
        let _registration = self.inner.listeners.register(Arc::clone(&listener), &ack);
        // The id is the client's: clipped like any name it chose.
        let subscription = crate::clip::clip(&id.to_string(), crate::clip::NAME_BYTES).into_owned();
        tracing::debug!(target: "scopegate::tool", event = "listen_opened", subscription, resources = listener.resources.len());
        let closed = tokio::select! {
            // The client cancelled: no answer (cancellation pattern).
            () = flight.cancel.cancelled() => false,
            end = listener.ended() => end == End::Closed,
            // The transport's connection closed (stdin): ended by the server's side.
            () = link.connection.hung_up() => true,
        };
        tracing::debug!(target: "scopegate::tool", event = "listen_closed", subscription, graceful = closed);
        if !closed {
            return Reply::Nothing;
        }
        Reply::Response(Response::result(
            id.clone(),
            raw(&json!({ "_meta": { META_SUBSCRIPTION_ID: id } })),
        ))
    }

    /// The resources of `wanted` the subscription agrees to: those that name a resource
    /// `principal` may read (the others are left out of the acknowledgement, unknown and
    /// unreadable alike, so it tells nothing of what exists). Returns them as the client spelt
    /// them, and their normal forms.
    fn agree<'w>(
        &self,
        wanted: &'w [String],
        principal: &Principal,
    ) -> (Vec<&'w str>, HashSet<String>) {
        let mut agreed = Vec::new();
        let mut normals = HashSet::new();
        for uri in wanted {
            let Some(audience) = self.audience(uri) else {
                continue;
            };
            if !self.admits(&audience, principal) {
                tracing::debug!(target: "scopegate::auth", event = "listen_resource_refused", uri = &*crate::clip::clip(uri, crate::clip::NAME_BYTES), subject = principal.subject(), "a subscription left out a resource its principal may not read");
                continue;
            }
            if normals.insert(audience.normal().to_owned()) {
                agreed.push(uri.as_str());
            }
        }
        (agreed, normals)
    }

    /// Tells every open subscription that delivers updates of `audience`'s resource, and whose
    /// principal may read it, that it changed; returns how many were told. The subscription
    /// agreed only to resources its principal could read; the rule is applied again here, at
    /// delivery, as it is for legacy sessions.
    pub(super) fn notify_listeners(&self, audience: &Audience, uri: &str) -> usize {
        let listeners = self
            .inner
            .listeners
            .matching(|listener| listener.resources.contains(audience.normal()));
        listeners
            .iter()
            .filter(|listener| self.admits(audience, &listener.principal))
            .filter(|listener| listener.send(&updated(&listener.id, uri)))
            .count()
    }
}

impl Core {
    /// Tells the open subscriptions that follow task `task` (its `taskId`) of its state, as
    /// `tasks/get` shows it: those of its owner, while they may still use its tool.
    pub(super) fn notify_task_listeners(&self, owner: &str, tool: &str, task: &Value) -> usize {
        let Some(id) = task.get("taskId").and_then(Value::as_str) else {
            return 0;
        };
        let Some(meta) = self
            .inner
            .by_name
            .get(tool)
            .map(|&index| &self.inner.tools[index].meta)
        else {
            return 0;
        };
        let listeners = self.inner.listeners.matching(|listener| {
            listener.tasks.contains(id)
                && super::tasks::owner_key(&listener.principal).as_deref() == Some(owner)
        });
        listeners
            .iter()
            // A status may carry the result: only to a listener that holds every scope the
            // tool's rules could ask for.
            .filter(|listener| {
                self.inner.scopes.admits_every_rule(
                    listener.principal.scopes(),
                    meta.scopes,
                    &meta.rules,
                )
            })
            .filter(|listener| {
                let mut params = task.clone();
                params["_meta"] = json!({ META_SUBSCRIPTION_ID: listener.id });
                listener.send(&json!({
                    "jsonrpc": "2.0",
                    "method": Method::TaskStatus,
                    "params": params,
                }))
            })
            .count()
    }
}

/// `notifications/resources/updated` on subscription `id`'s stream.
fn updated(id: &RequestId, uri: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": Method::ResourceUpdated,
        "params": { "_meta": { META_SUBSCRIPTION_ID: id }, "uri": uri },
    })
}
