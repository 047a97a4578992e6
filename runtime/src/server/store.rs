//! What every store shared by replicas answers with: [`StoreFuture`] and [`StoreError`]. The
//! stores themselves live beside what they keep: request-state ids here in `replay`, sessions
//! and rate limits in `http::store`.

use std::future::Future;
use std::pin::Pin;

/// A future returned by a store.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not answer (unreachable, timed out, or holding data it cannot read).
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// An error with `message`.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}
