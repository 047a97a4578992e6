//! One message in, one [`Reply`] out: requests routed by method, notifications and answers
//! handed to the connection, and the methods that need no handler (`initialize`, `ping`,
//! `logging/setLevel`).

use std::borrow::Borrow;
use std::sync::Arc;

use futures_util::future::Either;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::json::empty_object;
use super::params::parse_params;
use super::registry::Core;
use super::reply::Reply;
use crate::connection::{Connection, LogLevel, Outbound};
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::{
    ErrorObject, Message, Method, ModernParams, Request, RequestId, Response, error_code,
    negotiate_version, to_raw,
};

impl Core {
    pub(crate) async fn handle_bytes(&self, bytes: &[u8], principal: &Principal) -> Reply {
        match Message::read(bytes) {
            Ok(message) => self.handle(message, principal).await,
            Err(response) => Reply::Response(*response),
        }
    }

    /// `message` on a connection of its own, which nothing else reaches: its request is not
    /// registered for cancellation by notification (no notification could find it).
    pub(crate) async fn handle(&self, message: Message, principal: &Principal) -> Reply {
        Self::handle_in(self, message, principal, &Connection::one_request(), None).await
    }

    /// Not an `async fn`: notifications and answers are handled at once, and a request's future
    /// is the dispatcher's own, with no wrapper state of its own to carry (each `async fn`
    /// layer keeps a copy of its arguments beside its callee's future, and the transports box
    /// this future for every request).
    ///
    /// The server and the principal are borrowed (`&Core`, `&Principal`), or owned (`Core`,
    /// `Principal`) for a `'static` future that a transport may hand on to a task of its own
    /// (HTTP's, when an answer turns into an event stream): boxed as it is, where a block owning
    /// them for it would be boxed at its whole size and copy the dispatcher's future into
    /// itself when first polled (issue 24).
    pub(crate) fn handle_in<'a>(
        core: impl Borrow<Core> + Clone + Send + 'a,
        message: Message,
        principal: impl Borrow<Principal> + Send + 'a,
        connection: &Arc<Connection>,
        outbound: Option<Outbound>,
    ) -> impl Future<Output = Reply> + Send + 'a {
        let Some(mut request) = take_request(message, connection) else {
            return Either::Right(std::future::ready(Reply::Nothing));
        };
        connection.note_principal(principal.borrow());
        let link = Link {
            connection: Arc::clone(connection),
            outbound,
            input: None,
        };
        // A 2026-07-28 request takes the larger path, boxed, so that a legacy request's future
        // does not carry its room (over HTTP such a request comes by `handle_modern_in`).
        Either::Left(match request.take_modern(false) {
            Some(modern) => Either::Left(Box::pin(Self::handle_modern(
                core, request, modern, principal, link,
            ))),
            None => Either::Right(Self::dispatch(core, request, None, principal, link)),
        })
    }

    /// A 2026-07-28 request whose params the transport already read (`Request::take_modern`), as
    /// [`Self::handle_in`] would serve it, the server and the principal borrowed or owned (see
    /// [`Self::handle_in`]). Not boxed: the transport boxes it apart from a legacy request's.
    pub(crate) fn handle_modern_in<'a>(
        core: impl Borrow<Core> + Clone + Send + 'a,
        request: Request,
        modern: Box<ModernParams>,
        principal: impl Borrow<Principal> + Send + 'a,
        connection: &Arc<Connection>,
        outbound: Option<Outbound>,
    ) -> impl Future<Output = Reply> + Send + 'a {
        connection.note_principal(principal.borrow());
        let link = Link {
            connection: Arc::clone(connection),
            outbound,
            input: None,
        };
        Self::handle_modern(core, request, modern, principal, link)
    }

    /// A request routed by method. A `tools/call`, the commonest request by far, is the call's
    /// own future, with no layer of the dispatcher's around it (its room, and its steps among
    /// every call's: issue 24). The server and the principal are borrowed, or owned for a
    /// `'static` future (see [`Self::handle_in`]).
    pub(super) fn dispatch<'a>(
        core: impl Borrow<Core> + Send + 'a,
        request: Request,
        modern: Option<Box<ModernParams>>,
        principal: impl Borrow<Principal> + Send + 'a,
        link: Link,
    ) -> impl Future<Output = Reply> + Send + 'a {
        if request.method == Method::CallTool {
            let Request {
                id, params, call, ..
            } = request;
            return Either::Left(Self::call_tool(
                core,
                id,
                (params, call),
                modern,
                principal,
                link,
            ));
        }
        // Boxed: the other methods' future is the larger (about 980 bytes, where a call's is
        // about 750), and every call's future would otherwise carry its room, boxed and copied
        // by the transport for each request, and near the 1 032 bytes glibc's per-thread cache
        // serves once the 2026-07-28 path's additions are around it.
        Either::Right(Box::pin(async move {
            core.borrow()
                .dispatch_other(request, modern, principal.borrow(), link)
                .await
        }))
    }

    /// Every method but `tools/call`, which [`Self::dispatch`], the only caller, hands to the
    /// call before it comes here. Not an `async fn`: the request is taken apart first, so that
    /// its future does not keep the request whole beside its parts.
    fn dispatch_other<'a>(
        &'a self,
        request: Request,
        modern: Option<Box<ModernParams>>,
        principal: &'a Principal,
        link: Link,
    ) -> impl Future<Output = Reply> + Send + 'a {
        let Request {
            id, method, params, ..
        } = request;
        async move {
            let result = match method {
                Method::Initialize => self.initialize(params.as_deref(), &link.connection),
                Method::Ping => Ok(empty_object()),
                Method::SetLogLevel => set_level(params.as_deref(), &link.connection),
                Method::ListTools => self.list_tools(params.as_deref(), principal),
                Method::ListResources => self.list_for(
                    "resources",
                    &self.inner.resource_pages,
                    self.inner.resource_entries.iter().map(|(s, j)| (*s, &**j)),
                    params.as_deref(),
                    principal,
                ),
                Method::ListResourceTemplates => self.list_for(
                    "resourceTemplates",
                    &self.inner.template_pages,
                    self.inner.template_entries.iter().map(|(s, j)| (*s, &**j)),
                    params.as_deref(),
                    principal,
                ),
                Method::ReadResource => {
                    return self
                        .read_resource(id, params.as_deref(), principal, link)
                        .await;
                }
                Method::Subscribe | Method::Unsubscribe => {
                    return self.subscribe(
                        id,
                        &method,
                        params.as_deref(),
                        principal,
                        &link.connection,
                    );
                }
                Method::ListPrompts => self.list_for(
                    "prompts",
                    &self.inner.prompt_pages,
                    self.inner.prompt_entries.iter().map(|(s, j)| (*s, &**j)),
                    params.as_deref(),
                    principal,
                ),
                Method::GetPrompt => {
                    return self
                        .get_prompt(id, params.as_deref(), modern, principal, link)
                        .await;
                }
                Method::Complete => return self.complete(id, params.as_deref(), principal),
                ref other => Err(ErrorObject::new(
                    error_code::METHOD_NOT_FOUND,
                    format!("method not found: {other}"),
                )),
            };
            Reply::Response(match result {
                Ok(raw) => Response::result(id, raw),
                Err(error) => Response::error(Some(id), error),
            })
        }
    }

    pub(super) fn initialize(
        &self,
        params: Option<&RawValue>,
        connection: &Connection,
    ) -> Result<Box<RawValue>, ErrorObject> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct InitializeParams {
            protocol_version: String,
            #[serde(default)]
            capabilities: Value,
        }
        let params: InitializeParams = parse_params(params)?;
        let size = serde_json::to_vec(&params.capabilities).map_or(usize::MAX, |v| v.len());
        if size > crate::connection::MAX_CAPABILITIES_BYTES {
            return Err(ErrorObject::new(
                error_code::INVALID_PARAMS,
                format!(
                    "client capabilities of {size} bytes: at most {} are kept",
                    crate::connection::MAX_CAPABILITIES_BYTES
                ),
            ));
        }
        connection.set_capabilities(params.capabilities);
        let info = &self.inner.info;
        let mut server_info = json!({ "name": info.name, "version": info.version });
        if let Some(title) = info.title {
            server_info["title"] = title.into();
        }
        let capabilities = self.capabilities();
        let mut result = json!({
            "protocolVersion": negotiate_version(&params.protocol_version),
            "capabilities": capabilities,
            "serverInfo": server_info,
        });
        if let Some(instructions) = info.instructions {
            result["instructions"] = instructions.into();
        }
        Ok(to_raw(&result).expect("a serde_json::Value always serializes"))
    }
}

/// The request `message` is; a notification or an answer of the client's is handled here, at
/// once (neither gets a reply).
fn take_request(message: Message, connection: &Connection) -> Option<Request> {
    match message {
        Message::Request(request) => Some(request),
        Message::Notification(notification) => {
            if notification.method == Method::Cancelled {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Cancelled {
                    request_id: Value,
                }
                if let Ok(cancelled) = parse_params::<Cancelled>(notification.params.as_deref())
                    && let Some(id) = RequestId::from_value(cancelled.request_id)
                {
                    connection.cancel(&id);
                }
            }
            None
        }
        Message::Response { id, result } => {
            match id {
                Some(id) => connection.complete(&id, result),
                None => {
                    // Any client can post one per request, with a 4 MiB message: DEBUG, and
                    // only the code and a clipped message (issue 18, item 10).
                    let (code, message) = match &result {
                        Ok(_) => (None, ""),
                        Err(error) => (Some(error.code), &*error.message),
                    };
                    tracing::debug!(target: "scopegate::tool", event = "client_error_response", code, error_message = &*crate::clip::clip(message, crate::clip::NAME_BYTES), "the client could not read a message of the server's");
                }
            }
            None
        }
    }
}

/// `logging/setLevel`: the least severe level the client wants to receive.
fn set_level(
    params: Option<&RawValue>,
    connection: &Connection,
) -> Result<Box<RawValue>, ErrorObject> {
    #[derive(Deserialize)]
    struct SetLevel {
        level: LogLevel,
    }
    let params: SetLevel = parse_params(params)?;
    connection.set_log_level(params.level);
    Ok(empty_object())
}
