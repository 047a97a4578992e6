//! Canonical resource URIs (RFC 8707 / RFC 9728) and the authorization server discovery URLs
//! (RFC 8414 §3.1, OpenID Connect Discovery) on arbitrary strings: never panic; a canonical URI
//! is http(s), has no fragment, and is its own canonical form. The same string as a
//! `Cache-Control` value: a lifetime is read only from a `max-age` directive, or is zero for
//! `no-store` / `no-cache`. The same string as an MCP resource URI: its normal form (the one
//! resources are looked up by) is its own normal form, and a template's simple variable never
//! decodes to more than one segment.
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
    let normal = scopegate::resource::normalize_uri(uri);
    assert_eq!(
        scopegate::resource::normalize_uri(&normal),
        normal,
        "normalizing {uri:?} twice"
    );
    if let Some(values) = scopegate::resource::match_template("x://h/{id}/{+rest}", uri) {
        let id = &values[0].1;
        assert!(!id.contains(['/', '?', '#']), "{uri:?}: id {id:?}");
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
