//! [`EventBus`]: what replicas tell each other — resource updates and task changes for every
//! replica's subscribers, and a task's cancellation or answers for the replica running it. Messages are
//! opaque strings to the bus (this module writes and reads them); `RedisStore` (feature
//! `redis`) is one over Redis pub/sub.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::store::StoreFuture;

/// A channel every replica publishes to and hears from.
pub trait EventBus: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes `message` to every replica (this one included).
    fn publish<'a>(&'a self, message: &'a str) -> StoreFuture<'a, ()>;

    /// Starts handing every message published by any replica to `deliver`, reconnecting as
    /// needed, until `deliver` answers `false` (its server is gone). Called once, when the
    /// server is built, inside a Tokio runtime.
    fn subscribe(&self, deliver: Arc<dyn Fn(&str) -> bool + Send + Sync>);
}

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// `Server::notify_resource_updated` was called on some replica.
    ResourceUpdated { uri: String },
    /// `tasks/cancel` for a task another replica runs.
    CancelTask { task: String },
    /// `tasks/update` for a task another replica runs.
    AnswerTask {
        task: String,
        responses: Map<String, Value>,
    },
    /// A task changed (for the subscriptions following it, on every replica).
    TaskChanged {
        owner: String,
        tool: String,
        task: Value,
    },
}

/// An event as it travels: which replica sent it, so that one skips its own.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) origin: String,
    #[serde(flatten)]
    pub(crate) event: Event,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_travel_as_json_with_their_origin() {
        let envelope = Envelope {
            origin: "r1".into(),
            event: Event::AnswerTask {
                task: "t".into(),
                responses: json!({ "k": { "action": "accept" } })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        };
        let text = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.origin, "r1");
        assert_eq!(back.event, envelope.event);
        let update: Envelope =
            serde_json::from_str(r#"{"origin":"r2","event":"resource_updated","uri":"x://a"}"#)
                .unwrap();
        assert_eq!(
            update.event,
            Event::ResourceUpdated {
                uri: "x://a".into()
            }
        );
    }
}
