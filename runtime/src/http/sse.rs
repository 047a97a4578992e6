//! Event streams: whether a client takes `text/event-stream`, and the SSE response that
//! carries messages to it.

use axum::body::{Body, Bytes};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::headers::SESSION_HEADER;
use super::spare;

/// Whether the client takes `text/event-stream` responses (MCP clients send both media types).
pub(super) fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|value| lists_event_stream(value.as_bytes()))
}

/// Whether `Accept` names `text/event-stream` itself among its media ranges (a GET opens a
/// stream only when asked for one by name: `*/*` does not, nor `text/event-streams`).
pub(super) fn names_event_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|range| {
            let media = range.split(|&b| b == b';').next().unwrap_or_default();
            media
                .trim_ascii()
                .eq_ignore_ascii_case(b"text/event-stream")
        })
    })
}

/// Whether an `Accept` value lists `text/event-stream` (or `*/*`) among its media ranges.
///
/// One pass over the bytes: media ranges are ASCII and short, and this runs on every POST (an
/// iterator chain of splits and trims cost several hundred instructions a request, and a
/// `memchr` call per range more than the scan it saves).
pub(super) fn lists_event_stream(value: &[u8]) -> bool {
    // What MCP clients send (the transport asks for both types), as one comparison.
    if value == b"application/json, text/event-stream" {
        return true;
    }
    let matches = |media: &[u8]| {
        let media = media.trim_ascii();
        media.eq_ignore_ascii_case(b"text/event-stream") || media == b"*/*"
    };
    // The media range of the current element ends at its first `;` (parameters follow).
    let (mut start, mut media_end) = (0, None);
    for (i, &b) in value.iter().enumerate() {
        match b {
            b',' => {
                if matches(&value[start..media_end.unwrap_or(i)]) {
                    return true;
                }
                (start, media_end) = (i + 1, None);
            }
            b';' if media_end.is_none() => media_end = Some(i),
            _ => {}
        }
    }
    matches(&value[start..media_end.unwrap_or(value.len())])
}

/// An SSE response carrying each message of `messages` as one `message` event, closed when
/// `messages` ends.
///
/// Each event is framed by [`frame`] into one buffer (what axum's `Event` would write, without
/// its builder's several growing writes).
pub(super) fn event_stream(
    messages: impl futures_util::Stream<Item = String> + Send + 'static,
    session: Option<&str>,
) -> Response {
    use futures_util::StreamExt as _;
    let frames = messages.map(|message| Ok::<_, std::convert::Infallible>(frame(&message)));
    event_stream_response(Body::from_stream(frames), session)
}

/// An SSE response carrying the messages a handler sent, then its response, all known already
/// (the handler finished), as `message` events in one body.
pub(super) fn event_stream_of(sent: &[String], response: &[u8], session: Option<&str>) -> Response {
    let room = sent
        .iter()
        .map(|message| message.len() + FRAMING)
        .sum::<usize>();
    let mut body = Vec::with_capacity(room + response.len() + FRAMING);
    for message in sent {
        frame_into(&mut body, message.as_bytes());
    }
    frame_into(&mut body, response);
    event_stream_response(Body::from(body), session)
}

/// The response around an event stream's body: the headers axum's `Sse` sets, `unbuffered`,
/// and the session's id.
fn event_stream_response(body: Body, session: Option<&str>) -> Response {
    let mut response = Response::new(body);
    *response.headers_mut() = spare::take();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let mut response = unbuffered(response);
    if let Some(id) = session
        && let Ok(value) = HeaderValue::from_str(id)
    {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// The bytes an event of one line adds around its message (`event: message\ndata: ` and
/// `\n\n`).
const FRAMING: usize = 23;

/// `message` as one SSE `message` event.
fn frame(message: &str) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + FRAMING);
    frame_into(&mut out, message.as_bytes());
    Bytes::from(out)
}

/// Appends `message` as one SSE `message` event: `event: message`, a `data: ` line per line of
/// the message (a line ends at each `\r` or `\n`, as axum's `Event::data` splits it; none in a
/// JSON message serde_json wrote), and the blank line that ends the event.
fn frame_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"event: message\n");
    // As axum: an empty message writes no `data` field.
    if !bytes.is_empty() {
        out.extend_from_slice(b"data: ");
        let mut line = 0;
        for end in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            out.extend_from_slice(&bytes[line..=end]);
            out.extend_from_slice(b"data: ");
            line = end + 1;
        }
        out.extend_from_slice(&bytes[line..]);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// How often a long-lived stream with nothing to say sends a comment.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// An SSE response for a long-lived stream (`subscriptions/listen`): as [`event_stream`], plus
/// a comment line whenever [`KEEP_ALIVE`] passes without a message, so that proxies and clients
/// do not take a quiet stream for a dead one, and a client gone without a word is noticed when
/// the write fails (2026-07-28 Streamable HTTP).
pub(super) fn kept_alive_event_stream(
    messages: impl futures_util::Stream<Item = String> + Send + 'static,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt as _;
    let stream = messages.map(|message| {
        Ok::<_, std::convert::Infallible>(Event::default().event("message").data(message))
    });
    unbuffered(
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response(),
    )
}

/// nginx's header for a response it must not buffer (a constant: a name given as a string is
/// parsed again on every response).
const ACCEL_BUFFERING: header::HeaderName = header::HeaderName::from_static("x-accel-buffering");

/// Proxies must pass each event on at once (2026-07-28 Streamable HTTP).
fn unbuffered(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(ACCEL_BUFFERING, HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_stream_is_asked_for_by_name() {
        let names = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            names_event_stream(&headers)
        };
        assert!(names("text/event-stream"));
        assert!(names("application/json, TEXT/Event-Stream;q=0.5"));
        assert!(!names("text/event-streams"));
        assert!(!names("text/event-stream-x, application/json"));
        assert!(!names("*/*"));
        assert!(!names("application/json"));
    }

    #[test]
    fn event_streams_are_accepted_by_media_range_only() {
        let accepts = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            }
            accepts_event_stream(&headers)
        };
        for yes in [
            &["application/json, text/event-stream"][..],
            &["text/event-stream"],
            &["application/json;q=0.9,TEXT/Event-Stream;q=0.5"],
            &["  text/event-stream  ,application/json"],
            &["*/*"],
            &["application/json", "text/event-stream"],
            &["a/b;x=1;y=2,text/event-stream;q=1"],
            &[",text/event-stream,"],
        ] {
            assert!(accepts(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &[""],
            &["application/json"],
            &["text/event-streams"],
            &["text/event-stream-ish, application/json"],
            &["text/*"],
            &["application/json;profile=text/event-stream"],
            &[";text/event-stream"],
            &["application/json;a=b;c=text/event-stream, text/plain"],
        ] {
            assert!(!accepts(no), "{no:?}");
        }
    }

    /// What axum's `Sse` writes for `messages`, each a `message` event.
    async fn axum_frames(messages: &[&str]) -> (HeaderMap, Bytes) {
        use axum::response::sse::{Event, Sse};
        let events: Vec<_> = messages
            .iter()
            .map(|m| Ok::<_, std::convert::Infallible>(Event::default().event("message").data(m)))
            .collect();
        let response = Sse::new(futures_util::stream::iter(events)).into_response();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (headers, body)
    }

    const MESSAGES: [&str; 9] = [
        r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
        "",
        "a\nb",
        "a\r\nb",
        "\r",
        "x\n",
        "\n\n",
        "pretty {\n  \"a\": 1\n}",
        "ünïcode ✓",
    ];

    #[tokio::test]
    async fn events_are_framed_byte_for_byte_as_axum_frames_them() {
        for message in MESSAGES {
            let (_, want) = axum_frames(&[message]).await;
            assert_eq!(frame(message), want, "{message:?}");
        }
    }

    #[tokio::test]
    async fn a_stream_and_a_known_list_answer_as_axum_sse_with_its_headers() {
        let (want_headers, want) = axum_frames(&MESSAGES).await;
        let owned: Vec<String> = MESSAGES.iter().map(|m| (*m).to_owned()).collect();
        for response in [
            event_stream(futures_util::stream::iter(owned.clone()), Some("s-1")),
            event_stream_of(
                &owned[..owned.len() - 1],
                owned[owned.len() - 1].as_bytes(),
                Some("s-1"),
            ),
        ] {
            for (name, value) in &want_headers {
                assert_eq!(response.headers().get(name), Some(value), "{name}");
            }
            assert_eq!(response.headers()["x-accel-buffering"], "no");
            assert_eq!(response.headers()[SESSION_HEADER], "s-1");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(body, want);
        }
    }
}
