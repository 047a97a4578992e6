//! Noticing that an HTTP/1 client has gone while its request is still being worked on.
//!
//! hyper notices it by itself reading the socket while a request is in flight (its default,
//! `half_close(false)`). That read is made as soon as the request's body is in, before the
//! service has taken the body, while the request's head and body are still slices of hyper's
//! read buffer: hyper cannot reuse the buffer, so it allocates a fresh 8 KiB one and frees the
//! old one, on every request (about 900 instructions on a `tools/call`, 3 % of it, and a cold
//! buffer for the next request to fill).
//!
//! `serve_with` turns that read off and watches here instead, and only for exchanges that wait:
//! a request still pending after its body came in (a handler awaiting something), or a response
//! body with nothing to send yet (an event stream). The watch looks at a duplicate of the
//! connection's socket, taken at the accept and registered with the reactor the first time an
//! exchange is watched. It never reads: it takes the duplicate's readiness, and peeks only when
//! that says the client may have closed. hyper's buffer and its own readiness are left alone.
//! A fast request, the most common kind, is never watched and pays nothing but the duplicate's
//! share of the connection (a `dup` at the accept and a `close` at the end).
//!
//! What counts as gone is what hyper counted: the client's end of the stream (it closed, or
//! half-closed) or a reset. Bytes ahead of a close (a pipelined request) are left for hyper to
//! read once this request is answered; the watch then stops for that exchange.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{Interest, ReadBuf};
use tokio::net::TcpStream;

/// One connection's watch for its client going away.
#[derive(Debug, Default)]
pub(super) struct Hangup {
    /// The duplicate of the connection's socket, until a request is first watched.
    socket: Mutex<Option<OwnedFd>>,
    /// The duplicate, registered with the reactor (`None` when it could not be).
    probe: OnceLock<Option<TcpStream>>,
}

/// What a look at the connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Client {
    /// Nothing new: the client is waiting (the caller's waker is woken when that changes).
    Waiting,
    /// The client sent more (a pipelined request) and closed behind it: whether it still reads
    /// can be told only once hyper has read that, so stop looking for this request.
    Sending,
    /// The client closed its end, or the connection was reset.
    Gone,
}

impl Hangup {
    /// A watch over `stream`, the connection's socket. When the socket cannot be duplicated
    /// (out of descriptors), the watch never sees the client go: its requests run to their end,
    /// as they would for a client that half-closes.
    pub(super) fn of(stream: &TcpStream) -> Self {
        Self {
            socket: Mutex::new(stream.as_fd().try_clone_to_owned().ok()),
            probe: OnceLock::new(),
        }
    }

    /// Looks at the connection, registering the duplicate the first time.
    pub(super) fn poll_client(&self, cx: &mut Context<'_>) -> Client {
        let Some(probe) = self.probe.get_or_init(|| self.register()) else {
            return Client::Waiting;
        };
        match probe.poll_read_ready(cx) {
            Poll::Pending => return Client::Waiting,
            Poll::Ready(Err(_)) => return Client::Gone,
            Poll::Ready(Ok(())) => {}
        }
        // Ready: the client closed, or sent bytes (most often the request hyper has read since).
        // The readiness is forgotten without a system call; tokio never forgets a close, so a
        // connection still ready after that is one the client closed, or bytes came since.
        let _ = probe.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
        match probe.poll_read_ready(cx) {
            Poll::Pending => return Client::Waiting,
            Poll::Ready(Err(_)) => return Client::Gone,
            Poll::Ready(Ok(())) => {}
        }
        let mut byte = [0u8; 1];
        match probe.poll_peek(cx, &mut ReadBuf::new(&mut byte)) {
            Poll::Pending => Client::Waiting,
            Poll::Ready(Ok(0) | Err(_)) => Client::Gone,
            Poll::Ready(Ok(_)) => Client::Sending,
        }
    }

    fn register(&self) -> Option<TcpStream> {
        let socket = self
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        // The duplicate shares the socket's non-blocking mode: it is one open socket.
        TcpStream::from_std(std::net::TcpStream::from(socket)).ok()
    }
}

/// A request or a response body that may wait: watched from its `after`-th wait on.
#[derive(Debug)]
pub(super) struct Watching {
    /// Waits left before the watch begins; `None` once the watch is off for this exchange.
    left: Option<u8>,
}

impl Watching {
    /// Watched from the `after`-th time it waits (`1`: the first).
    pub(super) const fn after(after: u8) -> Self {
        Self { left: Some(after) }
    }

    /// Never watched (an HTTP/2 stream: hyper's HTTP/2 reads the connection all along).
    pub(super) const fn never() -> Self {
        Self { left: None }
    }

    /// The exchange is waiting again: whether its client has gone, looked at once it has
    /// waited long enough to be watched.
    pub(super) fn gone(&mut self, hangup: &Hangup, cx: &mut Context<'_>) -> bool {
        let Some(left) = self.left.as_mut() else {
            return false;
        };
        if *left > 1 {
            *left -= 1;
            return false;
        }
        match hangup.poll_client(cx) {
            Client::Waiting => false,
            Client::Sending => {
                self.left = None;
                false
            }
            Client::Gone => true,
        }
    }
}

/// The error that ends a connection whose client has gone: hyper closes the connection and
/// drops the request's future or the response's body, which stops the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client closed the connection")]
pub(super) struct ClientGone;

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    /// Waits (up to 5 s) for the client to be seen as `want`.
    async fn seen(hangup: &Hangup, want: Client) -> bool {
        let look = poll_fn(|cx| match hangup.poll_client(cx) {
            Client::Waiting => Poll::Pending,
            found => Poll::Ready(found),
        });
        tokio::time::timeout(Duration::from_secs(5), look).await == Ok(want)
    }

    #[tokio::test]
    async fn a_waiting_client_is_not_gone_and_a_closed_one_is() {
        let (server, client) = pair().await;
        let hangup = Hangup::of(&server);
        let waiting = poll_fn(|cx| Poll::Ready(hangup.poll_client(cx))).await;
        assert_eq!(waiting, Client::Waiting);
        drop(client);
        assert!(seen(&hangup, Client::Gone).await, "the close is seen");
    }

    #[tokio::test]
    async fn a_half_close_counts_as_gone() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(&server);
        client.shutdown().await.unwrap();
        assert!(seen(&hangup, Client::Gone).await);
    }

    #[tokio::test]
    async fn bytes_from_the_client_are_left_for_the_connection() {
        let (mut server, mut client) = pair().await;
        let hangup = Hangup::of(&server);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let look = poll_fn(|cx| match hangup.poll_client(cx) {
            Client::Waiting => Poll::Pending,
            found => Poll::Ready(found),
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(200), look)
                .await
                .is_err(),
            "a client sending is there"
        );
        // Only looked at: the connection still reads every byte.
        let mut read = [0u8; 16];
        server.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"GET / HTTP/1.1\r\n");
        drop(client);
        assert!(seen(&hangup, Client::Gone).await);
    }

    #[tokio::test]
    async fn a_close_behind_unread_bytes_is_left_for_the_connection() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(&server);
        client.write_all(b"x").await.unwrap();
        client.shutdown().await.unwrap();
        assert!(seen(&hangup, Client::Sending).await);
    }

    #[tokio::test]
    async fn a_watch_waits_its_turn_and_stops_for_a_sender() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(&server);
        let mut watching = Watching::after(2);
        client.write_all(b"x").await.unwrap();
        client.shutdown().await.unwrap();
        // The first wait is not watched; the second looks, finds bytes, and stops watching.
        assert!(!poll_fn(|cx| Poll::Ready(watching.gone(&hangup, cx))).await);
        assert!(hangup.probe.get().is_none(), "not looked at yet");
        assert!(seen(&hangup, Client::Sending).await);
        assert!(!poll_fn(|cx| Poll::Ready(watching.gone(&hangup, cx))).await);
        assert!(watching.left.is_none(), "off for this exchange");
    }

    #[tokio::test]
    async fn an_exchange_never_watched_never_looks() {
        let (server, client) = pair().await;
        let hangup = Hangup::of(&server);
        drop(client);
        let mut never = Watching::never();
        assert!(!poll_fn(|cx| Poll::Ready(never.gone(&hangup, cx))).await);
        assert!(hangup.probe.get().is_none());
        assert!(seen(&hangup, Client::Gone).await);
    }
}
