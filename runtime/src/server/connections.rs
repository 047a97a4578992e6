//! The live client connections: registering them, hanging up, and telling subscribers that a
//! resource changed.

use std::sync::Arc;

use serde_json::json;

use super::registry::Core;
use crate::connection::Connection;
use crate::principal::Principal;
use crate::protocol::Method;

impl Core {
    pub(crate) fn connect(&self) -> Arc<Connection> {
        let connection = Connection::new();
        let mut connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        connections.retain(|c| c.strong_count() > 0);
        connections.push(Arc::downgrade(&connection));
        connection
    }

    pub(crate) fn hang_up_all(&self) {
        let connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for connection in connections.iter().filter_map(std::sync::Weak::upgrade) {
            connection.hang_up();
        }
    }

    pub(crate) fn notify_resource_updated(&self, uri: &str) -> usize {
        let connections: Vec<Arc<Connection>> = {
            let connections = self
                .inner
                .connections
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            connections
                .iter()
                .filter_map(std::sync::Weak::upgrade)
                .collect()
        };
        let message = json!({
            "jsonrpc": "2.0",
            "method": Method::ResourceUpdated,
            "params": { "uri": uri },
        });
        // Subscriptions are kept in the URI's normal form. An update goes only to a session whose
        // latest request's principal may still read the resource.
        // The resource's scope sets are found once, not once per subscriber.
        let Some(normal) = crate::resource::normalize_uri(uri) else {
            return 0;
        };
        let Some(required) = self
            .find_resource(uri)
            .map(|(_, meta, _)| self.resource_scopes(uri, meta).collect::<Vec<_>>())
        else {
            return 0;
        };
        let may_read = |principal: &Principal| {
            required.iter().all(|scopes| {
                self.inner
                    .scopes
                    .missing(principal.scopes(), scopes)
                    .is_empty()
            })
        };
        connections
            .iter()
            .filter(|c| c.is_subscribed(&normal))
            .filter(|c| c.subscriber().is_some_and(|principal| may_read(&principal)))
            .filter(|c| c.notify(&message))
            .count()
    }
}
