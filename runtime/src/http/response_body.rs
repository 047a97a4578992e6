//! The MCP endpoint's response body: a JSON answer as the buffer it was written in, or any other
//! body as axum makes it.
//!
//! An axum body is boxed, and its data is `Bytes`: a JSON answer handed to axum as a `Vec`
//! cost two allocations on every request, the box, and the `Bytes`' shared header (a `Vec`
//! with room to spare, as every written answer has, becomes `Bytes` only through one). The
//! endpoint's answers travel to hyper as a [`ResponseBody`] instead, whose data is a [`Chunk`]:
//! a JSON answer's own buffer, or an axum body's `Bytes` (an event stream, an error, a router's
//! answer).

use std::io::Cursor;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use bytes::Buf;
use hyper::body::{Frame, SizeHint};

/// An answer of the MCP endpoint.
pub(crate) type Answer = axum::http::Response<ResponseBody>;

/// A response body: a JSON text whole, or an axum body.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// A JSON text, until hyper takes it (`None` after, and for no body at all).
    Json(Option<Vec<u8>>),
    /// Any other body.
    Axum(Body),
}

impl ResponseBody {
    /// No body.
    pub(crate) const fn empty() -> Self {
        Self::Json(None)
    }

    /// The same body as axum's, for a service whose answers must be axum's (the endpoint as a
    /// route of an application's router).
    pub(crate) fn into_axum(self) -> Body {
        match self {
            Self::Json(Some(json)) => Body::from(json),
            Self::Json(None) => Body::empty(),
            Self::Axum(body) => body,
        }
    }
}

impl Default for ResponseBody {
    fn default() -> Self {
        Self::empty()
    }
}

/// An axum response as the endpoint's.
pub(crate) fn answer(response: axum::response::Response) -> Answer {
    response.map(ResponseBody::Axum)
}

impl hyper::body::Body for ResponseBody {
    type Data = Chunk;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Chunk>, axum::Error>>> {
        match self.get_mut() {
            Self::Json(json) => Poll::Ready(
                json.take()
                    .map(|json| Ok(Frame::data(Chunk::Json(Cursor::new(json))))),
            ),
            Self::Axum(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map(|frame| frame.map_data(Chunk::Bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Json(json) => json.is_none(),
            Self::Axum(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Json(json) => {
                SizeHint::with_exact(json.as_ref().map_or(0, |json| json.len() as u64))
            }
            Self::Axum(body) => body.size_hint(),
        }
    }
}

/// A piece of a [`ResponseBody`].
#[derive(Debug)]
pub(crate) enum Chunk {
    /// A JSON text, read from its start.
    Json(Cursor<Vec<u8>>),
    /// An axum body's data.
    Bytes(Bytes),
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Self::Json(json) => json.remaining(),
            Self::Bytes(bytes) => bytes.remaining(),
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Self::Json(json) => json.chunk(),
            Self::Bytes(bytes) => bytes.chunk(),
        }
    }

    fn advance(&mut self, count: usize) {
        match self {
            Self::Json(json) => json.advance(count),
            Self::Bytes(bytes) => bytes.advance(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use hyper::body::Body as _;

    use super::*;

    async fn collected(mut body: ResponseBody) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let mut data = frame.unwrap().into_data().unwrap();
            while data.has_remaining() {
                let chunk = data.chunk().len();
                out.extend_from_slice(data.chunk());
                data.advance(chunk);
            }
        }
        out
    }

    #[tokio::test]
    async fn a_json_body_is_its_text_once_with_its_exact_length() {
        let body = ResponseBody::Json(Some(br#"{"a":1}"#.to_vec()));
        assert_eq!(body.size_hint().exact(), Some(7));
        assert!(!body.is_end_stream());
        assert_eq!(collected(body).await, br#"{"a":1}"#);
        let empty = ResponseBody::empty();
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
        assert_eq!(collected(empty).await, b"");
    }

    #[tokio::test]
    async fn an_axum_body_passes_as_it_is_and_both_turn_back_into_axum_bodies() {
        let body = ResponseBody::Axum(Body::from("event: message\n\n"));
        assert_eq!(body.size_hint().exact(), Some(16));
        assert_eq!(collected(body).await, b"event: message\n\n");
        let json = ResponseBody::Json(Some(b"[1]".to_vec())).into_axum();
        assert_eq!(axum::body::to_bytes(json, 16).await.unwrap(), &b"[1]"[..]);
        let empty = ResponseBody::empty().into_axum();
        assert!(empty.is_end_stream());
    }

    #[test]
    fn a_chunk_advances_through_its_text() {
        let mut chunk = Chunk::Json(Cursor::new(b"abcdef".to_vec()));
        assert_eq!(chunk.remaining(), 6);
        chunk.advance(4);
        assert_eq!(chunk.chunk(), b"ef");
        let mut bytes = Chunk::Bytes(Bytes::from_static(b"xyz"));
        bytes.advance(1);
        assert_eq!((bytes.remaining(), bytes.chunk()), (2, &b"yz"[..]));
    }
}
