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
//! a request still pending after its body came in (a handler awaiting something; a request
//! without a body, from its first wait), or a response body with nothing to send yet (an event
//! stream). The watch shares the connection's socket
//! with hyper ([`SharedSocket`]: hyper reads and writes through it, the watch looks at it) and
//! never reads: it waits on the socket's readiness, and peeks when that says something came.
//! hyper mostly does not read meanwhile (that is what was turned off); when it does (a body
//! still coming in), it reads from the same task, whose waker both leave with the socket. A
//! fast request, the most common kind, is never watched and pays nothing.
//!
//! What counts as gone is what hyper counted: the client's end of the stream (it closed, or
//! half-closed) or a reset. Bytes from the client (the rest of a body being uploaded, or a
//! pipelined request) are left for hyper to read; while they wait there, the client counts as
//! present.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A connection's socket, shared by hyper (which reads and writes through it) and the
/// connection's [`Hangup`] (which looks at it). Reads and writes are tokio's own, made through
/// a shared reference.
pub(super) struct SharedSocket(pub(super) Arc<TcpStream>);

impl AsyncRead for SharedSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let socket = &*self.0;
        loop {
            ready!(socket.poll_read_ready(cx))?;
            let room = buf.remaining();
            let mut read = 0;
            // The read is made within `try_io`, so that a short one (the socket drained)
            // forgets the readiness it was made on, as a `TcpStream`'s own read does: the next
            // read then waits for the next event instead of trying, a system call for nothing.
            let outcome = socket.try_io(Interest::READABLE, || {
                read = socket.try_read_buf(buf)?;
                if read > 0 && read < room {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            match outcome {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if read > 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl SharedSocket {
    /// Writes with `write` once the socket is writable; a write that would block forgets the
    /// readiness it was tried on (tokio's `try_write*` do) and waits for the next.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match write(&self.0) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                written => return Poll::Ready(written),
            }
        }
    }
}

impl AsyncWrite for SharedSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |socket| socket.try_write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |socket| socket.try_write_vectored(data))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}

/// One connection's watch for its client going away.
#[derive(Debug, Default)]
pub(super) struct Hangup {
    /// The connection's socket (`None`: nothing to watch, the watch never sees the client go).
    socket: Option<Arc<TcpStream>>,
}

/// What a look at the connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Client {
    /// Nothing new: the client is waiting (the caller's waker is woken when that changes).
    Waiting,
    /// The client sent bytes that hyper has not read yet (the rest of a body, or a pipelined
    /// request): it is there. (Nothing wakes the caller for the watch's sake while the bytes
    /// wait; whatever wakes it next looks again.)
    Sending,
    /// The client closed its end, or the connection was reset.
    Gone,
}

impl Hangup {
    /// A watch over `socket`, the connection's.
    pub(super) fn of(socket: Arc<TcpStream>) -> Self {
        Self {
            socket: Some(socket),
        }
    }

    /// Looks at the connection, without taking anything from it.
    pub(super) fn poll_client(&self, cx: &mut Context<'_>) -> Client {
        let Some(socket) = &self.socket else {
            return Client::Waiting;
        };
        // Ready only once something came since hyper's last read (which forgot the readiness
        // it read on): then a peek tells the end of the stream (nothing, ever) from bytes. A
        // readiness with nothing behind it is forgotten by the peek, as a read would.
        let mut byte = [0u8; 1];
        match socket.poll_peek(cx, &mut ReadBuf::new(&mut byte)) {
            Poll::Pending => Client::Waiting,
            Poll::Ready(Ok(0) | Err(_)) => Client::Gone,
            Poll::Ready(Ok(_)) => Client::Sending,
        }
    }
}

/// A request or a response body that may wait: watched from its `after`-th wait on.
#[derive(Debug)]
pub(super) struct Watching {
    /// Waits left before the watch begins; `None`: never watched.
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

    /// The watch of this request's response body: from its first wait (a body with nothing
    /// to send yet is a stream's), when the request is watched at all.
    pub(super) const fn of_body(&self) -> Self {
        match self.left {
            Some(_) => Self::after(1),
            None => Self::never(),
        }
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
        hangup.poll_client(cx) == Client::Gone
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

    /// The server's end (shared, as `serve_with` shares it) and the client's.
    async fn pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Arc::new(server), client)
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
        let hangup = Hangup::of(server);
        let waiting = poll_fn(|cx| Poll::Ready(hangup.poll_client(cx))).await;
        assert_eq!(waiting, Client::Waiting);
        drop(client);
        assert!(seen(&hangup, Client::Gone).await, "the close is seen");
    }

    #[tokio::test]
    async fn a_half_close_counts_as_gone() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(server);
        client.shutdown().await.unwrap();
        assert!(seen(&hangup, Client::Gone).await);
    }

    #[tokio::test]
    async fn bytes_from_the_client_are_left_for_the_connection() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(Arc::clone(&server));
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(seen(&hangup, Client::Sending).await, "a sender is there");
        // Only looked at: the connection still reads every byte, and then waits.
        let mut socket = SharedSocket(server);
        let mut read = [0u8; 16];
        socket.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"GET / HTTP/1.1\r\n");
        let waiting = poll_fn(|cx| Poll::Ready(hangup.poll_client(cx))).await;
        assert_eq!(waiting, Client::Waiting);
        drop(client);
        assert!(seen(&hangup, Client::Gone).await);
    }

    #[tokio::test]
    async fn the_shared_socket_carries_an_exchange_both_ways_and_shuts_down() {
        let (server, mut client) = pair().await;
        let mut socket = SharedSocket(server);
        // More than one read's worth, in pieces, both ways.
        let request = vec![7u8; 300_000];
        let sent = request.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut received = vec![0u8; request.len()];
        socket.read_exact(&mut received).await.unwrap();
        assert_eq!(received, request);
        let halves = [io::IoSlice::new(b"abc"), io::IoSlice::new(b"def")];
        let mut answered = 0;
        while answered < 6 {
            let tail: Vec<u8> = b"abcdef"[answered..].to_vec();
            answered += if answered == 0 {
                socket.write_vectored(&halves).await.unwrap()
            } else {
                socket.write(&tail).await.unwrap()
            };
        }
        socket.write_all(&[9u8; 200_000]).await.unwrap();
        socket.shutdown().await.unwrap();
        let back = writer.await.unwrap();
        assert_eq!(&back[..6], b"abcdef");
        assert_eq!(
            back.len(),
            6 + 200_000,
            "everything, then the end of the stream"
        );
    }

    #[tokio::test]
    async fn a_watch_waits_its_turn_and_a_sender_is_there() {
        let (server, mut client) = pair().await;
        let hangup = Hangup::of(Arc::clone(&server));
        let mut watching = Watching::after(2);
        // A body still coming in, say: bytes hyper has not read.
        client.write_all(b"x").await.unwrap();
        assert!(seen(&hangup, Client::Sending).await);
        // The first wait is not watched; the second looks and finds the client there.
        assert!(!poll_fn(|cx| Poll::Ready(watching.gone(&hangup, cx))).await);
        assert_eq!(watching.left, Some(1));
        assert!(!poll_fn(|cx| Poll::Ready(watching.gone(&hangup, cx))).await);
        // Once hyper has read them, a close behind them is seen by the same watch.
        let mut socket = SharedSocket(server);
        let mut read = [0u8; 1];
        socket.read_exact(&mut read).await.unwrap();
        drop(client);
        let gone = poll_fn(|cx| {
            if watching.gone(&hangup, cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        assert!(
            tokio::time::timeout(Duration::from_secs(5), gone)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_exchange_never_watched_never_sees_its_client_go() {
        let (server, client) = pair().await;
        let hangup = Hangup::of(server);
        drop(client);
        assert!(seen(&hangup, Client::Gone).await);
        let mut never = Watching::never();
        assert!(!poll_fn(|cx| Poll::Ready(never.gone(&hangup, cx))).await);
        let mut watched = Watching::after(1);
        assert!(poll_fn(|cx| Poll::Ready(watched.gone(&hangup, cx))).await);
    }
}
