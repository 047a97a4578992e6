//! [`RequestContext`]: the request being handled and the way back to the client (progress,
//! logging, sampling, elicitation, cancellation).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::connection::{Cancel, ClientError, Connection, LogLevel, Outbound};
use crate::protocol::{Method, RequestId};

/// The request being handled, and the way back to the client: progress, log messages,
/// sampling and elicitation requests, and cancellation. Ask for it as a parameter.
#[derive(Debug, Clone)]
pub struct RequestContext {
    inner: Arc<RequestContextInner>,
}

#[derive(Debug)]
struct RequestContextInner {
    request_id: RequestId,
    tool: &'static str,
    meta: Option<Map<String, Value>>,
    link: Option<Link>,
    cancel: Arc<Cancel>,
}

/// The client connection and the request's channel to it, when the transport has them.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) connection: Arc<Connection>,
    pub(crate) outbound: Option<Outbound>,
}

impl RequestContext {
    pub(crate) fn new(
        request_id: RequestId,
        tool: &'static str,
        meta: Option<Map<String, Value>>,
        link: Option<Link>,
        cancel: Arc<Cancel>,
    ) -> Self {
        Self {
            inner: Arc::new(RequestContextInner {
                request_id,
                tool,
                meta,
                link,
                cancel,
            }),
        }
    }

    /// The JSON-RPC id of the request.
    #[must_use]
    pub fn request_id(&self) -> &RequestId {
        &self.inner.request_id
    }

    /// The name of the tool or prompt, or the resource's name.
    #[must_use]
    pub fn tool_name(&self) -> &'static str {
        self.inner.tool
    }

    /// The request's `_meta`, if the client sent one.
    #[must_use]
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.inner.meta.as_ref()
    }

    /// The progress token the client asked progress notifications to carry, if any.
    #[must_use]
    pub fn progress_token(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get("progressToken"))
    }

    fn outbound(&self) -> Option<&Outbound> {
        self.inner.link.as_ref().and_then(|l| l.outbound.as_ref())
    }

    /// Reports progress (`notifications/progress`), if the client asked for it with a progress
    /// token; otherwise does nothing. Returns whether a notification was sent.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) -> bool {
        let (Some(token), Some(outbound)) = (self.progress_token(), self.outbound()) else {
            return false;
        };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(total) = total {
            params["total"] = total.into();
        }
        if let Some(message) = message {
            params["message"] = message.into();
        }
        outbound.send(&json!({ "jsonrpc": "2.0", "method": Method::Progress, "params": params }))
    }

    /// Sends a log message (`notifications/message`) if `level` is at or above the level the
    /// client set with `logging/setLevel` (default `info`). Returns whether it was sent.
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: impl Serialize) -> bool {
        let Some(link) = &self.inner.link else {
            return false;
        };
        let Some(outbound) = &link.outbound else {
            return false;
        };
        if link.connection.log_level().is_none_or(|min| level < min) {
            return false;
        }
        let mut params = json!({ "level": level, "data": data });
        if let Some(logger) = logger {
            params["logger"] = logger.into();
        }
        outbound.send(&json!({ "jsonrpc": "2.0", "method": Method::LogMessage, "params": params }))
    }

    /// Whether the client cancelled this request (`notifications/cancelled`).
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Completes when the client cancels this request.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await;
    }

    /// Sends a request to the client and awaits its answer. Prefer
    /// [`RequestContext::create_message`] and [`RequestContext::elicit`].
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        let outbound = link.outbound.as_ref().ok_or(ClientError::Unreachable)?;
        link.connection
            .request(outbound, &self.inner.cancel, method, params)
            .await
    }

    fn require(&self, capability: &'static str) -> Result<(), ClientError> {
        let link = self.inner.link.as_ref().ok_or(ClientError::Unreachable)?;
        if link.connection.client_supports(capability) {
            Ok(())
        } else {
            Err(ClientError::Unsupported(capability))
        }
    }

    /// Asks the client's model for a completion (`sampling/createMessage`); `params` is the
    /// request's params (`messages`, `maxTokens`, …). Requires the client's `sampling`
    /// capability.
    pub async fn create_message(&self, params: Value) -> Result<Value, ClientError> {
        self.require("sampling")?;
        self.request(Method::CreateMessage.as_str(), params).await
    }

    /// Asks the user for input through the client (`elicitation/create`, form mode): `message`
    /// and a flat object schema of the fields wanted. Requires the client's `elicitation`
    /// capability. The answer holds `action` (`accept`, `decline`, `cancel`) and `content`.
    pub async fn elicit(
        &self,
        message: &str,
        requested_schema: Value,
    ) -> Result<Value, ClientError> {
        self.require("elicitation")?;
        self.request(
            Method::Elicit.as_str(),
            json!({ "mode": "form", "message": message, "requestedSchema": requested_schema }),
        )
        .await
    }
}
