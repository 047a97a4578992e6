//! The open `subscriptions/listen` streams of a server: for each, what it agreed to deliver, the
//! principal that opened it and where its messages go, registered for as long as it is open.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::Notify;

use crate::connection::Outbound;
use crate::principal::Principal;
use crate::protocol::RequestId;

/// How a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The server ended it (shutting down): it answers the `subscriptions/listen` request, so
    /// the client knows the end was meant (2026-07-28 subscriptions, "Graceful Closure").
    Closed,
    /// Its messages can no longer be delivered (the client went, or stopped reading).
    Gone,
}

/// One open subscription.
pub(super) struct Listener {
    /// The id of the `subscriptions/listen` request: every message of the stream carries it.
    pub(super) id: RequestId,
    /// Who opened it: an update goes out only while this principal may read the resource.
    pub(super) principal: Principal,
    /// The normal forms of the resources whose updates it delivers.
    pub(super) resources: HashSet<String>,
    /// The tasks whose status it delivers (tasks extension).
    pub(super) tasks: HashSet<String>,
    /// Where its messages go; `None` once they can no longer be delivered.
    sink: Mutex<Option<Outbound>>,
    end: Mutex<Option<End>>,
    ended: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Listener {
    pub(super) fn new(
        id: RequestId,
        principal: Principal,
        resources: HashSet<String>,
        tasks: HashSet<String>,
        outbound: Outbound,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            principal,
            resources,
            tasks,
            sink: Mutex::new(Some(outbound)),
            end: Mutex::new(None),
            ended: Notify::new(),
        })
    }

    /// Sends one message on the stream; false when it can no longer be delivered (the
    /// subscription then ends as [`End::Gone`]).
    pub(super) fn send(&self, message: &Value) -> bool {
        Self::send_on(&mut lock(&self.sink), message, self)
    }

    fn send_on(sink: &mut Option<Outbound>, message: &Value, listener: &Self) -> bool {
        let sent = sink.as_ref().is_some_and(|outbound| outbound.send(message));
        if !sent && sink.take().is_some() {
            listener.finish(End::Gone);
        }
        sent
    }

    /// Ends the subscription (the first end is the one that counts).
    pub(super) fn finish(&self, end: End) {
        let mut current = lock(&self.end);
        if current.is_none() {
            *current = Some(end);
            drop(current);
            self.ended.notify_waiters();
        }
    }

    /// Resolves with how the subscription ended, once it has.
    pub(super) async fn ended(&self) -> End {
        loop {
            // Made before the check: a `finish` between the two still wakes it.
            let notified = self.ended.notified();
            if let Some(end) = *lock(&self.end) {
                return end;
            }
            notified.await;
        }
    }
}

/// Every open subscription of one server.
#[derive(Default)]
pub(super) struct Listeners {
    open: Mutex<HashMap<u64, Arc<Listener>>>,
    next: AtomicU64,
}

impl Listeners {
    /// Registers `listener` and sends it `ack` before any update can reach it: the
    /// acknowledgement is the first message of a subscription (2026-07-28 subscriptions,
    /// "Acknowledgment"). An update published meanwhile waits for the listener's sink, so it
    /// follows the acknowledgement rather than being lost. Dropping the registration
    /// unregisters the listener.
    pub(super) fn register(&self, listener: Arc<Listener>, ack: &Value) -> Registration<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let mut sink = lock(&listener.sink);
        lock(&self.open).insert(key, Arc::clone(&listener));
        Listener::send_on(&mut sink, ack, &listener);
        drop(sink);
        Registration {
            listeners: self,
            key,
        }
    }

    /// The open listeners `wanted` picks (looked at under the registry's lock: keep it cheap).
    pub(super) fn matching(&self, wanted: impl Fn(&Listener) -> bool) -> Vec<Arc<Listener>> {
        lock(&self.open)
            .values()
            .filter(|listener| wanted(listener))
            .cloned()
            .collect()
    }

    /// Ends every open subscription as the server's doing ([`End::Closed`]).
    pub(super) fn close_all(&self) {
        for listener in self.matching(|_| true) {
            listener.finish(End::Closed);
        }
    }
}

/// A listener's place in [`Listeners`]; dropping it unregisters the listener.
pub(super) struct Registration<'a> {
    listeners: &'a Listeners,
    key: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        // Dropped outside the lock: the last reference may hold the stream's sender.
        let listener = lock(&self.listeners.open).remove(&self.key);
        drop(listener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listener(outbound: Outbound) -> Arc<Listener> {
        Listener::new(
            RequestId::Number(1.into()),
            Principal::anonymous(),
            HashSet::new(),
            HashSet::new(),
            outbound,
        )
    }

    #[test]
    fn registration_lasts_as_long_as_its_guard() {
        let listeners = Listeners::default();
        let (outbound, mut rx) = Outbound::channel();
        let registration = listeners.register(listener(outbound), &json!("ack"));
        assert_eq!(rx.try_recv().as_deref(), Some(r#""ack""#));
        assert_eq!(listeners.matching(|_| true).len(), 1);
        drop(registration);
        assert!(listeners.matching(|_| true).is_empty());
    }

    #[tokio::test]
    async fn a_listener_whose_client_is_gone_ends_as_gone() {
        let listeners = Listeners::default();
        let (outbound, rx) = Outbound::channel();
        let one = listener(outbound);
        let _registration = listeners.register(Arc::clone(&one), &json!("ack"));
        drop(rx);
        assert!(!one.send(&json!("lost")));
        assert_eq!(one.ended().await, End::Gone);
        // A later close does not change how it ended.
        listeners.close_all();
        assert_eq!(one.ended().await, End::Gone);
    }

    #[tokio::test]
    async fn closing_all_ends_every_listener_as_closed() {
        let listeners = Listeners::default();
        let (outbound, _rx) = Outbound::channel();
        let one = listener(outbound);
        let _registration = listeners.register(Arc::clone(&one), &json!("ack"));
        let waiting = tokio::spawn({
            let one = Arc::clone(&one);
            async move { one.ended().await }
        });
        tokio::task::yield_now().await;
        listeners.close_all();
        assert_eq!(waiting.await.unwrap(), End::Closed);
        assert!(
            one.send(&json!("still deliverable")),
            "closing is not losing the sink"
        );
    }
}
