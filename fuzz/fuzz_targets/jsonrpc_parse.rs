//! `Message::parse` on arbitrary bytes: never panics; an error is a JSON-RPC response that
//! serializes to valid JSON; a parsed message keeps what JSON-RPC 2.0 requires; and the one-pass
//! reading of a `tools/call` agrees with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scopegate::protocol::{Message, RequestId};
use scopegate_fuzz::assert_jsonrpc_response;

fuzz_target!(|data: &[u8]| {
    // The one-pass reading of a `tools/call` comes to what `parse` and the dispatcher make of
    // the same bytes.
    scopegate::__private::fuzz::read_agrees_with_parse(data);
    match Message::parse(data) {
        Ok(Message::Request(request)) => {
            check_id(&request.id);
            if let Some(params) = &request.params {
                assert!(matches!(params.get().as_bytes().first(), Some(b'{' | b'[')));
            }
            // The 2026-07-28 probe reads params a second time: it must not panic either.
            let _ = request.modern_meta();
        }
        Ok(Message::Notification(notification)) => {
            if let Some(params) = &notification.params {
                assert!(matches!(params.get().as_bytes().first(), Some(b'{' | b'[')));
            }
        }
        Ok(Message::Response { id, result }) => {
            match &id {
                Some(id) => check_id(id),
                None => assert!(result.is_err(), "only an error response has a null id"),
            }
            if let Err(error) = result {
                let _ = serde_json::to_string(&error).expect("an error object serializes");
            }
        }
        Err(response) => {
            assert!(
                response.error_object().is_some(),
                "a parse failure is an error response"
            );
            assert_jsonrpc_response(&response.to_json());
        }
    }
});

fn check_id(id: &RequestId) {
    let text = serde_json::to_string(id).expect("an id serializes");
    let value: serde_json::Value = serde_json::from_str(&text).expect("an id is JSON");
    assert!(
        value.is_string() || value.is_i64() || value.is_u64(),
        "bad id {text}"
    );
}
