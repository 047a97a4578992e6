//! [`Downstream`]: the extractor through which a handler gets a token for a downstream API,
//! exchanged for the caller's (RFC 8693) by the server's [`TokenExchange`]. The caller's token
//! travels inside it, out of the handler's reach: it is used, never shown.

use std::fmt;
use std::sync::Arc;

use schemars::SchemaGenerator;

use super::extract::{CallParts, ToolParam, ToolParamKind};
use super::param::ArgSchema;
use crate::auth::{DownstreamToken, ExchangeError, TokenExchange};

/// Extractor: tokens for the downstream APIs the item declared with `downstream = ".."`, each
/// got by exchanging the caller's token at the authorization server (RFC 8693), so the
/// caller's token is never passed through and never seen by the handler.
///
/// ```ignore
/// #[mcp_tool(scope = "mail:send", downstream = "https://api.mail.example")]
/// async fn send_mail(to: String, body: String, apis: Downstream) -> Result<String, ToolError> {
///     let token = apis.token("https://api.mail.example").await?;
///     let answer = reqwest::Client::new()
///         .post("https://api.mail.example/send")
///         .header(reqwest::header::AUTHORIZATION, token.authorization())
///         .json(&serde_json::json!({ "to": to, "body": body }))
///         .send()
///         .await?;
///     Ok(answer.text().await?)
/// }
/// ```
///
/// An API the item did not declare is refused without asking the issuer, and logged
/// (`undeclared_downstream`): the declared list is what the provider's exchange policy was
/// configured from ([`crate::Server::downstream`], the scope-table export). A failure is a
/// [`DownstreamError`], which `?` makes the call's error: a tool result with `isError: true`
/// (a resource's or prompt's JSON-RPC error), saying which API and why, holding no token.
pub struct Downstream {
    item: &'static str,
    apis: &'static [&'static str],
    exchange: Option<Arc<TokenExchange>>,
    subject: Option<Arc<str>>,
}

impl Downstream {
    /// The APIs the item declared, as written in `downstream = ..`.
    #[must_use]
    pub fn apis(&self) -> &'static [&'static str] {
        self.apis
    }

    /// A token for `api` (one of [`apis`](Self::apis)), with the scopes the issuer's policy
    /// gives.
    ///
    /// # Errors
    /// See [`DownstreamError`].
    pub async fn token(&self, api: &str) -> Result<DownstreamToken, DownstreamError> {
        self.token_with_scopes(api, &[]).await
    }

    /// A token for `api` with `scopes` (the downstream API's scopes, sent as the exchange's
    /// `scope`).
    ///
    /// # Errors
    /// See [`DownstreamError`].
    pub async fn token_with_scopes(
        &self,
        api: &str,
        scopes: &[&str],
    ) -> Result<DownstreamToken, DownstreamError> {
        let Some(&api) = self.apis.iter().find(|a| **a == api) else {
            let api = crate::clip::clip(api, crate::clip::NAME_BYTES);
            tracing::error!(target: "scopegate::exchange", event = "undeclared_downstream", item = self.item, api = %api, "a handler asked for a token for an API it did not declare in `downstream`");
            return Err(DownstreamError::Undeclared {
                item: self.item,
                api: api.into_owned(),
            });
        };
        let failed = |reason| DownstreamError::Failed {
            item: self.item,
            api,
            reason,
        };
        let Some(subject) = &self.subject else {
            return Err(failed(DownstreamReason::NoCallerToken));
        };
        let Some(exchange) = &self.exchange else {
            return Err(failed(DownstreamReason::NotConfigured));
        };
        exchange
            .exchange(subject, api, scopes)
            .await
            .map_err(|e| failed(DownstreamReason::Exchange(e)))
    }
}

impl fmt::Debug for Downstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Downstream")
            .field("item", &self.item)
            .field("apis", &self.apis)
            .field("caller_token", &self.subject.as_ref().map(|_| "[held]"))
            .finish_non_exhaustive()
    }
}

/// Why [`Downstream`] gave no token. Its message names the item, the API and the reason, and
/// never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownstreamError {
    /// The item asked for an API it did not declare in `downstream = ..` (a bug in the
    /// handler; logged as `undeclared_downstream`).
    #[error(
        "`{item}` asked for a token for `{api}`, which it does not declare in `downstream = ..`"
    )]
    Undeclared {
        /// The tool or prompt name, or the resource's name.
        item: &'static str,
        /// The API asked for (clipped).
        api: String,
    },
    /// The API is declared, but no token could be got for it.
    #[error("`{item}` could not get a token for {api}: {reason}")]
    Failed {
        /// The tool or prompt name, or the resource's name.
        item: &'static str,
        /// The API.
        api: &'static str,
        /// Why.
        reason: DownstreamReason,
    },
}

/// Why a declared API's token could not be got.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownstreamReason {
    /// The caller presented no token to exchange (authentication is off, stdio without
    /// `SCOPEGATE_TOKEN`, or a DPoP-bound token, which is not carried: this server could not
    /// prove its key to the issuer).
    #[error("the caller presented no token to exchange")]
    NoCallerToken,
    /// The server has no token exchange (see `ServerOptions::token_exchange`).
    #[error("no token exchange is configured")]
    NotConfigured,
    /// The exchange failed.
    #[error(transparent)]
    Exchange(ExchangeError),
}

impl ToolParamKind for Downstream {}

impl<S> ToolParam<S> for Downstream {
    fn schema(_: &mut SchemaGenerator) -> Option<ArgSchema> {
        None
    }

    fn extract(parts: &mut CallParts<'_, S>, _: &'static str) -> Option<Self> {
        Some(Self {
            item: parts.context.tool_name(),
            apis: parts.downstream.apis,
            exchange: parts.downstream.exchange.cloned(),
            subject: parts.principal.subject_token().cloned(),
        })
    }
}
