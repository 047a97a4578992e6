//! Serving a router on a listener with the connection-level limits a public endpoint needs
//! (slow or oversized request heads, idle keep-alive connections) and a graceful shutdown: stop accepting, let in-flight
//! requests finish, end the sessions.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::future::RouteFuture;
use futures_util::future::Either;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;

use super::body::RequestBody;
use super::cors::{Endpoint, EndpointFuture};
use super::error::HttpError;
use super::hangup::{ClientGone, Hangup, SharedSocket, Watching};
use super::probes::{Draining, READYZ};
use super::response_body::answer;
use super::watch::{GuardedBody, Watch, Watched, until_expired};

/// Connection limits and shutdown of [`serve_with`]. Every default is the safe one.
#[non_exhaustive]
pub struct ServeOptions {
    /// Longest time a client may take to send a request's head, counted from the accept or
    /// from the request's first byte (default 10 s): slow-loris connections are closed. A head
    /// that starts after an idle spell on a kept-alive connection is cut off within 1.5 times
    /// this (the watch looks at each connection every half of it; requests never read the
    /// clock).
    pub header_read_timeout: Duration,
    /// Longest time a kept-alive connection may sit idle between requests (default 75 s, longer
    /// than the 60 s idle timeout common to load balancers, so that the balancer, not this
    /// server, closes an idle upstream connection and never races a request against the close).
    /// The connection is closed between this and this plus half the header read timeout after
    /// its last response ended.
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers), in bytes (default 64 KiB); larger gets
    /// `431 Request Header Fields Too Large`.
    pub max_header_bytes: usize,
    /// Longest time in-flight requests get to finish after shutdown begins (default 30 s); the
    /// connections still open then are closed, their unfinished responses with them.
    pub drain_timeout: Duration,
    /// How long, once shutdown begins, the server goes on accepting and serving while `/readyz`
    /// answers 503 (default 0: stop accepting at once). Set it to the time a balancer that
    /// probes readiness needs to take this replica out (probe interval × failures), so that no
    /// client meets a refused connection.
    pub readiness_grace: Duration,
    /// Resolves when the server should shut down (default: Ctrl-C / SIGINT).
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Runs when shutdown begins, before draining (e.g. [`crate::Server::hang_up_all`], which
    /// ends the open event streams so the drain does not wait on them).
    pub on_shutdown: Option<Box<dyn FnOnce() + Send>>,
    /// The MCP endpoint, when the router is scopegate's own (see [`McpRoute`]).
    pub(super) mcp: Option<Arc<McpRoute>>,
}

/// The MCP endpoint of a router scopegate built and serves unchanged: its requests are handed
/// to the endpoint directly. axum's router would match the path, record its parameters (two
/// allocations), clone the boxed endpoint service (one more) and wrap its future twice, for a
/// route that is one fixed path.
pub(crate) struct McpRoute {
    pub(super) path: String,
    pub(super) endpoint: Endpoint,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 64 * 1024,
            drain_timeout: Duration::from_secs(30),
            readiness_grace: Duration::ZERO,
            shutdown: Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            }),
            on_shutdown: None,
            mcp: None,
        }
    }
}

impl ServeOptions {
    /// Shuts down when `signal` resolves instead of on Ctrl-C.
    #[must_use]
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Box::pin(signal);
        self
    }

    /// Runs `hook` when shutdown begins.
    #[must_use]
    pub fn on_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_shutdown = Some(Box::new(hook));
        self
    }

    /// Sets the header read timeout.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the idle keep-alive timeout.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the largest request head.
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets how long in-flight requests get after shutdown begins.
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets how long the server keeps accepting, unready, after shutdown begins.
    #[must_use]
    pub fn readiness_grace(mut self, grace: Duration) -> Self {
        self.readiness_grace = grace;
        self
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("drain_timeout", &self.drain_timeout)
            .field("readiness_grace", &self.readiness_grace)
            .finish_non_exhaustive()
    }
}

/// The local address of the connection a request arrived on: which of the machine's addresses
/// (and port) the client connected to, as opposed to `ConnectInfo<SocketAddr>`, the peer's.
///
/// [`serve_with`] (and so [`serve`] and [`serve_on`]) adds it to every request
/// it hands to the router (all but those of scopegate's own MCP endpoint, which it serves
/// directly and which does not read it). Whoever serves a router with a loop of their own
/// (hyper's `serve_connection`, say) can insert it the same way, from `TcpStream::local_addr`:
///
/// ```
/// # use scopegate_runtime as scopegate;
/// # fn insert(
/// #     request: &mut axum::http::Request<axum::body::Body>,
/// #     stream: &tokio::net::TcpStream,
/// # ) -> std::io::Result<()> {
/// request.extensions_mut().insert(scopegate::http::LocalAddr(stream.local_addr()?));
/// # Ok(())
/// # }
/// ```
///
/// The development authorization server refuses every request that lacks it, or whose address
/// is not loopback: a server bound to `0.0.0.0` answers its loopback connections only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub SocketAddr);

/// One connection's service: hands each request to the router with the peer's address, and
/// tells the connection's watch when a response begins and ends.
///
/// A hyper service of its own rather than a tower `service_fn` behind `TowerToHyperService`,
/// which clones the service and wraps the call in a one-shot future for every request.
struct ConnectionService {
    watch: Arc<Watch>,
    router: Router,
    mcp: Option<Arc<McpRoute>>,
    peer: SocketAddr,
    /// The connection's local address, when the socket could tell it.
    local: Option<SocketAddr>,
    draining: Draining,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for ConnectionService {
    type Response = hyper::Response<GuardedBody>;
    type Error = ClientGone;
    type Future = Guarded;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Guarded {
        // Busy from the moment hyper has the head until the response body ends (or the call is
        // dropped): neither timeout applies to a slow handler or a long stream.
        let guard = Some(self.watch.request_started());
        // HTTP/2 reads its connection all along, and sees its client go by itself.
        let http1 = request.version() <= axum::http::Version::HTTP_11;
        // A request with a body waits for it first (hyper hands it over once asked): that wait
        // is not watched. One without is watched from its first wait.
        let first_watched_wait = if hyper::body::Body::is_end_stream(request.body()) {
            1
        } else {
            2
        };
        let response = match &self.mcp {
            // The MCP endpoint is given the peer's address rather than an extension to find it
            // in (the extension map costs three allocations per request), and hyper's body as
            // it is.
            Some(mcp) if request.uri().path() == mcp.path => Either::Right(
                mcp.endpoint
                    .respond(request.map(RequestBody::Hyper), Some(self.peer.ip())),
            ),
            // A router is always ready (its `poll_ready` is `Ready` without condition). The
            // local address goes to the router's routes only: the MCP endpoint above never
            // reads it.
            _ => {
                let mut request = request.map(axum::body::Body::new);
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(self.peer));
                // Only the readiness probe reads the shutdown flag (under the router's own
                // path, or under a prefix when the router is nested in another).
                if request.uri().path().ends_with(READYZ) {
                    request.extensions_mut().insert(self.draining.clone());
                }
                if let Some(local) = self.local {
                    request.extensions_mut().insert(LocalAddr(local));
                }
                Either::Left(tower::Service::call(&mut self.router.clone(), request))
            }
        };
        Guarded {
            response,
            guard,
            watching: if http1 {
                Watching::after(first_watched_wait)
            } else {
                Watching::never()
            },
        }
    }
}

/// The router's (or the MCP endpoint's) response, its body holding the connection's
/// [`ResponseGuard`](super::watch::ResponseGuard). While it waits, it ends the connection if its
/// client goes (see [`super::hangup`]).
struct Guarded {
    response: Either<RouteFuture<Infallible>, EndpointFuture>,
    guard: Option<super::watch::ResponseGuard>,
    watching: Watching,
}

impl Future for Guarded {
    type Output = Result<hyper::Response<GuardedBody>, ClientGone>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let polled = match &mut this.response {
            Either::Left(route) => Pin::new(route).poll(cx).map_ok(answer),
            Either::Right(endpoint) => endpoint.as_mut().poll(cx),
        };
        let Poll::Ready(Ok(response)) = polled else {
            return match &this.guard {
                Some(guard) if guard.client_gone(&mut this.watching, cx) => {
                    Poll::Ready(Err(ClientGone))
                }
                _ => Poll::Pending,
            };
        };
        let guard = this.guard.take();
        let watching = this.watching.of_body();
        Poll::Ready(Ok(response.map(|inner| GuardedBody {
            inner,
            guard,
            watching,
        })))
    }
}

/// Serves `router` on `addr` until Ctrl-C, then shuts down gracefully (see [`serve_with`]). Bind
/// to `127.0.0.1` unless the server must be reachable from other machines.
pub async fn serve(addr: SocketAddr, router: Router) -> Result<(), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    serve_on(listener, router).await
}

/// Serves `router` on a listener already bound (e.g. to port 0, to learn the port before
/// building the configuration), with the default [`ServeOptions`].
pub async fn serve_on(listener: tokio::net::TcpListener, router: Router) -> Result<(), HttpError> {
    serve_with(listener, router, ServeOptions::default()).await
}

/// How long `serve_with` waits, after its drain timeout, for the connections it dropped to go.
const FORCED_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `options.shutdown` resolves; then answers `/readyz` with
/// 503 (for `readiness_grace`, still serving), stops accepting, lets in-flight requests finish
/// (up to `drain_timeout`) and returns. Each request carries the peer's address as
/// `ConnectInfo<SocketAddr>` (per-address rate limits use it), and each request routed through
/// `router` the connection's own address as [`LocalAddr`].
///
/// An HTTP/1 client that closes its connection (or half-closes it, or resets it) while its
/// request is still being worked on, or while its event stream is open, stops the handler
/// within moments, as under hyper's own serving; the connection is watched for that only while
/// an exchange waits, so that a request answered at once pays nothing for it.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    options: ServeOptions,
) -> Result<(), HttpError> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Heads and idle spells are timed by `Watch`: hyper's header timer would also bound the
        // idle time between kept-alive requests.
        .header_read_timeout(None)
        // hyper would read the socket while each request is in flight, to see the client go;
        // that read costs every request a new read buffer. `Hangup` watches the requests that
        // wait instead (see `super::hangup`).
        .half_close(true)
        // hyper refuses buffers under 8 KiB.
        .max_buf_size(options.max_header_bytes.max(8192));
    // Every connection holds a receiver until it ends; shutdown sends, then waits for them all.
    // `false` when shutdown begins (close gracefully), `true` when the drain's time is up.
    let (graceful, _) = tokio::sync::watch::channel(false);
    let draining = Draining::default();
    let mut shutdown = options.shutdown;
    // Set when shutdown begins: the grace period's end, after which no connection is accepted.
    let mut stop_at: Option<tokio::time::Instant> = None;
    loop {
        let grace_over = async {
            match stop_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors and the like: keep serving the connections we have.
                Err(error) => {
                    tracing::warn!(target: "scopegate::http", %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown, if stop_at.is_none() => {
                draining.0.store(true, Ordering::Relaxed);
                tracing::info!(target: "scopegate::http", grace = ?options.readiness_grace, "shutdown requested: /readyz answers 503");
                if options.readiness_grace.is_zero() {
                    break;
                }
                stop_at = Some(tokio::time::Instant::now() + options.readiness_grace);
                continue;
            }
            () = grace_over => break,
        };
        // Unknown when the socket cannot say (then loopback-only routes refuse its requests).
        let local = stream.local_addr().ok();
        // Shared by hyper and the connection's hangup watch.
        let socket = Arc::new(stream);
        let watch = Watch::new(Hangup::of(Arc::clone(&socket)));
        let service = ConnectionService {
            watch: Arc::clone(&watch),
            router: router.clone(),
            mcp: options.mcp.clone(),
            peer,
            local,
            draining: draining.clone(),
        };
        let io = TokioIo::new(Watched {
            inner: SharedSocket(socket),
            watch: Arc::clone(&watch),
        });
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let (head, idle) = (options.header_read_timeout, options.idle_timeout);
        // Made (and the connection boxed) before the task: a task capturing the connection
        // itself would keep room for it beside the box.
        let served = until_expired(
            connection,
            async move { watch.expired(head, idle).await },
            graceful.subscribe(),
        );
        tokio::spawn(async move {
            match served.await {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    tracing::debug!(target: "scopegate::http", %error, %peer, "connection ended with an error");
                }
                // Dropping the connection closed the socket.
                None => {
                    tracing::debug!(target: "scopegate::http", %peer, "connection closed: slow head, idle, or still open when the drain ended");
                }
            }
        });
    }
    drop(listener);
    if let Some(hook) = options.on_shutdown {
        hook();
    }
    tracing::info!(target: "scopegate::http", "shutting down: no new connections, draining in-flight requests");
    let _ = graceful.send(false);
    if tokio::time::timeout(options.drain_timeout, graceful.closed())
        .await
        .is_err()
    {
        tracing::warn!(target: "scopegate::http", "drain timeout: closing the remaining connections");
        // Each remaining connection is dropped (its socket closed, its responses' streams and
        // the handlers feeding them with it) when its task next runs.
        let _ = graceful.send(true);
        let _ = tokio::time::timeout(FORCED_CLOSE_WAIT, graceful.closed()).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HTTP/2 (prior knowledge, as a proxy in front might speak it) runs over the socket the
    /// connection shares with its hangup watch, both ways, several streams at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http2_is_served_through_the_shared_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { body.repeat(1000) }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve_with(
            listener,
            router,
            ServeOptions::default().shutdown_on(async {
                let _ = stopped.await;
            }),
        ));
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let calls = (0..4).map(|i| {
            let mut sender = sender.clone();
            async move {
                let request = hyper::Request::post(format!("http://{address}/echo"))
                    .body(format!("{i}-"))
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.status(), 200);
                assert_eq!(response.version(), axum::http::Version::HTTP_2);
                let body = read_whole(response.into_body()).await;
                assert_eq!(body, format!("{i}-").repeat(1000));
            }
        });
        futures_util::future::join_all(calls).await;
        drop(sender);
        let _ = stop.send(());
        served.await.unwrap().unwrap();
    }

    /// A request without a body whose handler waits is watched from its first wait: its client
    /// going stops it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bodiless_request_whose_client_goes_is_stopped() {
        static STOPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        struct Noted;
        impl Drop for Noted {
            fn drop(&mut self) {
                STOPPED.store(true, Ordering::SeqCst);
            }
        }
        let (started, mut running) = tokio::sync::mpsc::channel::<()>(1);
        let router = Router::new().route(
            "/slow",
            axum::routing::get(move || async move {
                let _noted = Noted;
                let _ = started.send(()).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(serve_with(listener, router, ServeOptions::default()));
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(
            &mut client,
            b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await
        .unwrap();
        running.recv().await.unwrap();
        assert!(!STOPPED.load(Ordering::SeqCst));
        drop(client);
        let stopped = async {
            while !STOPPED.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        assert!(
            tokio::time::timeout(Duration::from_secs(5), stopped)
                .await
                .is_ok(),
            "the handler was stopped"
        );
    }

    /// A response body read whole.
    async fn read_whole(mut body: hyper::body::Incoming) -> String {
        use hyper::body::Body as _;
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Ok(data) = frame.unwrap().into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        String::from_utf8(bytes).unwrap()
    }
}
