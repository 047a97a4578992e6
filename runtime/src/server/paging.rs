//! The pages of a list, serialized once or for one caller, and the opaque cursors naming them.

use serde_json::value::RawValue;

/// The pre-built pages of a list, keyed by `key` (`resources`, `prompts`, …).
pub(super) fn pages(key: &str, entries: &[&RawValue], page_size: usize) -> Box<[Box<RawValue>]> {
    (0..page_count(entries.len(), page_size))
        .map(|page| list_page(key, entries, page, page_size))
        .collect()
}

pub(super) fn page_count(tools: usize, page_size: usize) -> usize {
    tools.div_ceil(page_size).max(1)
}

/// One `tools/list` result: a page of pre-serialized tool entries and, unless it is the last,
/// the cursor of the next page.
pub(super) fn list_page(
    key: &str,
    tools: &[&RawValue],
    page: usize,
    page_size: usize,
) -> Box<RawValue> {
    let start = (page * page_size).min(tools.len());
    let end = (start + page_size).min(tools.len());
    let mut out = format!(r#"{{"{key}":["#);
    for (i, tool) in tools[start..end].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(tool.get());
    }
    out.push(']');
    if end < tools.len() {
        out.push_str(r#","nextCursor":""#);
        out.push_str(&encode_cursor(page + 1));
        out.push('"');
    }
    out.push('}');
    RawValue::from_string(out).expect("concatenated JSON values form JSON")
}

// Cursors are opaque to clients; ours name a page of the list.
const CURSOR_PREFIX: &str = "sgpage-";

fn encode_cursor(page: usize) -> String {
    format!("{CURSOR_PREFIX}{page}")
}

pub(super) fn decode_cursor(cursor: &str) -> Option<usize> {
    let digits = cursor.strip_prefix(CURSOR_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
