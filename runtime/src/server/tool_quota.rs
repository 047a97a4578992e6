//! Per-tool quotas (`#[mcp_tool(quota = "10/min")]`): each caller's calls of a tool counted as a
//! token bucket, in this process or through the [`RateLimitStore`] replicas share, before the
//! tool runs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::rate_limit::{RateLimitStore, rate};
use super::registry::Core;
use super::reply::{Refusal, Reply};
use super::tasks::owner_key;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, RequestId, Response, error_code};
use crate::tool::{ToolMeta, ToolQuota};

impl Core {
    /// Counts a call of tool `index` (whose quota is `quota`) by `principal`; when the caller
    /// has none left, the refusal: HTTP 429 with `Retry-After`, a JSON-RPC error elsewhere.
    /// Counted through the shared store when there is one, and in this process while it does
    /// not answer (so an outage neither stops the tool nor lifts its quota).
    pub(super) async fn take_quota(
        &self,
        id: &RequestId,
        index: usize,
        meta: &ToolMeta,
        quota: ToolQuota,
        principal: &Principal,
    ) -> Result<(), Reply> {
        let quotas = &self.inner.quotas;
        // Per principal: issuer, subject and client; callers told apart by none share one.
        let who = owner_key(principal).unwrap_or_default();
        let key = format!("tool:{}:{who}", meta.name);
        let mut outcome = None;
        if let Some(store) = quotas.shared.get() {
            match store.take(&key, rate(quota)).await {
                Ok(wait) => {
                    if quotas.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(target: "scopegate::quota", "the rate-limit store answers again");
                    }
                    outcome = Some(wait.map_or(Ok(()), Err));
                }
                Err(error) => {
                    if !quotas.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(target: "scopegate::quota", %error, "the rate-limit store does not answer; tool quotas are counted per process meanwhile");
                    }
                }
            }
        }
        let outcome = match (outcome, quotas.local.get(index).and_then(Option::as_ref)) {
            (Some(outcome), _) => outcome,
            (None, Some(local)) => local.check(&key),
            (None, None) => Ok(()),
        };
        outcome.map_err(|wait| {
            tracing::info!(
                target: "scopegate::auth",
                event = "quota_exceeded",
                tool = meta.name,
                subject = principal.subject(),
                quota = %quota,
                "request refused: the tool's quota is used up"
            );
            quota_exceeded(id, meta.name, quota, wait)
        })
    }

    /// Shares tool quotas through `store` (the first one given: the options', else the HTTP
    /// transport's).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn share_quotas(&self, store: Arc<dyn RateLimitStore>) {
        let _ = self.inner.quotas.shared.set(store);
    }
}

/// The refusal of a call over its tool's quota.
fn quota_exceeded(id: &RequestId, tool: &str, quota: ToolQuota, wait: Duration) -> Reply {
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1);
    let error = ErrorObject::new(
        error_code::QUOTA_EXCEEDED,
        format!("tool `{tool}` allows {quota} per caller; try again in {seconds} s"),
    )
    .with_data(json!({ "tool": tool, "quota": quota.to_string(), "retryAfterSeconds": seconds }));
    Reply::Refused(
        Response::error(Some(id.clone()), error),
        Refusal::TooManyRequests(Duration::from_secs(seconds)),
    )
}
