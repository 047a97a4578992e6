//! Event streams: whether a client takes `text/event-stream`, and the SSE response that
//! carries messages to it.

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::headers::SESSION_HEADER;

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
fn lists_event_stream(value: &[u8]) -> bool {
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
pub(super) fn event_stream(
    messages: impl futures_util::Stream<Item = String> + Send + 'static,
    session: Option<&str>,
) -> Response {
    use axum::response::sse::{Event, Sse};
    use futures_util::StreamExt as _;
    let stream = messages.map(|message| {
        Ok::<_, std::convert::Infallible>(Event::default().event("message").data(message))
    });
    let mut response = unbuffered(Sse::new(stream).into_response());
    if let Some(id) = session
        && let Ok(value) = HeaderValue::from_str(id)
    {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
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

/// Proxies must pass each event on at once (2026-07-28 Streamable HTTP).
fn unbuffered(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
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
}
