//! The MCP result types handlers produce: content blocks, resource contents, tool results.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// One block of a tool result's `content`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 of the image bytes.
        data: String,
        /// Its MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 of the audio bytes.
        data: String,
        /// Its MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A resource embedded in the result.
    Resource {
        /// The resource's contents.
        resource: ResourceContents,
    },
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// An image block from raw bytes (encoded to base64 here).
    pub fn image(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self::Image {
            data: base64_encode(bytes.as_ref()),
            mime_type: mime_type.into(),
        }
    }

    /// An audio block from raw bytes (encoded to base64 here).
    pub fn audio(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self::Audio {
            data: base64_encode(bytes.as_ref()),
            mime_type: mime_type.into(),
        }
    }

    /// An embedded text resource.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: Option<String>,
        text: impl Into<String>,
    ) -> Self {
        Self::Resource {
            resource: ResourceContents::Text {
                uri: uri.into(),
                mime_type,
                text: text.into(),
            },
        }
    }

    /// An embedded binary resource (encoded to base64 here).
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: Option<String>,
        bytes: impl AsRef<[u8]>,
    ) -> Self {
        Self::Resource {
            resource: ResourceContents::Blob {
                uri: uri.into(),
                mime_type,
                blob: base64_encode(bytes.as_ref()),
            },
        }
    }
}

/// The contents of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResourceContents {
    /// Text contents.
    Text {
        /// The resource URI.
        uri: String,
        /// Its MIME type.
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The text.
        text: String,
    },
    /// Binary contents, base64-encoded.
    Blob {
        /// The resource URI.
        uri: String,
        /// Its MIME type.
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Base64 of the bytes.
        blob: String,
    },
}

/// The result of `tools/call`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult {
    /// The unstructured result.
    pub content: Vec<Content>,
    /// The structured result, conforming to the tool's `outputSchema`: JSON text, written into
    /// the answer as it is (`serde_json::value::to_raw_value` makes it from any `Serialize`).
    /// A large result is serialized once this way, where a `Value` would be built, then written
    /// out, then written again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Box<RawValue>>,
    /// Whether the tool failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

/// Results are equal when their content, their error flag and their structured content's JSON
/// values are (however the JSON text is spaced or its members ordered).
impl PartialEq for CallToolResult {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content
            && self.is_error == other.is_error
            && match (&self.structured_content, &other.structured_content) {
                (None, None) => true,
                (Some(a), Some(b)) => a.get() == b.get() || same_value(a, b),
                _ => false,
            }
    }
}

/// Whether two JSON texts hold the same value.
fn same_value(a: &RawValue, b: &RawValue) -> bool {
    match (
        serde_json::from_str::<Value>(a.get()),
        serde_json::from_str::<Value>(b.get()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl CallToolResult {
    /// A successful result with these content blocks.
    #[must_use]
    pub fn success(content: Vec<Content>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// A failed result (`isError: true`) carrying `message` as text.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![Content::text(message)],
            structured_content: None,
            is_error: true,
        }
    }
}

/// Standard base64 with padding, as MCP's `data` and `blob` fields expect.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_serializes_with_mcp_field_names() {
        let v = serde_json::to_value(Content::image([1u8, 2, 3], "image/png")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"image","data":"AQID","mimeType":"image/png"})
        );
        let v = serde_json::to_value(CallToolResult::error("boom")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"content":[{"type":"text","text":"boom"}],"isError":true})
        );
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn structured_content_is_written_as_it_is() {
        let result = CallToolResult {
            content: vec![Content::text("t")],
            structured_content: Some(raw(r#"{"z":1,"a":[true,null]}"#)),
            is_error: false,
        };
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            r#"{"content":[{"type":"text","text":"t"}],"structuredContent":{"z":1,"a":[true,null]}}"#
        );
        // Read back as a `Value` (a task's record), it is the same value.
        assert_eq!(
            serde_json::to_value(&result).unwrap()["structuredContent"],
            serde_json::json!({"a": [true, null], "z": 1})
        );
    }

    #[test]
    fn results_are_equal_when_their_structured_values_are() {
        let with = |text: Option<&str>| CallToolResult {
            content: vec![Content::text("t")],
            structured_content: text.map(raw),
            is_error: false,
        };
        assert_eq!(
            with(Some(r#"{"a":1,"b":2}"#)),
            with(Some(r#"{ "b": 2, "a": 1 }"#))
        );
        assert_eq!(with(None), with(None));
        assert_ne!(with(Some(r#"{"a":1}"#)), with(Some(r#"{"a":2}"#)));
        assert_ne!(with(Some(r#"{"a":1}"#)), with(None));
        let mut failed = with(Some("{}"));
        failed.is_error = true;
        assert_ne!(failed, with(Some("{}")));
    }
}
