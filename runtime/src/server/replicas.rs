//! Talking to the other replicas through the [`EventBus`](super::EventBus): this process's
//! events published (a resource update, a request about a task another replica runs), and
//! theirs acted on (resource updates delivered to this process's subscribers; a task of this
//! process cancelled or answered).

use std::sync::{Arc, Weak};

use super::bus::{Envelope, Event};
use super::registry::{Core, Inner};

impl Core {
    /// Subscribes to the bus, if there is one: every event another replica publishes reaches
    /// this core for as long as it lives.
    pub(super) fn listen_to_replicas(&self) {
        let Some(bus) = &self.inner.options.event_bus else {
            return;
        };
        let core: Weak<Inner> = Arc::downgrade(&self.inner);
        bus.subscribe(Arc::new(move |message: &str| {
            let Some(inner) = core.upgrade() else {
                return false;
            };
            Core { inner }.on_replica_event(message);
            true
        }));
    }

    /// Tells the other replicas of `event`, in the background (a bus that does not answer is
    /// logged: each replica still serves its own subscribers and tasks).
    pub(super) fn publish(&self, event: Event) {
        let Some(bus) = self.inner.options.event_bus.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "scopegate::replicas", "no Tokio runtime: an event was not published");
            return;
        };
        let envelope = Envelope {
            origin: self.inner.origin.clone(),
            event,
        };
        let Ok(message) = serde_json::to_string(&envelope) else {
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = bus.publish(&message).await {
                tracing::warn!(target: "scopegate::replicas", %error, "an event was not published");
            }
        });
    }

    /// An event from the bus: this process's own are skipped (already acted on).
    fn on_replica_event(&self, message: &str) {
        let Ok(Envelope { origin, event }) = serde_json::from_str::<Envelope>(message) else {
            tracing::warn!(target: "scopegate::replicas", "an unreadable event was ignored");
            return;
        };
        if origin == self.inner.origin {
            return;
        }
        match event {
            Event::ResourceUpdated { uri } => {
                self.deliver_resource_updated(&uri);
            }
            Event::CancelTask { task } => self.cancel_local_task(&task),
            Event::AnswerTask { task, responses } => self.answer_local_task(&task, &responses),
            Event::TaskChanged { owner, tool, task } => {
                self.notify_task_listeners(&owner, &tool, &task);
            }
        }
    }
}
