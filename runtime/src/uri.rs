//! The RFC 3986 normal form of resource URIs: the spelling resources are looked up by.
//!
//! Two URIs that differ only in what RFC 3986 §6.2.2 normalizes (the case of the scheme and the
//! host, percent-escapes, `.` and `..` segments) name the same resource, so a client must not
//! reach one under a spelling its scopes were not checked for. Requests are matched, and
//! subscriptions kept, in this form; declared URIs must be in it.
//!
//! One deliberate departure: RFC 3986 §5.2.4 clamps a `..` that would climb above the root
//! (`http://a/../g` becomes `http://a/g`). A request spelled that way was written to reach
//! something outside the tree it names, so here it names no resource at all.

use std::borrow::Cow;

/// The spelling of `uri` that resources are looked up by (RFC 3986 §6.2.2), or `None` when it
/// names no resource.
///
/// - The scheme and the host in lower case (§6.2.2.1).
/// - Percent-escapes of unreserved characters decoded (`%73` is `s`, `%2E` is `.`), the others'
///   hex digits in upper case (`%2f` is `%2F`) (§6.2.2.2).
/// - `.` and `..` segments removed from a path that starts with `/` (§6.2.2.3, the algorithm of
///   §5.2.4), in every spelling (`..`, `%2E%2E`, `.%2e`, `%2e.`, `.`, `%2E`):
///   `x://h/a/./b/../c` is `x://h/a/c`.
///
/// `None`, deliberately where RFC 3986 §5.2.4 would clamp instead, for a path whose `..`
/// segments climb above its root (`x://h/../private`, `x://h/a/../../b`), and for a `.` or `..`
/// segment in a path that does not start with `/`: there is no root to resolve it against
/// (`urn:`, `mailto:`, `scheme:a/../b`; RFC 3986 §3.3 leaves such paths to their scheme).
#[must_use]
pub fn normalize_uri(uri: &str) -> Option<Cow<'_, str>> {
    // Escapes first: the scheme and the host are found in the decoded text (`%2E` decoded can
    // make a scheme of what was none), so that the normal form is its own normal form.
    let decoded = normalize_escapes(uri);
    let decoded = match without_dot_segments(&decoded)? {
        // Removing a segment can remove a `%` that started no escape, which kept the others
        // as they were (see `normalize_escapes`): decode again, or a second pass would.
        Some(resolved) => Cow::Owned(normalize_escapes(&resolved).into_owned()),
        None => decoded,
    };
    Some(match lowercase_scheme_and_host(&decoded) {
        Some(lowered) => Cow::Owned(lowered),
        None => decoded,
    })
}

/// Whether `segment` is `.` or `..` in any spelling (`%2E` is `.`, RFC 3986 §2.3), even where
/// the URI's escapes could not be decoded.
pub(crate) fn is_dot_segment(segment: &str) -> bool {
    dots(segment) > 0
}

/// 1 for `.`, 2 for `..` (in any spelling), 0 for any other segment.
fn dots(segment: &str) -> usize {
    let mut rest = segment.as_bytes();
    let mut count = 0;
    while !rest.is_empty() && count < 3 {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return 0,
        };
        count += 1;
    }
    if count < 3 { count } else { 0 }
}

/// Where the path of `uri` is (RFC 3986 §3): after `scheme:` and `//authority`, up to `?` or
/// `#`; and whether there was an authority.
fn path_of(uri: &str) -> (std::ops::Range<usize>, bool) {
    let start = scheme_end(uri).map_or(0, |end| end + 1);
    let (start, authority) = match uri[start..].strip_prefix("//") {
        Some(rest) => (
            start + 2 + rest.find(['/', '?', '#']).unwrap_or(rest.len()),
            true,
        ),
        None => (start, false),
    };
    let end = start + uri[start..].find(['?', '#']).unwrap_or(uri.len() - start);
    (start..end, authority)
}

/// `uri` with the dot segments of its path removed (RFC 3986 §5.2.4): `Some(None)` when it has
/// none, `None` when it names nothing (see [`normalize_uri`]).
fn without_dot_segments(uri: &str) -> Option<Option<String>> {
    let (path, authority) = path_of(uri);
    let text = &uri[path.clone()];
    if !text.split('/').any(is_dot_segment) {
        return Some(None);
    }
    // A rootless path (`urn:a/../b`) is opaque to us: RFC 3986 §5.2.4 would resolve it into an
    // absolute one (`urn:/b`), which is not what the URI wrote either.
    let rooted = text.strip_prefix('/')?;
    let mut kept: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in rooted.split('/') {
        let up = dots(segment);
        // A dot segment at the end leaves the directory it resolved to: `/a/b/..` is `/a/`.
        trailing_slash = up > 0;
        match up {
            0 => kept.push(segment),
            // `..`: up one, but never above the root.
            2 => _ = kept.pop()?,
            _ => {}
        }
    }
    let mut resolved_path = format!("/{}", kept.join("/"));
    if trailing_slash && !kept.is_empty() {
        resolved_path.push('/');
    }
    // Without an authority, a path that now starts with `//` would read as one
    // (`x:/.//h/p` is not `x://h/p`): RFC 3986 §5.2.4 leaves this open, so it names nothing.
    if !authority && resolved_path.starts_with("//") {
        return None;
    }
    let resolved = [&uri[..path.start], &resolved_path, &uri[path.end..]].concat();
    Some(Some(resolved))
}

/// `%XX` of an unreserved character decoded, the others' hex digits in upper case. A URI with a
/// `%` that starts no escape is not a URI (RFC 3986 §2.1): it is left as it is, since decoding
/// around it could make escapes that were not there (`%%333` would become `%%33`, then `%3`).
fn normalize_escapes(uri: &str) -> Cow<'_, str> {
    let bytes = uri.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut any = false;
    for at in memchr::memchr_iter(b'%', bytes) {
        any = true;
        let escape = bytes.get(at + 1..at + 3);
        if !escape.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return Cow::Borrowed(uri);
        }
    }
    if !any {
        return Cow::Borrowed(uri);
    }
    let mut out = String::with_capacity(uri.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            let byte = u8::try_from(h * 16 + l).unwrap_or(0);
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1]).to_ascii_uppercase());
                out.push(char::from(bytes[i + 2]).to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        // Whole characters: `%` is one byte, so `i` stays on a character boundary.
        let width = uri[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&uri[i..i + width]);
        i += width;
    }
    Cow::Owned(out)
}

/// Where the scheme of `uri` ends (its `:`): a letter, then letters, digits, `+`, `-` or `.`
/// (RFC 3986 §3.1). `None` when `uri` has none.
fn scheme_end(uri: &str) -> Option<usize> {
    let bytes = uri.as_bytes();
    uri.find(':').filter(|&end| {
        end > 0
            && bytes[0].is_ascii_alphabetic()
            && bytes[..end]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    })
}

/// `uri` with its scheme and host in lower case (escapes left as they are), or `None` when
/// they are already.
fn lowercase_scheme_and_host(uri: &str) -> Option<String> {
    let bytes = uri.as_bytes();
    let scheme_end = scheme_end(uri).unwrap_or(0);
    // The host: after `//` and any user information, up to the path, query or fragment.
    let host = match uri[scheme_end..].strip_prefix("://") {
        Some(rest) => {
            let start = scheme_end + 3;
            let end = start + rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let host_start = uri[start..end]
                .rfind('@')
                .map_or(start, |at| start + at + 1);
            host_start..end
        }
        None => 0..0,
    };
    let lowered = |i: usize| i < scheme_end || host.contains(&i);
    // The hex digits of `%XX` escapes stay upper case.
    let escaped = |i: usize| {
        let at = |j: usize| bytes.get(j).copied();
        let is_hex = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit());
        (i >= 1 && at(i - 1) == Some(b'%') && is_hex(at(i)) && is_hex(at(i + 1)))
            || (i >= 2 && at(i - 2) == Some(b'%') && is_hex(at(i - 1)) && is_hex(at(i)))
    };
    let upper = |i: usize| bytes[i].is_ascii_uppercase() && lowered(i) && !escaped(i);
    (0..bytes.len()).any(upper).then(|| {
        uri.char_indices()
            .map(|(i, c)| if upper(i) { c.to_ascii_lowercase() } else { c })
            .collect()
    })
}

/// Splits a canonical URI into origin and path (`https://h:1/a/b` -> `https://h:1`, `/a/b`).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn origin_and_path(canonical: &str) -> (&str, &str) {
    let after_scheme = canonical.find("://").map_or(0, |i| i + 3);
    match canonical[after_scheme..].find(['/', '?']) {
        Some(i) => canonical.split_at(after_scheme + i),
        None => (canonical, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(uri: &str) -> Option<String> {
        normalize_uri(uri).map(Cow::into_owned)
    }

    #[test]
    fn uris_are_looked_up_in_their_normal_form() {
        for (uri, normal) in [
            ("notes://note/secret", "notes://note/secret"),
            ("notes://note/%73ecret", "notes://note/secret"),
            ("NOTES://Note/Secret", "notes://note/Secret"),
            ("file:///a%2fb%7E", "file:///a%2Fb~"),
            ("x://user@HOST:80/P", "x://user@host:80/P"),
            ("x://%4Eote/secret", "x://note/secret"),
            ("urn:Example:%41", "urn:Example:A"),
            ("a%zz%4", "a%zz%4"),
            ("x://h/é%C3%A9", "x://h/é%C3%A9"),
        ] {
            assert_eq!(normalize_uri(uri).as_deref(), Some(normal), "{uri}");
        }
        assert!(matches!(
            normalize_uri("notes://note/1"),
            Some(Cow::Borrowed(_))
        ));
        // Found by the resource_uri fuzz target: decoded, `%2E` makes a scheme of what was
        // none; the normal form is found after decoding, so it is its own normal form.
        for uri in [
            "Whtt%2E%2E:0]:3\"00/mc0",
            "X%2By://H%2Fo/%2f",
            "%A%bc://Q",
            "a://B%zZ/",
            "http://a/b/.%%%%3333%%",
            "x://h/%%333",
            // A removed segment held the only stray `%`: the rest is decoded on the first pass.
            "x://h/%zz/../%41",
            "x://H/a%zz/%2E%2E/%2e/b%41",
        ] {
            let once = normal(uri).unwrap();
            assert_eq!(normal(&once).as_deref(), Some(&*once), "{uri}");
        }
        assert_eq!(normal("Whtt%2E%2E:0").as_deref(), Some("whtt..:0"));
        assert_eq!(normal("x://h/%zz/../%41").as_deref(), Some("x://h/A"));
    }

    /// RFC 3986 §5.4.1 and §5.4.2: the targets resolved against `http://a/b/c/d;p?q` that keep
    /// their dot segments once merged with the base path, with what §5.2.4 makes of them.
    #[test]
    fn dot_segments_are_removed_as_rfc_3986_resolves_them() {
        for (uri, resolved) in [
            ("http://a/b/c/./g", "http://a/b/c/g"),
            ("http://a/b/c/g/", "http://a/b/c/g/"),
            ("http://a/b/c/.", "http://a/b/c/"),
            ("http://a/b/c/./", "http://a/b/c/"),
            ("http://a/b/c/..", "http://a/b/"),
            ("http://a/b/c/../", "http://a/b/"),
            ("http://a/b/c/../g", "http://a/b/g"),
            ("http://a/b/c/../..", "http://a/"),
            ("http://a/b/c/../../", "http://a/"),
            ("http://a/b/c/../../g", "http://a/g"),
            ("http://a/./g", "http://a/g"),
            ("http://a/b/c/g.", "http://a/b/c/g."),
            ("http://a/b/c/.g", "http://a/b/c/.g"),
            ("http://a/b/c/g..", "http://a/b/c/g.."),
            ("http://a/b/c/..g", "http://a/b/c/..g"),
            ("http://a/b/c/./../g", "http://a/b/g"),
            ("http://a/b/c/./g/.", "http://a/b/c/g/"),
            ("http://a/b/c/g/./h", "http://a/b/c/g/h"),
            ("http://a/b/c/g/../h", "http://a/b/c/h"),
            ("http://a/b/c/g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("http://a/b/c/g;x=1/../y", "http://a/b/c/y"),
            // The query and the fragment are not the path.
            ("http://a/b/c/g?y/./x", "http://a/b/c/g?y/./x"),
            ("http://a/b/c/g?y/../x", "http://a/b/c/g?y/../x"),
            ("http://a/b/c/g#s/./x", "http://a/b/c/g#s/./x"),
            ("http://a/b/c/g#s/../x", "http://a/b/c/g#s/../x"),
            ("http://a/b/c/..?q", "http://a/b/?q"),
            // §5.2.4's own examples, as absolute paths.
            ("x:/a/b/c/./../../g", "x:/a/g"),
            ("x://h/a//../b", "x://h/a/b"),
        ] {
            assert_eq!(normal(uri).as_deref(), Some(resolved), "{uri}");
        }
        // §5.4.2 clamps these to `http://a/g`; here they name nothing.
        for uri in [
            "http://a/../g",
            "http://a/b/c/../../../g",
            "http://a/b/c/../../../../g",
            "http://a/./../g",
            "http://a/..",
            "http://a/b/../..",
        ] {
            assert_eq!(normal(uri), None, "{uri}");
        }
    }

    #[test]
    fn every_spelling_of_a_dot_segment_is_one() {
        for dots in [
            "..", "%2E%2E", "%2e%2e", ".%2E", ".%2e", "%2E.", "%2e.", "%2E%2e",
        ] {
            let uri = format!("vault://h/public/{dots}/private/x");
            assert_eq!(
                normal(&uri).as_deref(),
                Some("vault://h/private/x"),
                "{uri}"
            );
            // The authority is no segment: `..` right after it climbs.
            let above = format!("vault://public/{dots}/private/x");
            assert_eq!(normal(&above), None, "{above}");
            let climb = format!("vault://h/a/{dots}/{dots}/x");
            assert_eq!(normal(&climb), None, "{climb}");
            // Even where a stray `%` keeps the escapes from being decoded.
            let stray = format!("vault://h/{dots}/x%");
            assert_eq!(normal(&stray), None, "{stray}");
        }
        for dot in [".", "%2E", "%2e"] {
            let uri = format!("vault://h/public/{dot}/x");
            assert_eq!(normal(&uri).as_deref(), Some("vault://h/public/x"), "{uri}");
        }
        // Escaped `/` is no separator (RFC 3986 §2.2): `..%2F` is one segment, not a dot one.
        assert_eq!(
            normal("vault://h/..%2Fx").as_deref(),
            Some("vault://h/..%2Fx")
        );
    }

    /// What the `resource_uri` fuzz target checks, over every short URI made of the pieces
    /// that matter here: the normal form is its own normal form, and its path has no dot
    /// segment in any spelling.
    #[test]
    fn the_normal_form_is_stable_and_has_no_dot_segments() {
        const PIECES: [&str; 15] = [
            "/", ".", "/..", "%2E", "%2e", "a", "%", "%zz", "%41", "?", "#", ":", "//", "A", "\\",
        ];
        let mut uris = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = uris
                .iter()
                .flat_map(|uri| PIECES.iter().map(move |piece| format!("{uri}{piece}")))
                .collect();
            uris.extend(longer);
        }
        uris.sort_unstable();
        uris.dedup();
        for prefix in ["", "X://H", "x://h/", "x:", "x:/"] {
            for tail in &uris {
                let uri = format!("{prefix}{tail}");
                let Some(once) = normal(&uri) else { continue };
                assert_eq!(normal(&once).as_deref(), Some(&*once), "{uri:?}");
                let (path, _) = path_of(&once);
                assert!(
                    !once[path].split('/').any(is_dot_segment),
                    "{uri:?} -> {once:?}"
                );
            }
        }
    }

    /// A path without a root has nothing to resolve `..` against: RFC 3986 §5.2.4 would turn
    /// `urn:a/../b` into `urn:/b`, another URI. Such a URI names nothing.
    #[test]
    fn a_dot_segment_in_a_rootless_path_names_nothing() {
        for uri in [
            "urn:a/../b",
            "urn:..",
            "scheme:./x",
            "mailto:a/%2E%2E/b",
            "../private/x",
            "a/../b",
        ] {
            assert_eq!(normal(uri), None, "{uri}");
        }
        for uri in [
            "urn:isbn:0-486-27557-4",
            "mailto:a.b@c.d",
            "urn:x:.y",
            "urn:x:a..b",
        ] {
            assert_eq!(normal(uri).as_deref(), Some(uri), "{uri}");
        }
        // Without a scheme, a path from the root still resolves.
        assert_eq!(normal("/a/../b").as_deref(), Some("/b"));
        assert_eq!(normal("//h/a/../b").as_deref(), Some("//h/b"));
        assert_eq!(normal("//h/../b"), None);
        // Nor does a path that would turn into an authority.
        assert_eq!(normal("x:/.//h/p"), None);
        assert_eq!(normal("x:/a/..//."), None);
        assert_eq!(normal("x://h/.//p").as_deref(), Some("x://h//p"));
    }
}
