//! How the untyped core reaches the user's handlers: the [`Handlers`] trait object and the
//! [`Call`] a handler's parameters are extracted from.

use crate::handler::{CallParts, LazyContext};
use crate::principal::Principal;
use crate::prompt::PromptFuture;
use crate::protocol::Arguments;
use crate::resource::ResourceFuture;
use crate::tool::ToolFuture;

/// The user's server value, seen from the core: starts the handler at an index of its
/// `TOOLS`, `RESOURCES` or `PROMPTS` with the call's parts. Implemented for every
/// [`McpServer`]; with `Server<S>`'s delegating methods and the building of its tables, the
/// only code of the server compiled per server type.
pub(crate) trait Handlers: Send + Sync + 'static {
    fn call_tool(&self, index: usize, call: Call<'_>) -> ToolFuture;
    fn read_resource(&self, index: usize, call: Call<'_>) -> ResourceFuture;
    fn get_prompt(&self, index: usize, call: Call<'_>) -> PromptFuture;
}

/// What a handler's parameters are extracted from, but the server's value.
pub(crate) struct Call<'a> {
    pub(super) principal: &'a Principal,
    pub(super) arguments: Arguments,
    pub(super) context: &'a LazyContext<'a>,
    pub(super) problems: Vec<String>,
    pub(super) kind: &'static str,
    pub(super) strings: bool,
    /// The `when` clauses the arguments matched (bit `i`: clause `i`), set by the extraction.
    pub(super) matched: &'a std::cell::Cell<u64>,
    /// The item's downstream APIs and the server's token exchange.
    #[cfg(feature = "http")]
    pub(super) downstream: crate::handler::DownstreamParts<'a>,
}

impl<'a> Call<'a> {
    pub(super) fn with_state<S>(self, state: &'a S) -> CallParts<'a, S> {
        CallParts {
            state,
            principal: self.principal,
            arguments: self.arguments,
            context: self.context,
            problems: self.problems,
            kind: self.kind,
            strings: self.strings,
            matched: self.matched,
            #[cfg(feature = "http")]
            downstream: self.downstream,
        }
    }
}
