//! Resources: `resources/read`, subscriptions, a resource's list entry, and which resource a
//! URI names with the scopes reading it needs (the lookup `resources/read`, subscriptions and
//! update notifications share). URIs are looked up in their RFC 3986 normal form
//! ([`crate::resource::normalize_uri`]), so that no spelling of a URI, and no `..` in it, reaches
//! a resource without that resource's scopes.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::authorize::{Denial, Target};
use super::json::{empty_object, raw};
use super::params::parse_params;
use super::registry::Core;
use super::reply::Reply;
use super::run::run;
use crate::connection::Connection;
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Method, RequestId, Response, error_code};
use crate::resource::ResourceMeta;

impl Core {
    pub(super) async fn read_resource(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        #[derive(Deserialize)]
        struct ReadParams {
            uri: String,
            #[serde(rename = "_meta")]
            meta: Option<Map<String, Value>>,
        }
        let params: ReadParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let not_found = |id| resource_not_found(id, &params.uri);
        let Some((index, meta, arguments)) = self.find_resource(&params.uri) else {
            return not_found(id);
        };
        if let Err(denial) = self.authorize_resource(&id, &params.uri, meta, principal) {
            return Reply::Denied(denial);
        }
        let handlers = &*self.inner.handlers;
        let Some(output) = run!(
            self,
            id: &id,
            meta: params.meta.map(crate::handler::RequestMeta::built),
            link: link,
            name: meta.name,
            target: Target {
                kind: "resource",
                name: &params.uri,
                scopes: meta.scopes,
                rules: &meta.rules,
            },
            matched: &std::cell::Cell::new(0),
            principal: principal,
            arguments: arguments.into(),
            problems: Vec::new(),
            strings: true,
            detach: None,
            handler: |call| handlers.read_resource(index, call),
        ) else {
            return Reply::Nothing;
        };
        let output = match output.map_err(|failure| failure.reply(&id)) {
            Err(Ok(reply)) => return reply,
            Err(Err(failure)) => Err(failure),
            Ok(output) => Ok(output),
        };
        let result = match output {
            Ok(output) => output.into_result(&params.uri, meta.mime_type),
            Err(failure) => Err(crate::resource::ResourceError::Failed(
                failure.report("resource", meta.name),
            )),
        };
        Reply::Response(match result {
            Ok(contents) => Response::result(id, raw(&json!({ "contents": contents }))),
            Err(crate::resource::ResourceError::NotFound) => return not_found(id),
            Err(crate::resource::ResourceError::InvalidParams(message)) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ),
            Err(crate::resource::ResourceError::Failed(message)) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INTERNAL_ERROR, message),
            ),
        })
    }

    /// must hold its scopes (updates reveal it as much as reading does).
    pub(super) fn subscribe(
        &self,
        id: RequestId,
        method: &Method,
        params: Option<&RawValue>,
        principal: &Principal,
        connection: &Connection,
    ) -> Reply {
        #[derive(Deserialize)]
        struct SubscribeParams {
            uri: String,
        }
        let params: SubscribeParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let Some((_, meta, _)) = self.find_resource(&params.uri) else {
            return resource_not_found(id, &params.uri);
        };
        // Anyone may stop listening, also after losing the scopes that let it start.
        let subscribing = *method == Method::Subscribe;
        if subscribing
            && let Err(denial) = self.authorize_resource(&id, &params.uri, meta, principal)
        {
            return Reply::Denied(denial);
        }
        // Kept in the form the resource was found by: updates name it that way.
        let Some(uri) = crate::resource::normalize_uri(&params.uri) else {
            return resource_not_found(id, &params.uri);
        };
        if !connection.set_subscribed(&uri, subscribing, principal) {
            return Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!(
                        "too many subscriptions: at most {} URIs of {} KiB in all per session",
                        crate::connection::MAX_SUBSCRIPTIONS,
                        crate::connection::MAX_SUBSCRIPTION_BYTES / 1024
                    ),
                ),
            ));
        }
        Reply::Response(Response::result(id, empty_object()))
    }
}

/// The error for a URI that names no resource (MCP `-32002`; 2026-07-28 turns it into
/// `-32602`).
fn resource_not_found(id: RequestId, uri: &str) -> Reply {
    Reply::Response(Response::error(
        Some(id),
        ErrorObject::new(error_code::RESOURCE_NOT_FOUND, "resource not found")
            .with_data(json!({ "uri": uri })),
    ))
}

impl Core {
    /// The resource `uri` names: in its normal form ([`crate::resource::normalize_uri`]; none
    /// when its `..` segments climb above the root), a static one by its URI, else the first
    /// template that matches, with its variables.
    pub(super) fn find_resource(
        &self,
        uri: &str,
    ) -> Option<(usize, &'static ResourceMeta, Map<String, Value>)> {
        let resources = &self.inner.resources;
        let normal = crate::resource::normalize_uri(uri)?;
        if let Some(&index) = self.inner.resource_by_uri.get(&*normal) {
            return Some((index, resources[index].0, Map::new()));
        }
        resources
            .iter()
            .enumerate()
            .filter(|(_, (meta, _))| meta.template)
            .find_map(|(index, &(meta, _))| {
                crate::resource::match_template(meta.uri, &normal).map(|vars| {
                    let args = vars
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect();
                    (index, meta, args)
                })
            })
    }

    /// The scope check of resource `uri`, found as `meta`: every set of
    /// [`Self::resource_scopes`].
    fn authorize_resource(
        &self,
        id: &RequestId,
        uri: &str,
        meta: &'static ResourceMeta,
        principal: &Principal,
    ) -> Result<(), Box<Denial>> {
        self.resource_scopes(uri, meta).try_for_each(|meta| {
            let target = Target {
                kind: "resource",
                name: uri,
                scopes: meta.scopes,
                rules: &meta.rules,
            };
            self.authorize(id, target, principal)
        })
    }

    /// The resources whose scopes reading `uri`, found as `meta`, needs: its own, and when it
    /// was found by a template, those of every other template that matches the URI too (two
    /// templates declared over the same URIs with different scopes must not let the more open
    /// one serve what the other protects).
    pub(super) fn resource_scopes(
        &self,
        uri: &str,
        meta: &'static ResourceMeta,
    ) -> impl Iterator<Item = &'static ResourceMeta> {
        let normal = meta
            .template
            .then(|| crate::resource::normalize_uri(uri).map(Cow::into_owned))
            .flatten();
        let others = self
            .inner
            .resources
            .iter()
            .filter(move |&&(other, _)| {
                normal.as_deref().is_some_and(|normal| {
                    other.template
                        && !std::ptr::eq(other, meta)
                        && !(other.scopes.is_empty() && other.rules.any_scopes.is_empty())
                        && crate::resource::match_template(other.uri, normal).is_some()
                })
            })
            .map(|&(other, _)| other);
        std::iter::once(meta).chain(others)
    }
}
