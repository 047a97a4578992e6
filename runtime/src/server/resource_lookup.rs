//! Which resource a URI names, and the scopes reading it needs: the lookup that
//! `resources/read`, subscriptions and update notifications share. URIs are looked up in their
//! RFC 3986 normal form ([`crate::resource::normalize_uri`]), so that no spelling of a URI, and
//! no `..` in it, reaches a resource without that resource's scopes.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Core, Denial};
use crate::principal::Principal;
use crate::protocol::RequestId;
use crate::resource::ResourceMeta;

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
    pub(super) fn authorize_resource(
        &self,
        id: &RequestId,
        uri: &str,
        meta: &'static ResourceMeta,
        principal: &Principal,
    ) -> Result<(), Denial> {
        self.resource_scopes(uri, meta)
            .try_for_each(|scopes| self.authorize(id, "resource", uri, scopes, principal))
    }

    /// The scopes resource `uri`, found as `meta`, needs: its own, and when it was found by a
    /// template, those of every other template that matches the URI too (two templates declared
    /// over the same URIs with different scopes must not let the more open one serve what the
    /// other protects).
    pub(super) fn resource_scopes(
        &self,
        uri: &str,
        meta: &'static ResourceMeta,
    ) -> impl Iterator<Item = &'static [&'static str]> {
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
                        && !other.scopes.is_empty()
                        && crate::resource::match_template(other.uri, normal).is_some()
                })
            })
            .map(|&(other, _)| other.scopes);
        std::iter::once(meta.scopes).chain(others)
    }
}
