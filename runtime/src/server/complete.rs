//! A complete 2026-07-28 result written in one pass: the members every one carries
//! (`resultType`, `_meta` naming the server, and the caching hints of the cacheable ones)
//! beside its own, instead of its own serialized, read back into a `Value` and serialized
//! again (issue 24). `modern.rs` decides what a result gets; this writes it.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::protocol::CallToolResult;

/// A `tools/call` result written complete from the start: `resultType` and `_meta` (naming the
/// server), then the members the result writes itself.
pub(super) struct Complete<'a> {
    result: &'a CallToolResult,
    meta: &'a RawValue,
}

impl<'a> Complete<'a> {
    /// `result`, complete, from a server whose `_meta` is `meta`.
    pub(super) fn new(result: &'a CallToolResult, meta: &'a RawValue) -> Self {
        Self { result, meta }
    }
}

impl Serialize for Complete<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The members `CallToolResult` writes, as it writes them (named one by one: a member
        // added there does not compile here until it is written here too).
        let CallToolResult {
            content,
            structured_content,
            is_error,
        } = self.result;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("resultType", "complete")?;
        map.serialize_entry("_meta", self.meta)?;
        map.serialize_entry("content", content)?;
        if let Some(structured) = structured_content {
            map.serialize_entry("structuredContent", structured)?;
        }
        if *is_error {
            map.serialize_entry("isError", is_error)?;
        }
        map.end()
    }
}

/// Whether `result` was written by [`Complete`] for a server whose `_meta` is `meta`: it then
/// has all that a result without caching hints gets.
pub(super) fn written_complete(result: &[u8], meta: &RawValue) -> bool {
    result
        .strip_prefix(br#"{"resultType":"complete","_meta":"#)
        .and_then(|rest| rest.strip_prefix(meta.get().as_bytes()))
        .is_some_and(|rest| rest.starts_with(b",") || rest.starts_with(b"}"))
}

/// A complete 2026-07-28 result: `resultType`, the caching hints, `_meta` naming the server,
/// and the result's own members.
pub(super) struct Completed<'a> {
    pub(super) cache: Option<(u64, &'a str)>,
    pub(super) meta: &'a RawValue,
    pub(super) own: &'a [(&'a str, &'a RawValue)],
}

impl Serialize for Completed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("resultType", "complete")?;
        if let Some((ttl, scope)) = self.cache {
            map.serialize_entry("ttlMs", &ttl)?;
            map.serialize_entry("cacheScope", scope)?;
        }
        map.serialize_entry("_meta", self.meta)?;
        for (name, value) in self.own {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
