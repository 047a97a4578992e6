//! Canonical resource URIs (RFC 8707 / RFC 9728) and the authorization server discovery URLs
//! (RFC 8414 §3.1, OpenID Connect Discovery) on arbitrary strings: never panic; a canonical URI
//! is http(s), has no fragment, and is its own canonical form. The same string as a
//! `Cache-Control` value: a lifetime is read only from a `max-age` directive, or is zero for
//! `no-store` / `no-cache`. The same string as an MCP resource URI: its normal form (the one
//! resources are looked up by) is its own normal form and its path has no `.` or `..` segment;
//! a template's simple variable never decodes to more than one segment, and no variable to a
//! value with a dot segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scopegate::__private::fuzz::{cache_control, canonical, discovery};

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(seconds) = cache_control(uri) {
        let lower = uri.to_ascii_lowercase();
        assert!(
            lower.contains("max-age=") || seconds == 0,
            "{seconds} s read from {uri:?}"
        );
    }
    if let Some(normal) = scopegate::resource::normalize_uri(uri) {
        assert_eq!(
            scopegate::resource::normalize_uri(&normal).as_deref(),
            Some(&*normal),
            "normalizing {uri:?} twice"
        );
        let path = path_of(&normal);
        assert!(
            !path.split('/').any(is_dot_segment),
            "{uri:?} -> {normal:?}: dot segments left in {path:?}"
        );
    }
    if let Some(values) = scopegate::resource::match_template("x://h/{id}/{+rest}", uri) {
        let id = &values[0].1;
        assert!(!id.contains(['/', '?', '#']), "{uri:?}: id {id:?}");
        for (name, value) in &values {
            assert!(
                !value.split(['/', '\\']).any(is_dot_segment),
                "{uri:?}: {name} {value:?} has a dot segment"
            );
        }
    }
    let urls = discovery(uri);
    assert!(urls == 2 || urls == 3, "{urls} discovery URLs for {uri:?}");
    if let Some(canonical_uri) = canonical(uri) {
        assert!(
            canonical_uri.starts_with("http://") || canonical_uri.starts_with("https://"),
            "{uri:?} -> {canonical_uri:?}"
        );
        assert!(!canonical_uri.contains('#'), "{uri:?} -> {canonical_uri:?}");
        assert_eq!(
            canonical(&canonical_uri).as_deref(),
            Some(canonical_uri.as_str()),
            "canonicalizing {uri:?} twice"
        );
        let urls = discovery(&canonical_uri);
        assert!(urls == 2 || urls == 3);
    }
});

/// `.` or `..`, with any dot spelled `%2E` or `%2e` (RFC 3986 §2.3): written here again rather
/// than taken from the crate, so the target checks the crate against its own reading.
fn is_dot_segment(segment: &str) -> bool {
    let dots = segment.replace("%2E", ".").replace("%2e", ".");
    dots == "." || dots == ".."
}

/// The path of `uri` (RFC 3986 §3): after a scheme (a letter, then letters, digits, `+`, `-`,
/// `.`) and its `:`, and after `//authority`, up to `?` or `#`.
fn path_of(uri: &str) -> &str {
    let rest = match uri.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            rest
        }
        _ => uri,
    };
    let rest = match rest.strip_prefix("//") {
        Some(authority) => &authority[authority.find(['/', '?', '#']).unwrap_or(authority.len())..],
        None => rest,
    };
    &rest[..rest.find(['?', '#']).unwrap_or(rest.len())]
}
