//! [`HandlerFuture`]: the pending result of a tool, resource or prompt handler, whose panics
//! become errors; and [`Rejected`], how a handler's output says its arguments were wrong.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The pending result of a tool, resource or prompt handler.
pub struct HandlerFuture<T> {
    inner: Pin<Box<dyn Future<Output = T> + Send + 'static>>,
}

impl<T> HandlerFuture<T> {
    /// Wraps a handler's future.
    pub fn new(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<T> fmt::Debug for HandlerFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFuture")
    }
}

impl<T> Future for HandlerFuture<T> {
    type Output = Result<T, String>;

    /// Polls the handler; a panic becomes `Err` with the panic message, never an unwinding
    /// server.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// How a handler's output says "the arguments were wrong": a tool answers with an `isError`
/// result the model can read; resources and prompts answer with a JSON-RPC error.
pub trait Rejected: Sized {
    /// The output for a call whose arguments failed, with `message` listing every problem.
    fn rejected(message: String) -> Self;
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
