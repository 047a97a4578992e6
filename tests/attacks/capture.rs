//! Audit capture: a `tracing` layer that records every `scopegate` event, so each case can
//! assert the refusal was audited.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

// ---- audit capture -----------------------------------------------------------------------

/// One captured `tracing` event: its target and fields.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) target: String,
    pub(crate) fields: BTreeMap<String, String>,
}

impl Event {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub(crate) fn is(&self, target: &str, event: &str) -> bool {
        self.target == target && self.field("event") == Some(event)
    }
}

/// Records every event whose target starts with `scopegate`.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<Event>>>);

impl Capture {
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub(crate) fn since(&self, mark: usize) -> Vec<Event> {
        self.0.lock().unwrap()[mark..].to_vec()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let target = event.metadata().target();
        if target.starts_with("scopegate") {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(Event {
                target: target.to_owned(),
                fields,
            });
        }
    }
}

/// Installs a capturing subscriber for this thread (the test's current-thread runtime).
pub(crate) fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let capture = Capture::default();
    let guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    (capture, guard)
}

pub(crate) const AUTH: &str = "scopegate::auth";
pub(crate) const HTTP: &str = "scopegate::http";
