//! Running a handler: extraction and the handler's future with panics caught, until it
//! finishes, its request is cancelled, or its time runs out.

/// Why a handler gave no output.
pub(super) enum Failure {
    /// Extracting its parameters panicked (the panic's message).
    ExtractionPanicked(String),
    /// Its future panicked (the panic's message).
    Panicked(String),
    /// It ran past the timeout and was dropped.
    TimedOut,
    /// A 2026-07-28 round ended without an output: the handler asked the client for something
    /// (the `InputRequiredResult`), or the round was refused (its state already used, or an
    /// answer of the wrong kind).
    /// Boxed: rare, and larger than the other failures.
    Input(Box<crate::server::input::InputEnd>),
    /// The call went on as a task (its handler handed to `detach`), with the request's context
    /// (made for every call that may go on as one).
    Detached(Option<crate::handler::RequestContext>),
    /// The caller lacks scopes the call's arguments add, or that its handler demanded.
    Denied(Box<crate::server::authorize::Denial>),
    /// The handler demanded a scope it did not declare: the error it is answered with.
    Answered(Box<crate::protocol::Response>),
}

impl Failure {
    /// The message a resource or prompt fails with, the failure logged: a panic's text is the
    /// server's, not the client's to read.
    pub(super) fn report(self, kind: &'static str, name: &'static str) -> String {
        match self {
            Failure::ExtractionPanicked(panic) => {
                tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "extraction panicked");
                format!("{kind} `{name}` failed with an internal error")
            }
            Failure::Panicked(panic) => {
                tracing::error!(target: "scopegate::tool", kind, name, panic = %crate::clip::clip(&panic, crate::clip::TEXT_BYTES), "handler panicked");
                format!("{kind} `{name}` failed with an internal error")
            }
            Failure::TimedOut => format!("{kind} `{name}` timed out"),
            // Answered before a failure is reported (see `Failure::reply`).
            Failure::Input(_) => format!("{kind} `{name}` needs input"),
            Failure::Detached(_) => format!("{kind} `{name}` went on as a task"),
            Failure::Denied(_) => format!("{kind} `{name}` was denied"),
            Failure::Answered(_) => format!("{kind} `{name}` was refused"),
        }
    }

    /// The reply of a failure that is answered as it is: a round that ended for input, a
    /// denial, a refused demand (`None` for the failures a handler's output reports).
    pub(super) fn reply(
        self,
        id: &crate::protocol::RequestId,
    ) -> Result<crate::server::reply::Reply, Self> {
        match self {
            Failure::Input(end) => Ok(end.reply(id)),
            Failure::Denied(denial) => Ok(crate::server::reply::Reply::Denied(denial)),
            Failure::Answered(response) => Ok(crate::server::reply::Reply::Response(*response)),
            other => Err(other),
        }
    }
}

impl crate::server::registry::Core {
    /// [`Core::refusal`](crate::server::registry::Core) as the failure `run!` ends with; `spent`: the request's input state
    /// was used, so the denial is answered in band.
    pub(super) fn refused_failure(
        &self,
        id: &crate::protocol::RequestId,
        target: crate::server::authorize::Target<'_>,
        refused: &crate::handler::Refused,
        principal: &crate::principal::Principal,
        spent: bool,
    ) -> Failure {
        match self.refusal(id, target, refused, principal) {
            Ok(mut denial) => {
                denial.in_band = spent;
                Failure::Denied(denial)
            }
            Err(response) => Failure::Answered(Box::new(response)),
        }
    }
}

/// Runs a tool, resource or prompt handler inside the caller's own future: the request in
/// flight, extraction, then the handler's future, with panics caught at both stages, until it
/// finishes, its request is cancelled or its time runs out (the server's timeout, else the
/// connection's). Evaluates to `None` when the client cancelled the request (MCP cancellation:
/// no response; the handler is dropped), else to the handler's output or its [`Failure`].
///
/// Its arguments, named: the request's `id` and `_meta`, its `link` to the client, the tool's,
/// prompt's or resource's `name`, the `target` of its scope checks (kind, name, scopes, rules:
/// an expression evaluated each time it is needed),
/// where to record the `when` clauses its arguments `matched`, the `principal`, the `arguments`,
/// the `problems` already found (a tool's unknown arguments), whether argument values arrive
/// as `strings` (URI template variables, prompt arguments), and the `handler` that extracts
/// the parameters from a [`Call`](super::call::Call) and starts the handler.
///
/// A macro, not an `async fn`: a nested future carries its arguments a second time and is moved
/// into place on every call; measured, that cost 1.2% of the instructions of a `tools/call`,
/// where this costs none.
macro_rules! run {
    (
        $core:expr,
        id: $id:expr,
        meta: $meta:expr,
        link: $link:expr,
        name: $name:expr,
        target: $target:expr,
        matched: $matched:expr,
        principal: $principal:expr,
        arguments: $arguments:expr,
        problems: $problems:expr,
        strings: $strings:expr,
        detach: $detach:expr,
        handler: $handler:expr $(,)?
    ) => {{
        let id: &$crate::protocol::RequestId = $id;
        let link: $crate::handler::Link = $link;
        let name: &'static str = $name;
        // Built where it is needed, from what the caller holds anyway: a `Target` kept across
        // the awaits below would enlarge every call's future.
        let target = || -> $crate::server::authorize::Target<'_> { $target };
        let principal: &$crate::principal::Principal = $principal;
        let input = link.input.clone();
        let flight = link.connection.start(id);
        let timeout = $core
            .inner
            .options
            .handler_timeout
            .or_else(|| link.connection.handler_timeout());
        // What the handler may demand at run time, and which of it the caller holds: only for
        // an item that declares `may_require` (any other demand is refused as undeclared).
        let may_require = target().rules.may_require;
        let step_up = if may_require.is_empty() {
            ::std::option::Option::None
        } else {
            let table = &$core.inner.scopes;
            $crate::handler::StepUp::new(may_require, |scope| {
                table.satisfies(principal.scopes(), scope)
            })
        };
        // Extraction builds the handler's future without running it: the scopes its arguments
        // add are checked next, and only then is a round's state spent (a denial leaves it
        // for the retry after the step-up). Only the handler's future is kept across that
        // await: a failure ends the block at once.
        'run: {
            let detach: ::std::option::Option<
                &mut (dyn FnMut($crate::handler::HandlerFuture<_>) + Send),
            > = $detach;
            // The `when` clauses the arguments matched, set by the generated extraction.
            let matched: &::std::cell::Cell<u64> = $matched;
            // The context is made only if a parameter asks for it, or the call may go on as a
            // task (which carries it). In a block of its own, ended before any await: a local
            // that was borrowed would otherwise keep its room in the call's future.
            let made = {
                let context = $crate::handler::LazyContext::new(
                    id,
                    name,
                    $meta,
                    link,
                    &flight.cancel,
                    step_up,
                );
                let call = $crate::server::call::Call {
                    principal,
                    arguments: $arguments,
                    context: &context,
                    problems: $problems,
                    kind: target().kind,
                    strings: $strings,
                    matched,
                    #[cfg(feature = "http")]
                    downstream: $crate::handler::DownstreamParts {
                        apis: target().rules.downstream,
                        exchange: $core.inner.options.token_exchange.as_ref(),
                    },
                };
                match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
                    ($handler)(call)
                })) {
                    Ok(future) => Ok((future, context.finish(detach.is_some()))),
                    Err(payload) => Err($crate::handler::panic_message(payload.as_ref())),
                }
            };
            let (future, context) = match made {
                Ok(made) => made,
                Err(message) => {
                    break 'run Some(Err($crate::server::run::Failure::ExtractionPanicked(
                        message,
                    )));
                }
            };
            if matched.get() != 0
                && let Err(denial) = $core.authorize_when(id, target(), matched.get(), principal)
            {
                break 'run Some(Err($crate::server::run::Failure::Denied(denial)));
            }
            // Only a round continued with a state has one to spend (a first round, nearly every
            // call, has none: no allocation for it). Boxed: every call's future would carry its
            // room.
            if let Some(round) = &input
                && round.presented().is_some()
            {
                // Cancellable while the state is checked (a shared store may be asked).
                flight.listen();
                if let Err(end) = ::std::boxed::Box::pin($core.admit_input(round)).await {
                    break 'run Some(Err($crate::server::run::Failure::Input(
                        ::std::boxed::Box::new(end),
                    )));
                }
            }
            // The handler first: one that finishes at once never arms the timer.
            let settled =
                $crate::server::run::settle(future, &flight, timeout, input.as_deref(), detach)
                    .await;
            // The round is over unless the call went on as a task: requests still
            // waiting on it (from tasks the handler spawned) give up.
            if let Some(round) = input.as_deref()
                && !matches!(settled, $crate::server::run::Settled::Detached)
            {
                round.end();
            }
            // A demand the handler made and was refused answers the call, whatever the
            // handler returned.
            if matches!(settled, $crate::server::run::Settled::Done(_))
                && let Some(refused) = context.as_ref().and_then(|c| c.refused())
            {
                let spent = input.as_deref().is_some_and(|r| r.presented().is_some());
                Some(Err($core.refused_failure(
                    id,
                    target(),
                    refused,
                    principal,
                    spent,
                )))
            } else {
                match settled {
                    $crate::server::run::Settled::Done(result) => {
                        Some(result.map_err($crate::server::run::Failure::Panicked))
                    }
                    $crate::server::run::Settled::Cancelled => None,
                    $crate::server::run::Settled::TimedOut => {
                        Some(Err($crate::server::run::Failure::TimedOut))
                    }
                    $crate::server::run::Settled::Detached => {
                        Some(Err($crate::server::run::Failure::Detached(context)))
                    }
                    $crate::server::run::Settled::Input => input.as_deref().map(|round| {
                        Err($crate::server::run::Failure::Input(::std::boxed::Box::new(
                            $core.input_required(round),
                        )))
                    }),
                }
            }
        }
    }};
}
pub(super) use run;

/// How a handler's run ended.
pub(super) enum Settled<T> {
    /// It finished (`Err`: it panicked, with the message).
    Done(Result<T, String>),
    /// Its request was cancelled first: it was dropped.
    Cancelled,
    /// It ran past the timeout: it was dropped.
    TimedOut,
    /// It stopped making progress waiting on the client's input (a 2026-07-28 round): it was
    /// dropped.
    Input,
    /// It waited on something else and may go on as a task: it was handed to `detach`.
    Detached,
}

/// Runs a handler until it finishes, its request is cancelled, or `timeout` passes. The handler
/// is polled once before anything else is built: one that finishes at once (most do) never
/// arms the timer, and the cancellation and timeout futures are boxed, built only for a
/// handler that waits, so that a call's future does not carry their room.
///
/// `flight` is the request: registered for `notifications/cancelled` only once its handler
/// waits (`InFlight::listen`).
///
/// On a 2026-07-28 round (`input`), a handler that asked the client for something is dropped
/// once a poll of it returns pending: every request it made in that poll (`join!`ed ones
/// included) is asked for at once.
pub(super) async fn settle<T: Send + 'static>(
    mut future: crate::handler::HandlerFuture<T>,
    flight: &crate::connection::InFlight,
    timeout: Option<std::time::Duration>,
    input: Option<&crate::handler::InputRound>,
    detach: Option<&mut (dyn FnMut(crate::handler::HandlerFuture<T>) + Send)>,
) -> Settled<T> {
    let waiting = || input.is_some_and(crate::handler::InputRound::is_waiting);
    let first =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx)))
            .await;
    if let std::task::Poll::Ready(outcome) = first {
        return Settled::Done(outcome);
    }
    if waiting() {
        return Settled::Input;
    }
    // A task tool's call that waits on anything but the client goes on as a task; the
    // decision is taken here, at the first wait, and only here.
    if let Some(detach) = detach
        && input.is_some_and(crate::handler::InputRound::may_detach)
    {
        detach(future);
        return Settled::Detached;
    }
    // It waits: from now on `notifications/cancelled` can stop it (see `InFlight::listen`).
    flight.listen();
    let cancel = &flight.cancel;
    // The handler was just polled, and its waker is this task's: it is not polled again until
    // the task wakes (a handler that yields once must not run on at once).
    let mut guards = Box::pin(async move {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Settled::Cancelled,
            () = deadline(timeout) => Settled::TimedOut,
            // A request made from a task of the handler's own.
            () = asked(input) => Settled::Input,
        }
    });
    let mut polled = true;
    std::future::poll_fn(|cx| {
        if !std::mem::take(&mut polled) {
            if let std::task::Poll::Ready(outcome) = std::pin::Pin::new(&mut future).poll(cx) {
                return std::task::Poll::Ready(Settled::Done(outcome));
            }
            if waiting() {
                return std::task::Poll::Ready(Settled::Input);
            }
        }
        guards.as_mut().poll(cx)
    })
    .await
}

/// Completes once the handler of a 2026-07-28 round asks the client for something, or never.
async fn asked(input: Option<&crate::handler::InputRound>) {
    match input {
        Some(round) => round.waiting().await,
        None => std::future::pending().await,
    }
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use super::*;
    use crate::connection::{Cancel, Cancellation, Connection, InFlight};
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
        let flight = InFlight::with_cancel(Cancellation::default());
        let mut settling = std::pin::pin!(settle(
            handler,
            &flight,
            Some(Duration::from_secs(60)),
            None,
            None
        ));
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
        let cancel = Arc::new(Cancel::default());
        cancel.cancel();
        let cancelled = InFlight::with_cancel(Cancellation::of(cancel));
        let waits = || HandlerFuture::new(std::future::pending::<u8>());
        assert!(matches!(
            settle(waits(), &cancelled, None, None, None).await,
            Settled::Cancelled
        ));
        assert!(matches!(
            settle(
                waits(),
                &InFlight::with_cancel(Cancellation::default()),
                Some(Duration::from_millis(20)),
                None,
                None
            )
            .await,
            Settled::TimedOut
        ));
        // A handler that finishes at once is answered even on a request already cancelled.
        let at_once = HandlerFuture::new(async { 1_u8 });
        assert!(matches!(
            settle(at_once, &cancelled, None, None, None).await,
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
            settle(
                panics,
                &InFlight::with_cancel(Cancellation::default()),
                None,
                None,
                None
            )
            .await,
            Settled::Done(Err(message)) if message.contains("boom")
        ));
    }

    #[tokio::test]
    async fn a_call_is_registered_for_cancellation_only_once_its_handler_waits() {
        let connection = Arc::new(Connection::default());
        let id = crate::protocol::RequestId::Number(5.into());
        // Finished when first polled: never registered, so a cancellation finds nothing.
        let flight = connection.start(&id);
        let at_once = HandlerFuture::new(async { 1_u8 });
        assert!(matches!(
            settle(at_once, &flight, None, None, None).await,
            Settled::Done(Ok(1))
        ));
        connection.cancel(&id);
        assert!(!flight.cancel.is_cancelled());
        drop(flight);
        // Waiting: registered, and a cancellation stops it.
        let flight = connection.start(&id);
        let waits = HandlerFuture::new(std::future::pending::<u8>());
        let mut settling = std::pin::pin!(settle(waits, &flight, None, None, None));
        let first = std::future::poll_fn(|cx| Poll::Ready(settling.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        connection.cancel(&id);
        // Polled once more, not awaited: a call the cancellation did not reach would wait on.
        let next = std::future::poll_fn(|cx| Poll::Ready(settling.as_mut().poll(cx))).await;
        assert!(matches!(next, Poll::Ready(Settled::Cancelled)));
    }
}
