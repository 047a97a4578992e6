//! The live client connections: registering them, hanging up (which also ends the open
//! `subscriptions/listen` streams), and telling subscribers that a resource changed.

use std::sync::Arc;

use serde_json::json;

use super::audience::Audience;
use super::registry::Core;
use crate::connection::Connection;
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
        drop(connections);
        self.inner.listeners.close_all();
    }

    /// The publish point of resource updates: every subscriber in this process whose
    /// principal may read the resource hears of it — legacy sessions on their GET stream,
    /// 2026-07-28 `subscriptions/listen` streams tagged with their subscription. Returns how
    /// many were told here; with an event bus every other replica delivers it to its own
    /// ([`Core::deliver_resource_updated`]).
    pub(crate) fn notify_resource_updated(&self, uri: &str) -> usize {
        self.publish(super::bus::Event::ResourceUpdated {
            uri: uri.to_owned(),
        });
        self.deliver_resource_updated(uri)
    }

    /// Delivers a resource update to this process's subscribers.
    pub(crate) fn deliver_resource_updated(&self, uri: &str) -> usize {
        // The resource and the scopes reading it needs are found once, not once per subscriber.
        let Some(audience) = self.audience(uri) else {
            return 0;
        };
        self.notify_sessions(&audience, uri) + self.notify_listeners(&audience, uri)
    }

    /// Legacy subscriptions: kept in the URI's normal form, and an update goes only to a
    /// session whose latest request's principal may still read the resource.
    fn notify_sessions(&self, audience: &Audience, uri: &str) -> usize {
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
        connections
            .iter()
            .filter(|c| c.is_subscribed(audience.normal()))
            .filter(|c| {
                c.subscriber()
                    .is_some_and(|principal| self.admits(audience, &principal))
            })
            .filter(|c| c.notify(&message))
            .count()
    }
}
