//! Running a handler: extraction and the handler's future with panics caught, until it
//! finishes, its request is cancelled, or its time runs out.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::call::Call;
use super::registry::Core;
use crate::handler::{Link, RequestContext};
use crate::principal::Principal;
use crate::protocol::RequestId;

impl Core {
    /// Runs a resource or prompt handler: extraction, then the handler's future, with panics
    /// caught at both stages. `None` when the client cancelled the request.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run<T: Send + 'static>(
        &self,
        id: &RequestId,
        meta: Option<Map<String, Value>>,
        link: Link,
        name: &'static str,
        principal: &Principal,
        arguments: Map<String, Value>,
        kind: &'static str,
        handler: impl FnOnce(Call<'_>) -> crate::handler::HandlerFuture<T>,
    ) -> Option<Result<T, String>> {
        let flight = link.connection.start(id);
        let timeout = self
            .inner
            .options
            .handler_timeout
            .or(link.connection.handler_timeout());
        let context = RequestContext::new(
            id.clone(),
            name,
            meta,
            Some(link),
            Arc::clone(&flight.cancel),
        );
        let call = Call {
            principal,
            arguments,
            context: &context,
            problems: Vec::new(),
            kind,
            strings: true,
        };
        let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(call)))
        {
            Ok(future) => future,
            // Logged, and answered as a handler's panic is: its text is the server's, not the
            // client's to read.
            Err(payload) => {
                let panic = crate::handler::panic_message(payload.as_ref());
                tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "extraction panicked");
                return Some(Err(format!(
                    "{kind} `{name}` failed with an internal error"
                )));
            }
        };
        let result = match settle(future, &flight.cancel, timeout).await {
            Settled::Done(result) => result,
            Settled::Cancelled => return None,
            Settled::TimedOut => return Some(Err(format!("{kind} `{name}` timed out"))),
        };
        if let Err(panic) = &result {
            tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(panic, crate::clip::TEXT_BYTES), "handler panicked");
        }
        Some(result.map_err(|_| format!("{kind} `{name}` failed with an internal error")))
    }
}

/// How a handler's run ended.
pub(super) enum Settled<T> {
    /// It finished (`Err`: it panicked, with the message).
    Done(Result<T, String>),
    /// Its request was cancelled first: it was dropped.
    Cancelled,
    /// It ran past the timeout: it was dropped.
    TimedOut,
}

/// Runs a handler until it finishes, its request is cancelled, or `timeout` passes. The handler
/// is polled once before anything else is built: one that finishes at once (most do) never
/// arms the timer, and the cancellation and timeout futures are boxed, built only for a
/// handler that waits, so that a call's future does not carry their room.
pub(super) async fn settle<T: Send + 'static>(
    mut future: crate::handler::HandlerFuture<T>,
    cancel: &crate::connection::Cancel,
    timeout: Option<std::time::Duration>,
) -> Settled<T> {
    let first =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx)))
            .await;
    if let std::task::Poll::Ready(outcome) = first {
        return Settled::Done(outcome);
    }
    // The handler was just polled, and its waker is this task's: it is not polled again until
    // the task wakes (a handler that yields once must not run on at once).
    let mut guards = Box::pin(async move {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Settled::Cancelled,
            () = deadline(timeout) => Settled::TimedOut,
        }
    });
    let mut polled = true;
    std::future::poll_fn(|cx| {
        if !std::mem::take(&mut polled)
            && let std::task::Poll::Ready(outcome) = std::pin::Pin::new(&mut future).poll(cx)
        {
            return std::task::Poll::Ready(Settled::Done(outcome));
        }
        guards.as_mut().poll(cx)
    })
    .await
}

/// Completes after `timeout`, or never.
async fn deadline(timeout: Option<std::time::Duration>) {
    match timeout {
        Some(timeout) => tokio::time::sleep(timeout).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use super::*;
    use crate::connection::Cancel;
    use crate::handler::HandlerFuture;

    /// A future that counts its polls.
    struct Counted<F> {
        inner: Pin<Box<F>>,
        polls: Arc<AtomicUsize>,
    }

    impl<F: Future> Future for Counted<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.inner.as_mut().poll(cx)
        }
    }

    #[tokio::test]
    async fn a_waiting_handler_is_polled_again_only_once_woken() {
        let polls = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(tokio::sync::Notify::new());
        let handler = HandlerFuture::new(Counted {
            inner: Box::pin({
                let go = Arc::clone(&go);
                async move {
                    go.notified().await;
                    7_u8
                }
            }),
            polls: Arc::clone(&polls),
        });
        let cancel = Cancel::default();
        let mut settling = std::pin::pin!(settle(handler, &cancel, Some(Duration::from_secs(60))));
        let first = std::future::poll_fn(|cx| Poll::Ready(settling.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "polled again before it woke"
        );
        go.notify_one();
        assert!(matches!(settling.await, Settled::Done(Ok(7))));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn handlers_settle_as_cancelled_timed_out_or_done_handler_first() {
        let cancelled = Cancel::default();
        cancelled.cancel();
        let waits = || HandlerFuture::new(std::future::pending::<u8>());
        assert!(matches!(
            settle(waits(), &cancelled, None).await,
            Settled::Cancelled
        ));
        assert!(matches!(
            settle(waits(), &Cancel::default(), Some(Duration::from_millis(20))).await,
            Settled::TimedOut
        ));
        // A handler that finishes at once is answered even on a request already cancelled.
        let at_once = HandlerFuture::new(async { 1_u8 });
        assert!(matches!(
            settle(at_once, &cancelled, None).await,
            Settled::Done(Ok(1))
        ));
        // A panic is an outcome, not an unwinding server.
        let panics = HandlerFuture::new(async {
            if true {
                panic!("boom");
            }
            0_u8
        });
        assert!(matches!(
            settle(panics, &Cancel::default(), None).await,
            Settled::Done(Err(message)) if message.contains("boom")
        ));
    }
}
