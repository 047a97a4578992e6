//! Authentication events, captured from the process-wide subscriber, with their stable fields.

use std::sync::Arc;

use serde_json::json;

use crate::harness::files;

/// Records the fields of every `scopegate::auth` event.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

thread_local! {
    /// The capture of the test running on this thread, if it is capturing.
    static CAPTURING: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// The process-wide subscriber of this test binary: hands `scopegate::auth` events to the
/// capture of the thread they happen on. A thread-local default subscriber would not do: other
/// tests hitting the same callsites from other threads leave tracing's per-callsite interest
/// cache saying nobody listens, and the capturing test misses events.
struct Forward;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Forward {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "scopegate::auth" {
            return;
        }
        CAPTURING.with(|capturing| {
            if let Some(capture) = &*capturing.borrow() {
                let mut fields = std::collections::BTreeMap::new();
                event.record(&mut Fields(&mut fields));
                capture.0.lock().unwrap().push(fields);
            }
        });
    }
}

impl Capture {
    /// Captures the `scopegate::auth` events of this thread from now on.
    fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt as _;
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Forward))
                .expect("no other global subscriber in this binary");
        });
        let capture = Capture::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(capture.clone()));
        capture
    }
}

#[tokio::test(flavor = "current_thread")]
async fn authentication_events_are_traced_with_stable_fields() {
    // current_thread: the server's tasks run on this thread, where the capture is.
    let capture = Capture::start();
    let h = files().await;
    let token = h.token("files:read").build();
    let session = h.initialize(&token).await;
    h.call(&token, &session, "write_file", json!({"path": "a"}))
        .await;
    h.rpc(
        Some(&h.token("files:read").expired().build()),
        None,
        json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
    )
    .await;
    h.rpc(None, None, json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    h.send(
        h.client
            .post(&h.resource)
            .header("authorization", "Bearer\tx"),
    )
    .await;

    let events = capture.0.lock().unwrap().clone();
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e.get("event").map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no {name} event in {events:?}"))
            .clone()
    };
    let accepted = find("token_accepted");
    assert_eq!(accepted["subject"], "alice");
    assert_eq!(accepted["client_id"], "test-client");
    let denied = find("scope_denied");
    assert_eq!(denied["tool"], "write_file");
    assert_eq!(denied["missing"], "files:write");
    assert_eq!(denied["subject"], "alice");
    // The rule that denied it (`scopes`, `any_scope`, a `when(..)` clause, `may_require`).
    assert_eq!(denied["rule"], "scopes");
    let rejected: Vec<&str> = events
        .iter()
        .filter(|e| e.get("event").map(String::as_str) == Some("token_rejected"))
        .map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(rejected, ["expired", "invalid_request"]);
    find("token_missing");
}
