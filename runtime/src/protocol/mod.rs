//! The protocol: JSON-RPC 2.0 framing, MCP's methods and protocol revisions, and the MCP result
//! types handlers produce. It uses nothing else of the runtime.

mod arguments;
mod call_message;
mod client_capabilities;
mod content;
mod jsonrpc;
mod method;
mod modern_params;
mod params_text;
mod raw_json;
mod skip;
mod versions;

pub(crate) use arguments::Arguments;
#[cfg(feature = "http")]
pub(crate) use call_message::read_agrees_with_parse;
pub(crate) use client_capabilities::ClientCapabilities;
pub(crate) use content::base64_encode;
pub use content::{CallToolResult, Content, ResourceContents};
pub(crate) use jsonrpc::to_raw;
pub use jsonrpc::{
    ErrorObject, Message, Notification, Payload, Request, RequestId, Response, error_code,
};
pub use method::Method;
pub(crate) use modern_params::{CallRead, ModernParams, Named, target_key};
pub(crate) use params_text::ParamsText;
pub use raw_json::RawJson;
pub(crate) use skip::{Skip, SkipKey};
#[cfg(feature = "http")]
pub(crate) use versions::HEADER_PROTOCOL_VERSIONS;
pub use versions::{
    LATEST_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION,
    META_SERVER_INFO, META_SUBSCRIPTION_ID, MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS,
    TASKS_EXTENSION, negotiate_version,
};
