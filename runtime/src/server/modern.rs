//! The 2026-07-28 path: a stateless request whose version, capabilities and log level travel
//! in its own `_meta`, and the fields every 2026-07-28 result adds.

use std::borrow::Borrow;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::{Either, ready};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::complete::{Completed, written_complete};
use super::json::raw;
use super::options::ListVisibility;
use super::registry::Core;
use super::reply::{Refusal, Reply};
use crate::connection::{Connection, LogLevel};
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::to_raw;
use crate::protocol::{
    ClientCapabilities, ErrorObject, META_CLIENT_CAPABILITIES, META_LOG_LEVEL,
    META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_PROTOCOL_VERSIONS, Method, ModernParams,
    Request, Response, Skip, TASKS_EXTENSION, error_code,
};

/// The `-32022` error for a request naming a revision this server does not serve, on every
/// transport (the HTTP `MCP-Protocol-Version` check and the `_meta` check alike). `supported`
/// is exactly what `server/discover` announces as `supportedVersions`, so a client that retries
/// with any of them is served; the handshake revisions are not in it, as a request naming one in
/// its `_meta` would be refused again (they are reached through `initialize`, which selects the
/// legacy era). `requested` echoes what the client asked for (MCP 2026-07-28,
/// basic/versioning, "Protocol Version Negotiation").
pub(crate) fn unsupported_version_error(requested: &str) -> ErrorObject {
    ErrorObject::new(
        error_code::UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
    )
    .with_data(json!({ "supported": MODERN_PROTOCOL_VERSIONS, "requested": requested }))
}

/// How long clients may cache the server's lists (2026-07-28 `ttlMs`): they are fixed for the
/// server's lifetime, and five minutes bounds how stale a client is after a redeploy.
const LIST_TTL_MS: u64 = 300_000;

impl Core {
    /// A 2026-07-28 request: stateless, its version, client capabilities and log level in its
    /// own `_meta` (MCP 2026-07-28, basic/index "Per-request protocol fields").
    ///
    /// Not an `async fn`: its checks need no await, and are made before the future is; a tool
    /// call's future is then the dispatcher's own with the result's additions mapped on, and
    /// the rarer `subscriptions/listen` and `tasks/*` are boxed apart. (An `async fn` would keep
    /// the request, its params and its link beside the dispatcher's future that takes them.)
    ///
    /// The server and the principal are borrowed or owned, as [`Core::handle_in`] takes them.
    pub(super) fn handle_modern<'a, C, P>(
        core: C,
        request: Request,
        mut modern: Box<ModernParams>,
        principal: P,
        link: Link,
    ) -> impl Future<Output = Reply> + Send + 'a
    where
        C: Borrow<Core> + Clone + Send + 'a,
        P: Borrow<Principal> + Send + 'a,
    {
        let (connection, method) = match core.borrow().admit_modern(&request, &mut modern, &link) {
            Ok(admitted) => admitted,
            Err(reply) => return Either::Left(ready(reply)),
        };
        let Link { outbound, .. } = link;
        match method {
            Method::ServerDiscover => {
                let this = core.borrow();
                let reply = Reply::Response(Response::result(request.id, this.discover()));
                Either::Left(ready(this.modernized(reply, &method)))
            }
            Method::Listen => {
                let link = Link {
                    connection,
                    outbound,
                    input: None,
                };
                let listen: Pin<Box<dyn Future<Output = Reply> + Send + 'a>> =
                    Box::pin(async move {
                        let this = core.borrow();
                        let reply = this.listen(request, principal.borrow(), link).await;
                        this.modernized(reply, &method)
                    });
                Either::Right(Either::Left(listen))
            }
            Method::GetTask | Method::UpdateTask | Method::CancelTask => {
                let link = Link {
                    connection,
                    outbound,
                    input: None,
                };
                let task: Pin<Box<dyn Future<Output = Reply> + Send + 'a>> = Box::pin(async move {
                    let this = core.borrow();
                    let Request { id, params, .. } = request;
                    let reply = this
                        .task_request(id, &method, params.as_deref(), principal.borrow(), &link)
                        .await;
                    this.modernized(reply, &method)
                });
                Either::Right(Either::Left(task))
            }
            _ => {
                let opened = core.borrow().open_round(
                    &method,
                    request.params.as_deref(),
                    &modern,
                    principal.borrow(),
                );
                let input = match opened {
                    Ok(input) => input,
                    Err(error) => {
                        return Either::Left(ready(Reply::Response(Response::error(
                            Some(request.id),
                            error,
                        ))));
                    }
                };
                let link = Link {
                    connection,
                    outbound,
                    input,
                };
                // The result's additions need the server after the call: owned, it is held
                // twice (one more count on its `Arc`).
                let finish = core.clone();
                Either::Right(Either::Right(
                    Self::dispatch(core, request, Some(modern), principal, link)
                        .map(move |reply| finish.borrow().modernized(reply, &method)),
                ))
            }
        }
    }

    /// The checks a 2026-07-28 request passes before it is served (its `_meta`'s version,
    /// capabilities and log level, a method of the revision this server offers), and the
    /// connection of its own it is then served on, built from that `_meta` (its capabilities
    /// taken, not copied: nothing reads them from `modern` after this).
    fn admit_modern(
        &self,
        request: &Request,
        modern: &mut ModernParams,
        link: &Link,
    ) -> Result<(Arc<Connection>, Method), Reply> {
        let refuse = |refusal, error: ErrorObject| {
            Reply::Refused(Response::error(Some(request.id.clone()), error), refusal)
        };
        let Some(version) = modern.version.as_deref() else {
            return Err(refuse(
                Refusal::BadRequest,
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("`_meta[\"{META_PROTOCOL_VERSION}\"]` must be a string"),
                ),
            ));
        };
        if !modern
            .capabilities
            .as_ref()
            .is_some_and(ClientCapabilities::is_object)
        {
            return Err(refuse(
                Refusal::BadRequest,
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("`_meta[\"{META_CLIENT_CAPABILITIES}\"]` is required"),
                ),
            ));
        }
        if !MODERN_PROTOCOL_VERSIONS.contains(&version) {
            return Err(refuse(
                Refusal::BadRequest,
                unsupported_version_error(version),
            ));
        }
        let log_level = match &modern.log_level {
            None => None,
            Some(level) => match LogLevel::deserialize(level) {
                Ok(level) => Some(level),
                Err(_) => {
                    return Err(refuse(
                        Refusal::BadRequest,
                        ErrorObject::new(
                            error_code::INVALID_PARAMS,
                            format!("`_meta[\"{META_LOG_LEVEL}\"]` is not a log level"),
                        ),
                    ));
                }
            },
        };
        // Methods of the 2026-07-28 revision this server offers; the handshake, ping, setLevel
        // and subscribe were removed from it.
        let method = request.method.clone();
        let offered = match method {
            Method::ServerDiscover | Method::ListTools | Method::CallTool | Method::Listen => true,
            Method::ListResources | Method::ListResourceTemplates | Method::ReadResource => {
                !self.inner.resources.is_empty()
            }
            Method::ListPrompts | Method::GetPrompt => !self.inner.prompts.is_empty(),
            Method::Complete => self.capabilities().get("completions").is_some(),
            Method::GetTask | Method::UpdateTask | Method::CancelTask => self.offers_tasks(),
            _ => false,
        };
        if !offered {
            return Err(refuse(
                Refusal::NotFound,
                ErrorObject::new(
                    error_code::METHOD_NOT_FOUND,
                    format!("method not found: {method}"),
                ),
            ));
        }
        // Nothing carries over between modern requests: a connection of its own, built from
        // this request's `_meta` (the one the transport made for it, when it made one).
        let capabilities = modern.capabilities.take().unwrap_or_default();
        let connection = if link.connection.is_one_modern_request() {
            link.connection.take_meta(capabilities, log_level);
            Arc::clone(&link.connection)
        } else {
            Connection::stateless(capabilities, log_level, Arc::clone(&link.connection))
        };
        Ok((connection, method))
    }

    /// `server/discover`'s result.
    fn discover(&self) -> Box<RawValue> {
        let mut capabilities = self.capabilities();
        if self.offers_tasks() {
            capabilities["extensions"] = json!({ TASKS_EXTENSION: {} });
        }
        let mut result = json!({
            "supportedVersions": MODERN_PROTOCOL_VERSIONS,
            "capabilities": capabilities,
        });
        if let Some(instructions) = self.inner.info.instructions {
            result["instructions"] = instructions.into();
        }
        raw(&result)
    }

    /// `reply` with a result's 2026-07-28 additions ([`Self::modernize`]).
    fn modernized(&self, reply: Reply, method: &Method) -> Reply {
        match reply {
            Reply::Response(response) => Reply::Response(self.modernize(response, method)),
            other => other,
        }
    }

    /// Adds what every 2026-07-28 result carries: `resultType`, the server's identity in
    /// `_meta`, and caching hints on the cacheable ones.
    fn modernize(&self, response: Response, method: &Method) -> Response {
        let Response { id, payload } = response;
        let result = match payload {
            crate::protocol::Payload::Result(result) => result,
            // 2026-07-28 folds "resource not found" into invalid params.
            crate::protocol::Payload::Error(mut error) => {
                if error.code == error_code::RESOURCE_NOT_FOUND {
                    error.code = error_code::INVALID_PARAMS;
                }
                return Response::error(id, error);
            }
        };
        // Lists are fixed for the server's lifetime; a read may change at any time and may
        // depend on who asks. A list filtered by the caller's scopes is private to them.
        let cache = match method {
            Method::ServerDiscover => Some((LIST_TTL_MS, "public")),
            Method::ListTools
            | Method::ListResources
            | Method::ListResourceTemplates
            | Method::ListPrompts => Some((
                LIST_TTL_MS,
                match self.inner.options.list_visibility {
                    ListVisibility::All => "public",
                    ListVisibility::Granted => "private",
                },
            )),
            Method::ReadResource => Some((0, "private")),
            _ => None,
        };
        let meta = &self.inner.server_info_meta;
        if id.is_some() && cache.is_none() && written_complete(result.as_bytes(), meta) {
            return Response {
                id,
                payload: crate::protocol::Payload::Result(result),
            };
        }
        if let Some(id) = &id
            && let Some(result) = add_members(result.get(), cache, meta)
        {
            return Response::result(id.clone(), result);
        }
        let Ok(Value::Object(mut result)) = serde_json::from_str::<Value>(result.get()) else {
            return Response {
                id,
                payload: crate::protocol::Payload::Result(result),
            };
        };
        // An `InputRequiredResult` says so itself.
        let complete = !result.contains_key("resultType");
        if complete {
            result.insert("resultType".into(), "complete".into());
        }
        if let Some((ttl, scope)) = cache.filter(|_| complete) {
            result.insert("ttlMs".into(), ttl.into());
            result.insert("cacheScope".into(), scope.into());
        }
        let info = &self.inner.info;
        let meta = result.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                META_SERVER_INFO.into(),
                json!({ "name": info.name, "version": info.version }),
            );
        }
        match id {
            Some(id) => Response::result(id, raw(&result)),
            None => Response::error(
                None,
                ErrorObject::new(error_code::INTERNAL_ERROR, "response without id"),
            ),
        }
    }
}

/// What [`Core::modernize`] makes of a complete result, written from the serialized result
/// instead of through a `Value` built from it: the members added first, then the result's
/// own as they are written. `None` (build the value) unless `result` is an object with none
/// of the added members, whose member names are few, plain and distinct, and which a
/// `Value` reads: then the two answers are the same JSON.
///
/// Results are what the server serialized, so a `Value` reads them unless they nest deeper
/// than its limit (128 levels): text with fewer brackets than that cannot, and other text is
/// read through as a `Value` reads it.
fn add_members(result: &str, cache: Option<(u64, &str)>, meta: &RawValue) -> Option<Box<RawValue>> {
    let brackets = memchr::memchr2_iter(b'{', b'[', result.as_bytes()).count();
    if brackets >= 128 && serde_json::from_str::<Skip>(result).is_err() {
        return None;
    }
    let own = serde_json::from_str::<Own<'_>>(result).ok()?;
    to_raw(&Completed {
        cache,
        meta,
        own: &own.0[..own.1],
    })
    .ok()
}

/// The members of a result object, as written; reading fails (and the result is left to a
/// `Value`) when one is a member [`Completed`] adds, is spelled with escapes or given twice, or
/// when there are more than [`Own::MAX`].
struct Own<'a>([(&'a str, &'a RawValue); Own::MAX], usize);

impl Own<'_> {
    const MAX: usize = 16;
    /// The members the 2026-07-28 path adds.
    const ADDED: [&'static str; 4] = ["resultType", "ttlMs", "cacheScope", "_meta"];
}

impl<'de> Deserialize<'de> for Own<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Own<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Own<'de>, A::Error> {
                let mut own = Own([("", RawValue::NULL); Own::MAX], 0);
                while let Some(Name(name)) = map.next_key()? {
                    let written = &own.0[..own.1];
                    let Some(name) = name.filter(|name| {
                        !Own::ADDED.contains(name) && !written.iter().any(|(n, _)| n == name)
                    }) else {
                        // Left unread: the reading fails, as giving up should.
                        return Ok(own);
                    };
                    let Some(slot) = own.0.get_mut(own.1) else {
                        return Ok(own);
                    };
                    *slot = (name, map.next_value()?);
                    own.1 += 1;
                }
                Ok(own)
            }
        }
        d.deserialize_map(Object)
    }
}

/// A member name borrowed from the text: `None` when it has escapes.
struct Name<'a>(Option<&'a str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl<'de> Visitor<'de> for Key {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Some(v)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Name<'de>, E> {
                Ok(Name(None))
            }
        }
        d.deserialize_str(Key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::super::complete::Complete;
    use super::*;
    use crate::protocol::{CallToolResult, Content};

    const INFO: (&str, &str) = ("srv", "1.2");

    fn meta() -> Box<RawValue> {
        raw(&json!({ META_SERVER_INFO: { "name": INFO.0, "version": INFO.1 } }))
    }

    /// What `modernize` made of a result through a `Value`, before results were completed from
    /// their serialized members: the answer those must equal.
    fn through_value(result: &str, cache: Option<(u64, &str)>) -> Option<Value> {
        let Ok(Value::Object(mut result)) = serde_json::from_str::<Value>(result) else {
            return None;
        };
        let complete = !result.contains_key("resultType");
        if complete {
            result.insert("resultType".into(), "complete".into());
        }
        if let Some((ttl, scope)) = cache.filter(|_| complete) {
            result.insert("ttlMs".into(), ttl.into());
            result.insert("cacheScope".into(), scope.into());
        }
        let meta = result.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                META_SERVER_INFO.into(),
                json!({ "name": INFO.0, "version": INFO.1 }),
            );
        }
        Some(Value::Object(result))
    }

    /// The member names of an object as written, repeats included.
    fn names(text: &str) -> Vec<String> {
        let mut reader = serde_json::Deserializer::from_str(text);
        let map = Map::<String, Value>::deserialize(&mut reader).unwrap();
        let mut all: Vec<String> = map.keys().cloned().collect();
        // A repeated name would make the text longer than its map written back.
        let written = serde_json::to_string(&map).unwrap();
        assert_eq!(
            written.len(),
            serde_json::to_string(&serde_json::from_str::<Value>(text).unwrap())
                .unwrap()
                .len()
        );
        all.sort();
        all
    }

    fn deep(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn completed_from_members_is_the_same_json_as_through_a_value() {
        let meta = meta();
        let many = format!("[{}]", vec!["{}"; 140].join(","));
        let results = [
            "{}".to_owned(),
            r#"{"content":[{"type":"text","text":"hi \u0001 é"}],"isError":true}"#.to_owned(),
            r#"{"tools":[{"name":"a","inputSchema":{"type":"object"}}],"nextCursor":"c"}"#
                .to_owned(),
            format!(r#"{{"rows":{many},"n":1.5e300,"m":-7}}"#),
            format!(r#"{{"deep":{}}}"#, deep(126)),
            format!(r#"{{"deep":{}}}"#, deep(127)),
            format!(r#"{{"deep":{}}}"#, deep(200)),
            // Left to a `Value`: a member the path adds, a repeated or escaped name, too many.
            r#"{"resultType":"input_required","inputRequests":{}}"#.to_owned(),
            r#"{"_meta":{"x":1},"content":[]}"#.to_owned(),
            r#"{"ttlMs":5}"#.to_owned(),
            r#"{"a":1,"a":2}"#.to_owned(),
            r#"{"\u0061":1}"#.to_owned(),
            format!(
                "{{{}}}",
                (0..17)
                    .map(|i| format!(r#""k{i}":{i}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            // Not an object.
            "[1]".to_owned(),
        ];
        for cache in [None, Some((300_000, "public")), Some((0, "private"))] {
            for result in &results {
                let expected = through_value(result, cache);
                if let Some(completed) = add_members(result, cache, &meta) {
                    let got: Value = serde_json::from_str(completed.get()).unwrap();
                    assert_eq!(Some(got), expected, "{result}");
                    names(completed.get());
                }
            }
        }
        // Taken, not left to a `Value`: the common results.
        assert!(add_members("{}", None, &meta).is_some());
        assert!(add_members(&results[3], Some((0, "private")), &meta).is_some());
        // Nesting up to the limit is taken; past it, the result is left as it is, as before.
        assert!(through_value(&results[4], None).is_some());
        assert!(add_members(&results[4], None, &meta).is_some());
        for too_deep in &results[5..7] {
            assert_eq!(through_value(too_deep, None), None);
            assert!(add_members(too_deep, None, &meta).is_none());
        }
    }

    #[test]
    fn a_tool_result_written_complete_is_what_completing_it_made() {
        let meta = meta();
        let results = [
            CallToolResult::success(vec![Content::text("hello")]),
            CallToolResult::error("failed"),
            CallToolResult {
                structured_content: Some(raw(&json!({"rows": [1, 2, {"a": null}]}))),
                ..CallToolResult::success(vec![])
            },
        ];
        for result in &results {
            let written = to_raw(&Complete::new(result, &meta)).unwrap();
            let expected = through_value(to_raw(result).unwrap().get(), None).unwrap();
            let got: Value = serde_json::from_str(written.get()).unwrap();
            assert_eq!(got, expected, "{}", written.get());
            names(written.get());
            // `modernize` leaves it as it is.
            assert!(
                written_complete(written.get().as_bytes(), &meta),
                "{}",
                written.get()
            );
        }
        let plain = to_raw(&results[0]).unwrap();
        assert!(!written_complete(plain.get().as_bytes(), &meta));
        let other = raw(&json!({ META_SERVER_INFO: { "name": "other", "version": "1" } }));
        let theirs = to_raw(&Complete::new(&results[0], &other)).unwrap();
        assert!(!written_complete(theirs.get().as_bytes(), &meta));
    }
}
