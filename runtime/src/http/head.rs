//! The request headers the MCP endpoint reads on every request, found in one pass over the
//! header map.
//!
//! A lookup in `HeaderMap` hashes the name and probes the table: six of them (`Host`, `Origin`,
//! `Authorization`, `MCP-Protocol-Version`, `Content-Type`, `Accept`) cost several times one
//! walk over the dozen headers a request carries, comparing names.

use axum::http::HeaderMap;
use axum::http::header::{self, HeaderValue};

use super::headers::{HeaderVersion, PROTOCOL_VERSION, first_two};
use super::sse::lists_event_stream;

/// What the endpoint reads of a request's headers: for each name, its first value, as
/// `HeaderMap::get` finds it.
pub(super) struct Head<'a> {
    pub(super) host: Option<&'a HeaderValue>,
    pub(super) origin: Option<&'a HeaderValue>,
    /// The first two `Authorization` values: as many as it takes to tell one from more.
    pub(super) authorization: [Option<&'a HeaderValue>; 2],
    pub(super) version: HeaderVersion<'a>,
    pub(super) media: Media,
}

/// What a POST's `Content-Type` and `Accept` say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Media {
    /// The `Content-Type` is `application/json` (parameters aside, in any case).
    pub(super) json: bool,
    /// An `Accept` value lists `text/event-stream` (or `*/*`).
    pub(super) event_stream: bool,
}

impl<'a> Head<'a> {
    pub(super) fn of(headers: &'a HeaderMap) -> Self {
        let mut head = Head {
            host: None,
            origin: None,
            authorization: [None, None],
            version: HeaderVersion::Absent,
            media: Media::default(),
        };
        let (mut content_type, mut version) = (None, None);
        for (name, value) in headers {
            let first = |slot: &mut Option<&'a HeaderValue>| {
                slot.get_or_insert(value);
            };
            if *name == header::HOST {
                first(&mut head.host);
            } else if *name == header::ORIGIN {
                first(&mut head.origin);
            } else if *name == header::AUTHORIZATION {
                first_two(&mut head.authorization, value);
            } else if *name == header::CONTENT_TYPE {
                first(&mut content_type);
            } else if *name == header::ACCEPT {
                head.media.event_stream |= lists_event_stream(value.as_bytes());
            } else if *name == PROTOCOL_VERSION {
                first(&mut version);
            }
        }
        head.media.json = content_type.is_some_and(is_json);
        head.version = HeaderVersion::of_value(version);
        head
    }
}

/// A `Content-Type` of `application/json`, with any parameters.
fn is_json(value: &HeaderValue) -> bool {
    // What nearly every client sends, told at once.
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return true;
    }
    value.to_str().ok().is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::HeaderName;

    fn map(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    /// Every header of `pairs`, read as the map's own lookups read them.
    fn agrees(pairs: &[(&str, &[u8])]) {
        let headers = map(pairs);
        let head = Head::of(&headers);
        assert_eq!(head.host, headers.get(header::HOST), "{pairs:?}");
        assert_eq!(head.origin, headers.get(header::ORIGIN), "{pairs:?}");
        let mut auth = headers.get_all(header::AUTHORIZATION).iter();
        assert_eq!(head.authorization, [auth.next(), auth.next()], "{pairs:?}");
        let expected = HeaderVersion::of_value(headers.get(&PROTOCOL_VERSION));
        assert_eq!(
            format!("{:?}", head.version),
            format!("{expected:?}"),
            "{pairs:?}"
        );
        assert_eq!(
            head.media.json,
            headers.get(header::CONTENT_TYPE).is_some_and(is_json),
            "{pairs:?}"
        );
        assert_eq!(
            head.media.event_stream,
            super::super::sse::accepts_event_stream(&headers),
            "{pairs:?}"
        );
    }

    #[test]
    fn one_pass_reads_what_the_maps_lookups_read() {
        let token = b"Bearer a.b.c".as_slice();
        let cases: &[&[(&str, &[u8])]] = &[
            &[],
            &[
                ("host", b"127.0.0.1:3000"),
                ("content-type", b"application/json"),
                ("accept", b"application/json, text/event-stream"),
                ("authorization", token),
                ("mcp-protocol-version", b"2025-11-25"),
                ("x-other", b"1"),
            ],
            // Repeated names: the first value, in order; every Accept value counts.
            &[
                ("authorization", b"Bearer one"),
                ("host", b"a"),
                ("authorization", b"Bearer two"),
                ("authorization", b"Bearer three"),
                ("host", b"b"),
                ("accept", b"application/json"),
                ("accept", b"text/event-stream"),
                ("content-type", b"text/plain"),
                ("content-type", b"application/json"),
                ("mcp-protocol-version", b"1999-01-01"),
                ("mcp-protocol-version", b"2025-06-18"),
                ("origin", b"http://x"),
            ],
            // Names a byte away from the ones read, and other spellings of the values.
            &[
                ("mcp-protocol-versio", b"2025-06-18"),
                ("mcp-protocol-versions", b"2025-06-18"),
                ("content-type", b" Application/JSON ; charset=utf-8"),
                ("accept", b"*/*"),
                ("authorizations", token),
            ],
            &[
                ("content-type", b"application/json-seq"),
                ("accept", b"text/event-streams"),
                ("mcp-protocol-version", b"2026-07-28"),
            ],
        ];
        for pairs in cases {
            agrees(pairs);
        }
    }
}
