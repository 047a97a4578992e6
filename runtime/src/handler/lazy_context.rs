//! A call's [`RequestContext`], made only when something asks for it.
//!
//! Most handlers take no context: an `echo(text: String)` cannot report progress or ask the
//! client anything. Making the context anyway cost every call an allocation and the moves of
//! its parts into it (issue 24). The dispatcher hands the extraction a [`LazyContext`]: the
//! context is made the first time a parameter asks for it (a `RequestContext` parameter), or
//! when the call may go on as a task (which carries it), and otherwise never; what it would
//! have held is dropped once the handler's future is made.

use std::cell::{Cell, OnceCell};

use super::context::{Link, RequestContext};
use super::meta::RequestMeta;
use super::step_up::StepUp;
use crate::connection::Cancellation;
use crate::protocol::RequestId;

/// What a call's [`RequestContext`] is made of, until it is made.
pub(crate) struct LazyContext<'a> {
    request_id: &'a RequestId,
    tool: &'static str,
    cancel: &'a Cancellation,
    meta: Cell<Option<RequestMeta>>,
    link: Cell<Option<Link>>,
    step_up: Cell<Option<Box<StepUp>>>,
    made: OnceCell<RequestContext>,
}

impl<'a> LazyContext<'a> {
    pub(crate) fn new(
        request_id: &'a RequestId,
        tool: &'static str,
        meta: Option<RequestMeta>,
        link: Link,
        cancel: &'a Cancellation,
        step_up: Option<Box<StepUp>>,
    ) -> Self {
        Self {
            request_id,
            tool,
            cancel,
            meta: Cell::new(meta),
            link: Cell::new(Some(link)),
            step_up: Cell::new(step_up),
            made: OnceCell::new(),
        }
    }

    /// The name of the tool (or resource, or prompt) called.
    pub(crate) fn tool_name(&self) -> &'static str {
        self.tool
    }

    /// The context, made now if it was not yet.
    pub(crate) fn get(&self) -> &RequestContext {
        self.made.get_or_init(|| {
            RequestContext::new(
                self.request_id.clone(),
                self.tool,
                self.meta.take(),
                self.link.take(),
                self.cancel.clone(),
                self.step_up.take(),
            )
        })
    }

    /// The context if it was made, or made now when `needed`; `None` drops what it would have
    /// held (the request's channel to the client among it: nothing can send on it).
    pub(crate) fn finish(self, needed: bool) -> Option<RequestContext> {
        if needed {
            self.get();
        }
        self.made.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Connection, Outbound, OutboundReceiver};

    /// A call's parts: its id, its cancellation, its link (with a channel to the client) and
    /// the channel's receiving end.
    fn parts() -> (RequestId, Cancellation, Link, OutboundReceiver) {
        let (outbound, events) = Outbound::channel();
        let link = Link {
            connection: Connection::new(),
            outbound: Some(outbound),
            input: None,
        };
        (
            RequestId::String("7".into()),
            Cancellation::default(),
            link,
            events,
        )
    }

    #[tokio::test]
    async fn a_context_nothing_asked_for_is_never_made_and_lets_its_channel_go() {
        let (id, cancel, link, mut events) = parts();
        let lazy = LazyContext::new(&id, "echo", None, link, &cancel, None);
        assert_eq!(lazy.tool_name(), "echo");
        assert!(lazy.finish(false).is_none());
        // The only sender went with it: the receiver's stream ends (at once; the bound only
        // keeps a regression from hanging the suite).
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await;
        assert_eq!(ended, Ok(None));
    }

    #[test]
    fn a_context_asked_for_is_made_once_with_the_call_s_parts() {
        let (id, cancel, link, _events) = parts();
        let lazy = LazyContext::new(&id, "echo", None, link, &cancel, None);
        let first = lazy.get().clone();
        assert_eq!(first.request_id(), &id);
        assert_eq!(first.tool_name(), "echo");
        let finished = lazy.finish(false).expect("made");
        // The same context, not a second one.
        assert!(first.same_as(&finished));
    }

    #[test]
    fn a_context_needed_later_is_made_then() {
        let (id, cancel, link, _events) = parts();
        let lazy = LazyContext::new(&id, "export", None, link, &cancel, None);
        let context = lazy.finish(true).expect("made when needed");
        assert_eq!(context.tool_name(), "export");
    }
}
