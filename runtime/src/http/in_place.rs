//! A future made in its box, not on the stack and copied there.
//!
//! `Box::pin(future)` makes the future first, at its whole size (about a kilobyte for the
//! endpoint's), and copies every byte of it into the box, though only its captured values are
//! set before its first poll. The copy reads stack lines nothing else touched and writes the
//! box's lines. Allocating the box first and making the future into it lets the compiler write
//! the captured values straight into the box, and nothing else. That is an optimisation the
//! compiler may make, not a guarantee: it does for the endpoint's future (`cors.rs`: the
//! kilobyte's copy is gone from every request, and about 15 data-cache misses with it), not for
//! the dispatcher's future in `respond.rs`, made by a function that does work of its own, which
//! is still copied and so is boxed there as before.

use std::pin::Pin;

/// The future `make` returns, pinned in a box it is made in.
///
/// `make` runs after the allocation, so that its result can be written in place; call it with
/// a closure that makes the future (`boxed(|| handler(a, b))`), not with a future already made.
#[inline(always)]
pub(crate) fn boxed<F>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    let slot = Box::<F>::new_uninit();
    Box::into_pin(Box::write(slot, make()))
}

#[cfg(test)]
mod tests {
    use super::boxed;

    #[tokio::test]
    async fn a_future_made_in_its_box_runs_as_made() {
        let text = String::from("kept");
        let future = boxed(move || async move {
            tokio::task::yield_now().await;
            text.len()
        });
        assert_eq!(future.await, 4);
    }
}
