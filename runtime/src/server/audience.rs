//! Who may hear that a resource changed: a subscriber whose principal may read it. One rule for
//! both eras — legacy `resources/subscribe` (delivered on a session's GET stream) and 2026-07-28
//! `subscriptions/listen` streams — since an update reveals a resource as much as a read does.

use super::registry::Core;
use crate::principal::Principal;

/// The audience of changes to one resource: the normal form of its URI (subscriptions are kept
/// in it) and the resources whose scopes reading it needs.
pub(super) struct Audience {
    normal: String,
    required: Vec<&'static crate::resource::ResourceMeta>,
}

impl Audience {
    /// The URI's RFC 3986 normal form ([`crate::resource::normalize_uri`]).
    pub(super) fn normal(&self) -> &str {
        &self.normal
    }
}

impl Core {
    /// The audience of changes to the resource `uri` names; `None` when it names none. Found
    /// once per update, not once per subscriber.
    pub(super) fn audience(&self, uri: &str) -> Option<Audience> {
        let normal = crate::resource::normalize_uri(uri)?.into_owned();
        let (_, meta, _) = self.find_resource(uri)?;
        let required = self.resource_scopes(uri, meta).collect();
        Some(Audience { normal, required })
    }

    /// Whether `principal` may hear of changes to `audience`'s resource: it holds every scope
    /// set a read of it needs (the scope check of `resources/read`, without its denial). A
    /// read's `when` clauses and run-time demands cannot be known without reading, so a
    /// resource with them is heard of only by a principal holding every scope they can ask for:
    /// an update never tells of a resource its reader might have been refused.
    pub(super) fn admits(&self, audience: &Audience, principal: &Principal) -> bool {
        let table = &self.inner.scopes;
        audience
            .required
            .iter()
            .all(|meta| table.admits_every_rule(principal.scopes(), meta.scopes, &meta.rules))
    }
}
