//! Tools: `tools/list`, `tools/call`, and a tool's list entry.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::call::Call;
use super::params::NamedParams;
use super::registry::Core;
use super::reply::Reply;
use super::run::{Settled, settle};
use crate::handler::{Link, RequestContext};
use crate::principal::Principal;
use crate::protocol::{CallToolResult, ErrorObject, RequestId, Response, error_code, to_raw};

impl Core {
    pub(super) fn list_tools(
        &self,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Result<Box<RawValue>, ErrorObject> {
        self.list_for(
            "tools",
            &self.inner.list_pages,
            self.inner.tools.iter().map(|t| (t.meta.scopes, &*t.json)),
            params,
            principal,
        )
    }

    // Not an `async fn`, which would keep its arguments twice (see `http::endpoint`).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn call_tool(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
        link: Link,
    ) -> impl Future<Output = Reply> {
        async move {
            let (params, index) = match NamedParams::find(params, &self.inner.by_name, "tool", &id)
            {
                Ok(found) => found,
                Err(reply) => return reply,
            };
            let tool = &self.inner.tools[index];
            let meta = tool.meta;

            if let Err(denial) = self.authorize(&id, "tool", meta.name, meta.scopes, principal) {
                return Reply::Denied(denial);
            }

            let arguments = params.arguments.unwrap_or_default();
            let connection = Arc::clone(&link.connection);
            let flight = connection.start(&id);
            let context = RequestContext::new(
                id.clone(),
                meta.name,
                params.meta,
                Some(link),
                Arc::clone(&flight.cancel),
            );
            let problems = arguments
                .keys()
                .filter(|key| !tool.arguments.contains(&key.as_str()))
                .map(|key| format!("`{key}`: unknown argument"))
                .collect();
            let call = Call {
                principal,
                arguments,
                context: &context,
                problems,
                kind: "tool",
                strings: false,
            };
            // The generated `call` extracts every parameter (collecting problems), then starts the
            // tool only if no problem was found, unknown arguments included.
            let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.inner.handlers.call_tool(index, call)
            })) {
                Ok(future) => Ok(future),
                Err(payload) => Err(crate::handler::panic_message(payload.as_ref())),
            };
            let outcome = match future {
                // A cancelled request gets no response (MCP cancellation): the handler is dropped.
                // The handler first: one that finishes at once never arms the timer.
                Ok(future) => {
                    let timeout = self
                        .inner
                        .options
                        .handler_timeout
                        .or_else(|| connection.handler_timeout());
                    match settle(future, &flight.cancel, timeout).await {
                        Settled::Done(outcome) => outcome,
                        Settled::Cancelled => return Reply::Nothing,
                        Settled::TimedOut => {
                            tracing::warn!(target: "scopegate::tool", tool = meta.name, "tool timed out");
                            Ok(CallToolResult::error(format!(
                                "tool `{}` timed out",
                                meta.name
                            )))
                        }
                    }
                }
                Err(panic) => Err(panic),
            };
            let result = outcome.unwrap_or_else(|panic| {
                tracing::error!(target: "scopegate::tool", tool = meta.name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "tool panicked");
                CallToolResult::error(format!("tool `{}` failed with an internal error", meta.name))
            });
            Reply::Response(match to_raw(&result) {
                Ok(raw) => Response::result(id, raw),
                Err(e) => Response::error(
                    Some(id),
                    ErrorObject::new(
                        error_code::INTERNAL_ERROR,
                        format!("tool result could not be serialized: {e}"),
                    ),
                ),
            })
        }
    }
}
