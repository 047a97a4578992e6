//! Header maps recycled from finished requests into responses.
//!
//! hyper parses each HTTP/1 request into the header map of the response before it on the same
//! connection (emptied), so a response whose headers sit in a fresh map costs two allocations
//! to build, and a request with more header lines than that small map holds costs two more to
//! grow it. The endpoint instead leaves each request's map, emptied, on its thread, and the
//! next JSON response there takes it: in the steady state no request and no response allocates
//! a header map.
//!
//! A map is emptied before it is kept, so nothing of one request (its credentials least of all)
//! reaches another's response: only the room is reused.

use std::cell::Cell;

use axum::http::HeaderMap;

/// Maps with room for more entries than this are dropped rather than kept: a request with an
/// unusual number of header lines should not leave every later response carrying its room.
const MAX_KEPT_CAPACITY: usize = 48;

thread_local! {
    static SPARE: Cell<Option<HeaderMap>> = const { Cell::new(None) };
}

/// An empty header map: this thread's spare one, or a new one.
pub(super) fn take() -> HeaderMap {
    SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Empties `map` and keeps it for the next [`take`] on this thread.
pub(super) fn keep(mut map: HeaderMap) {
    if map.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    map.clear();
    // A map already kept is dropped; so is this one when the thread is ending.
    let _ = SPARE.try_with(|spare| spare.set(Some(map)));
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};

    use super::*;

    fn request_headers() -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(HOST, HeaderValue::from_static("localhost"));
        map.insert(AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        map
    }

    #[test]
    fn a_kept_map_comes_back_empty_with_its_room() {
        let map = request_headers();
        let room = map.capacity();
        keep(map);
        let reused = take();
        assert!(reused.is_empty(), "no request header reaches a response");
        assert_eq!(reused.get(AUTHORIZATION), None);
        assert_eq!(reused.capacity(), room, "the room is what is reused");
        // Taken once: the next response on this thread gets a new map.
        assert_eq!(take().capacity(), 0);
    }

    #[test]
    fn large_maps_are_not_kept() {
        let mut map = request_headers();
        for i in 0..MAX_KEPT_CAPACITY {
            map.append(
                axum::http::HeaderName::try_from(format!("x-line-{i}")).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        assert!(map.capacity() > MAX_KEPT_CAPACITY);
        keep(map);
        assert_eq!(take().capacity(), 0);
    }

    #[test]
    fn maps_are_kept_per_thread() {
        keep(request_headers());
        let elsewhere = std::thread::spawn(|| take().capacity()).join().unwrap();
        assert_eq!(elsewhere, 0, "another thread has no spare");
        assert!(take().capacity() > 0, "this thread's spare is still here");
    }
}
