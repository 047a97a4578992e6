//! Per-connection timing: how long a client may take to send a request head, and how long a
//! kept-alive connection may sit idle between requests. The two are separate on purpose: heads
//! must arrive quickly (slow-loris), while an idle keep-alive connection from a load balancer
//! should outlive the balancer's own idle timeout, or the balancer races a close and answers 502.
//!
//! hyper's own header timer starts when it waits for the next request, so it would bound the
//! idle time too; we keep it off and watch the connection here instead. The watch sees three
//! phases: `HEAD` from the first byte of a request (or the accept) until hyper hands the request
//! to the service, `BUSY` while any response is unfinished, `IDLE` after the last one ended.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::hangup::{ClientGone, Hangup, Watching};
use super::response_body::{Chunk, ResponseBody};

const HEAD: u64 = 0;
const BUSY: u64 = 1;
const IDLE: u64 = 2;

/// The phase sits in the top two bits of [`Watch::state`], the milliseconds since `origin` at
/// which the watcher first saw it in the rest.
const PHASE_SHIFT: u32 = 62;
const SINCE_MASK: u64 = (1 << PHASE_SHIFT) - 1;
/// A phase the watcher has not seen yet: the connection never reads the clock.
const UNSTAMPED: u64 = SINCE_MASK;

/// The shared state of one connection's watch.
pub(super) struct Watch {
    origin: Instant,
    /// The phase and when it began (see [`PHASE_SHIFT`]).
    state: AtomicU64,
    in_flight: AtomicUsize,
    /// Whether the client is still there, for requests and streams that wait.
    pub(super) hangup: Hangup,
}

impl Watch {
    /// A watch for a connection accepted now: its first head must arrive within the head limit.
    pub(super) fn new(hangup: Hangup) -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            state: AtomicU64::new(HEAD << PHASE_SHIFT),
            in_flight: AtomicUsize::new(0),
            hangup,
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis())
            .map_or(SINCE_MASK - 1, |ms| ms.min(SINCE_MASK - 1))
    }

    /// The connection enters `phase`; the watcher notes the time when it next looks.
    fn enter(&self, phase: u64) {
        self.state
            .store(phase << PHASE_SHIFT | UNSTAMPED, Ordering::Release);
    }

    /// Bytes arrived: when idle, a new request head has begun.
    fn bytes_read(&self) {
        if self.state.load(Ordering::Acquire) >> PHASE_SHIFT == IDLE {
            self.enter(HEAD);
        }
    }

    /// hyper handed a request to the service; the guard marks the end of its response.
    pub(super) fn request_started(self: &Arc<Self>) -> ResponseGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.enter(BUSY);
        ResponseGuard(Arc::clone(self))
    }

    /// Resolves when the connection has overstayed its phase: a head slower than `head`, or an
    /// idle spell longer than `idle`. Never resolves while a response is unfinished.
    ///
    /// Nothing on the request path reads the clock or wakes the watch (that would cost a clock
    /// read or a timer operation per request): the watch looks every `head / 2` at most, and a
    /// phase counts from the first look that saw it. So the first head is cut off `head` after
    /// the accept, a head that starts after an idle spell between `head` and `1.5 × head` after
    /// its first byte, and an idle spell between `idle` and `idle + head / 2` after it began.
    pub(super) async fn expired(&self, head: Duration, idle: Duration) {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (head, idle) = (millis(head), millis(idle));
        let glance = (head / 2).max(1);
        loop {
            let state = self.state.load(Ordering::Acquire);
            let (phase, since) = (state >> PHASE_SHIFT, state & SINCE_MASK);
            let now = self.now();
            if since == UNSTAMPED {
                // A phase begun since the last look: it counts from now. Lost to a newer
                // phase, the stamp is simply tried again.
                let _ = self.state.compare_exchange(
                    state,
                    phase << PHASE_SHIFT | now,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                continue;
            }
            // A response still unfinished wins over the phase: over HTTP/2 a response's end
            // (on its own task) can store IDLE just after another request stored BUSY.
            let limit = match phase {
                _ if self.in_flight.load(Ordering::Acquire) > 0 => u64::MAX,
                HEAD => head,
                IDLE => idle,
                _ => u64::MAX,
            };
            let wait = match since.saturating_add(limit).saturating_sub(now) {
                0 => return,
                // Never longer than a glance: a phase that begins meanwhile is stamped late
                // by at most that.
                left => left.min(glance),
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// A connection that can be asked to finish its in-flight requests and close.
pub(super) trait Closable: Future {
    /// Stops taking new requests; the connection ends once the current ones are answered.
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<C: hyper_util::server::graceful::GracefulConnection> Closable for C {
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Resolves when shutdown begins, giving back the receiver, which is held until the
/// connection ends: the server's drain waits for every receiver to go. The channel's value
/// turns `true` when the drain's time is up: the connections left are then dropped.
type ShutdownSignal = Pin<Box<dyn Future<Output = watch::Receiver<bool>> + Send>>;

/// Resolves when the drain's time is up (the shutdown channel holds `true`); never when the
/// server simply goes (its sender dropped: connections outliving it close gracefully).
type ForceSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Drives `connection` until it ends (`Some` of its output) or `expiry` (a [`Watch::expired`])
/// resolves (`None`; the connection is dropped, which closes it). When `shutdown` changes, the
/// connection is asked to close gracefully and driven on until it ends, or until `shutdown`
/// turns `true` (`None`: dropped).
///
/// `select!` would poll the timer and the shutdown signal on every wake-up of the connection,
/// that is on every request; here they are polled with a waker of their own, and only after
/// it has been woken. Meant for a future spawned as a task of its own: the task's waker, kept
/// from the first poll, wakes that task for as long as it lives.
pub(super) fn until_expired<C: Closable, E: Future<Output = ()>>(
    connection: C,
    expiry: E,
    mut shutdown: watch::Receiver<bool>,
) -> UntilExpired<C, E> {
    UntilExpired {
        connection: Box::pin(connection),
        expiry: Box::pin(expiry),
        shutdown: Some(Box::pin(async move {
            let _ = shutdown.changed().await;
            shutdown
        })),
        forced: None,
        alarm: Arc::default(),
    }
}

/// The future of [`until_expired`]. The futures are boxed, so that it can be polled without
/// pin projections, and the task that holds it stays small.
pub(super) struct UntilExpired<C, E> {
    connection: Pin<Box<C>>,
    expiry: Pin<Box<E>>,
    /// `None` once shutdown has begun.
    shutdown: Option<ShutdownSignal>,
    /// Once shutdown has begun: the signal to stop waiting for the connection to finish.
    forced: Option<ForceSignal>,
    alarm: Arc<Alarm>,
}

impl<C: Closable, E: Future<Output = ()>> Future for UntilExpired<C, E> {
    type Output = Option<C::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(output) = self.connection.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let first = self.alarm.task.get().is_none();
        if first {
            let _ = self.alarm.task.set(cx.waker().clone());
        }
        if !(first || self.alarm.rang.swap(false, Ordering::AcqRel)) {
            return Poll::Pending;
        }
        let alarm = Waker::from(Arc::clone(&self.alarm));
        let mut alarm = Context::from_waker(&alarm);
        if self.expiry.as_mut().poll(&mut alarm).is_ready() {
            return Poll::Ready(None);
        }
        if let Some(signal) = self.shutdown.as_mut()
            && let Poll::Ready(receiver) = signal.as_mut().poll(&mut alarm)
        {
            self.shutdown = None;
            self.forced = Some(Box::pin(async move {
                let mut receiver = receiver;
                loop {
                    if *receiver.borrow_and_update() {
                        return;
                    }
                    if receiver.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
            }));
            self.connection.as_mut().close_gracefully();
            // The connection must be polled again to act on it.
            cx.waker().wake_by_ref();
        }
        if let Some(forced) = self.forced.as_mut()
            && forced.as_mut().poll(&mut alarm).is_ready()
        {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

/// The waker of a watch's timer: notes that it rang, then wakes the connection's task.
#[derive(Default)]
struct Alarm {
    rang: AtomicBool,
    task: OnceLock<Waker>,
}

impl Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rang.store(true, Ordering::Release);
        if let Some(task) = self.task.get() {
            task.wake_by_ref();
        }
    }
}

/// Held by a response body; when the last unfinished response ends, the connection is idle.
pub(crate) struct ResponseGuard(Arc<Watch>);

impl ResponseGuard {
    /// Whether the client of this exchange, waiting again, has gone (see [`Watching::gone`]).
    pub(super) fn client_gone(&self, watching: &mut Watching, cx: &mut Context<'_>) -> bool {
        watching.gone(&self.0.hangup, cx)
    }
}

impl Drop for ResponseGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(IDLE);
        }
    }
}

/// A response body that holds its connection's [`ResponseGuard`] until it is finished or
/// dropped, and ends the connection when its client goes while it has nothing to send (see
/// [`super::hangup`]).
pub(crate) struct GuardedBody {
    pub(super) inner: ResponseBody,
    pub(super) guard: Option<ResponseGuard>,
    pub(super) watching: Watching,
}

impl Body for GuardedBody {
    type Data = Chunk;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(None) => self.guard = None,
            Poll::Pending => {
                let this = &mut *self;
                if let Some(guard) = &this.guard
                    && guard.client_gone(&mut this.watching, cx)
                {
                    return Poll::Ready(Some(Err(axum::Error::new(ClientGone))));
                }
            }
            Poll::Ready(Some(_)) => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, noting each read for the watch.
pub(super) struct Watched<S> {
    pub(super) inner: S,
    pub(super) watch: Arc<Watch>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `inner`, counting its polls.
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

    fn counted<F: Future>(inner: F) -> (Counted<F>, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let future = Counted {
            inner: Box::pin(inner),
            polls: Arc::clone(&polls),
        };
        (future, polls)
    }

    /// A connection: pending `wake_ups` times, waking itself each time (serving requests), then
    /// ended; or, with `None`, pending until closed.
    struct Connection {
        wake_ups: Option<usize>,
        closing: bool,
        /// Asked to close, it goes on (a response that never ends).
        stubborn: bool,
    }

    impl Connection {
        fn new(wake_ups: Option<usize>) -> Self {
            Self {
                wake_ups,
                closing: false,
                stubborn: false,
            }
        }
    }

    impl Future for Connection {
        type Output = &'static str;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            if self.closing {
                return Poll::Ready("closed");
            }
            match self.wake_ups {
                Some(0) => Poll::Ready("ended"),
                Some(left) => {
                    self.wake_ups = Some(left - 1);
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                None => Poll::Pending,
            }
        }
    }

    impl Closable for Connection {
        fn close_gracefully(mut self: Pin<&mut Self>) {
            self.closing = !self.stubborn;
        }
    }

    #[tokio::test]
    async fn the_timer_is_not_polled_on_the_connections_wake_ups() {
        let (expiry, polls) = counted(tokio::time::sleep(Duration::from_secs(3600)));
        let (_tx, shutdown) = watch::channel(false);
        let connection = Connection::new(Some(1000));
        let ended = tokio::spawn(until_expired(connection, expiry, shutdown))
            .await
            .unwrap();
        assert_eq!(ended, Some("ended"), "the connection ran to its end");
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled once, to arm it");
    }

    #[tokio::test]
    async fn an_expiry_that_rings_ends_the_connection_even_after_rearming() {
        // Like `Watch::expired`: the first sleeps end without expiring, then it expires.
        let expiry = async {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let (expiry, polls) = counted(expiry);
        let (_tx, shutdown) = watch::channel(false);
        let ended = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::spawn(until_expired(Connection::new(None), expiry, shutdown)),
        )
        .await
        .expect("the expiry ended the connection")
        .unwrap();
        assert_eq!(ended, None);
        assert_eq!(polls.load(Ordering::SeqCst), 4, "armed, then once per ring");
    }

    #[tokio::test]
    async fn shutdown_closes_the_connection_gracefully_and_the_drain_waits_for_it() {
        let (tx, shutdown) = watch::channel(false);
        let task = tokio::spawn(until_expired(
            Connection::new(None),
            std::future::pending(),
            shutdown,
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!task.is_finished());
        assert_eq!(tx.receiver_count(), 1);
        tx.send(false).unwrap();
        tokio::time::timeout(Duration::from_secs(10), tx.closed())
            .await
            .expect("the receiver goes when the connection ends");
        assert_eq!(task.await.unwrap(), Some("closed"));
    }

    #[tokio::test]
    async fn an_unfinished_response_keeps_the_connection_whatever_the_phase_says() {
        let (head, idle) = (Duration::from_millis(20), Duration::from_millis(20));
        // A response ended (IDLE) just after another began: the state a race between HTTP/2
        // streams can leave.
        let watch = Watch::new(Hangup::default());
        let guard = watch.request_started();
        watch.enter(IDLE);
        let early = tokio::time::timeout(Duration::from_millis(200), watch.expired(head, idle));
        assert!(early.await.is_err(), "expired with a response in flight");
        // Bytes of another stream move IDLE to HEAD: still no cut-off.
        watch.bytes_read();
        let early = tokio::time::timeout(Duration::from_millis(200), watch.expired(head, idle));
        assert!(
            early.await.is_err(),
            "a head timeout with a response in flight"
        );
        // The response ends: the idle time counts.
        drop(guard);
        let late = tokio::time::timeout(Duration::from_secs(5), watch.expired(head, idle));
        assert!(late.await.is_ok(), "idle after the last response");
    }

    #[tokio::test]
    async fn a_connection_that_outlasts_the_drain_is_dropped() {
        let (tx, shutdown) = watch::channel(false);
        let mut connection = Connection::new(None);
        connection.stubborn = true;
        let task = tokio::spawn(until_expired(connection, std::future::pending(), shutdown));
        tx.send(false).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!task.is_finished(), "asked to close, it goes on");
        tx.send(true).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the drain's end drops it");
        assert_eq!(ended.unwrap(), None);
        assert!(tx.is_closed(), "and its receiver with it");
    }

    #[tokio::test]
    async fn connections_outliving_their_server_are_closed_gracefully() {
        // The sender goes when `serve_with` returns (after its drain timeout).
        let (tx, shutdown) = watch::channel(false);
        drop(tx);
        let ended = until_expired(Connection::new(None), std::future::pending(), shutdown);
        let ended = tokio::time::timeout(Duration::from_secs(10), ended).await;
        assert_eq!(ended.expect("closed"), Some("closed"));
    }
}
