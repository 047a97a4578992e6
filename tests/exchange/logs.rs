//! Everything logged, as text: a `tracing` subscriber at TRACE for every target, installed as
//! the thread's default (the tests run on a current-thread runtime, so the servers under test
//! log through it too). A test then asserts that no token appears anywhere in it.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The text logged since [`capture`].
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Fails if any of `secrets` was logged, naming which (not showing it).
    pub(crate) fn assert_free_of(&self, secrets: &[(&str, &str)]) {
        let text = self.text();
        assert!(
            !text.is_empty(),
            "nothing was logged: the capture is not installed"
        );
        for (what, secret) in secrets {
            assert!(!secret.is_empty(), "{what}: empty");
            assert!(!text.contains(secret), "{what} was logged");
        }
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capture for this thread.
pub(crate) fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}
