//! Protocol abuse that must not reach a tool.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::capture::capture;
use crate::cases::{Audit, Expect, assert_no_failures, case, run};
use crate::harness::{call_body, harness};
use crate::support::KeyServer;

// ---- 11. protocol abuse that must not reach a tool -----------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn protocol_abuse_never_reaches_a_tool() {
    let (capture, _guard) = capture();
    let h = harness(
        KeyServer::start().await,
        &capture,
        |j| j,
        |c| c.max_body_bytes(4096),
    )
    .await;
    let reader = h.token("files:read").build();
    let writer = h.token("files:read files:write").build();
    let session = h.initialize(&writer).await;
    let refused = |status| Expect::Refused {
        status,
        audit: Audit::TokenAccepted,
    };
    let raw = |token: &str, body: String| h.bare_post(Some(&session)).bearer_auth(token).body(body);
    let typed = |content_type: Option<&str>| {
        let mut request = h
            .client
            .post(&h.resource)
            .bearer_auth(&writer)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .body(call_body("write_file").to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request
    };
    let cases = vec![
        case(
            "tools/call inside a batch array",
            raw(&writer, json!([call_body("write_file")]).to_string()),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "batch of a ping and a tools/call",
            raw(
                &writer,
                json!([{"jsonrpc":"2.0","id":9,"method":"ping"}, call_body("write_file")])
                    .to_string(),
            ),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "body over the size limit",
            raw(
                &writer,
                json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"x".repeat(8192)}}})
                    .to_string(),
            ),
            refused(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        case(
            "Content-Type text/plain",
            typed(Some("text/plain")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "Content-Type form-urlencoded",
            typed(Some("application/x-www-form-urlencoded")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "Content-Type application/jsonx",
            typed(Some("application/jsonx")),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "no Content-Type",
            typed(None),
            refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        case(
            "duplicate method members (ping, then tools/call)",
            raw(
                &writer,
                r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"write_file","arguments":{"path":"x"}}}"#
                    .to_owned(),
            ),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "jsonrpc 1.0",
            raw(&writer, {
                let mut b = call_body("write_file");
                b["jsonrpc"] = json!("1.0");
                b.to_string()
            }),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "id as an object",
            raw(&writer, {
                let mut b = call_body("write_file");
                b["id"] = json!({"x": 1});
                b.to_string()
            }),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "tools/call sent as a notification (no id) without the scope",
            raw(&reader, {
                let mut b = call_body("write_file");
                b.as_object_mut().unwrap().remove("id");
                b.to_string()
            }),
            refused(StatusCode::ACCEPTED),
        ),
        case(
            "tools/call without a session",
            h.post(Some(&writer), None, &call_body("write_file")),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "unsupported MCP-Protocol-Version",
            raw(&writer, call_body("write_file").to_string())
                .header("mcp-protocol-version", "1999-01-01"),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "PUT with a tools/call body",
            h.client
                .request(Method::PUT, &h.resource)
                .bearer_auth(&writer)
                .header("content-type", "application/json")
                .header("mcp-session-id", &session)
                .body(call_body("write_file").to_string()),
            refused(StatusCode::METHOD_NOT_ALLOWED),
        ),
        case(
            "2026-07-28: Mcp-Name says read_file, the body calls write_file",
            h.modern_call(&reader, "write_file", "read_file"),
            refused(StatusCode::BAD_REQUEST),
        ),
        case(
            "2026-07-28 _meta on a session request with a legacy version header",
            {
                let mut b = call_body("write_file");
                b["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
                raw(&writer, b.to_string())
                    .header("mcp-protocol-version", "2025-11-25")
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "read_file")
            },
            refused(StatusCode::BAD_REQUEST),
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("protocol abuse", count, &failures);
    assert_eq!(h.runs(), 0);
}
