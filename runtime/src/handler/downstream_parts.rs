//! [`DownstreamParts`]: what a call's parts hold for the `Downstream` extractor, in a file of
//! its own so that `extract.rs` (which holds it) and `downstream.rs` (which reads it) do not
//! depend on each other.

use std::sync::Arc;

use crate::auth::TokenExchange;

/// The APIs the item declared and the server's exchange client (a reference: nothing is cloned
/// for a handler that does not ask).
#[derive(Clone, Copy)]
pub(crate) struct DownstreamParts<'a> {
    pub(crate) apis: &'static [&'static str],
    pub(crate) exchange: Option<&'a Arc<TokenExchange>>,
}
