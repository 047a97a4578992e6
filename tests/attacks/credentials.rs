//! Credentials anywhere but one well-formed `Authorization: Bearer` header.

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::capture::capture;
use crate::cases::{Expect, assert_no_failures, case, run};
use crate::harness::{call_body, default_harness};

// ---- 2. credentials anywhere but one well-formed Authorization header ----------------------

#[tokio::test(flavor = "current_thread")]
async fn credentials_outside_a_single_bearer_header_are_refused() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let token = h.token("files:read files:write").build();
    // Accepted once here, the token is remembered by the thread that serves every case below
    // (one thread: current_thread): variants of its header must still be checked in full.
    let session = h.initialize(&token).await;
    let body = call_body("write_file");
    // A POST carrying everything but credentials.
    let p = || h.bare_post(Some(&session)).body(body.to_string());
    let with_auth = |value: &str| p().header("authorization", value.to_owned());
    let in_query = |query: &str| {
        h.client
            .post(format!("{}?{query}", h.resource))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .body(body.to_string())
    };
    let non_utf8 = {
        let mut bytes = format!("Bearer {token}").into_bytes();
        bytes.push(0xff);
        HeaderValue::from_bytes(&bytes).unwrap()
    };
    let cases = vec![
        case(
            "two Authorization headers, same token",
            p().header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "two Authorization headers, a valid one then garbage",
            p().header("authorization", format!("Bearer {token}"))
                .header("authorization", "Bearer garbage"),
            Expect::InvalidRequest,
        ),
        case(
            "two Authorization headers, garbage then a valid one",
            p().header("authorization", "Bearer garbage")
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "tab after the scheme",
            with_auth(&format!("Bearer\t{token}")),
            Expect::InvalidRequest,
        ),
        case(
            "comma-joined credentials",
            with_auth(&format!("Bearer {token}, Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "two tokens joined by a comma",
            with_auth(&format!("Bearer {token},{token}")),
            Expect::InvalidRequest,
        ),
        case(
            "scheme repeated",
            with_auth(&format!("Bearer Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token then a space and junk",
            with_auth(&format!("Bearer {token} x")),
            Expect::InvalidRequest,
        ),
        case(
            "padding inside the token",
            with_auth(&format!("Bearer {}", token.replacen('.', "=.", 1))),
            Expect::InvalidRequest,
        ),
        case(
            "Basic scheme carrying the token",
            with_auth(&format!(
                "Basic {}",
                base64_standard(format!("alice:{token}").as_bytes())
            )),
            Expect::InvalidRequest,
        ),
        // A server that does not accept DPoP says so in a bearer challenge (RFC 9110 §11.6.1:
        // the schemes it does accept), the token unread.
        case(
            "DPoP scheme to a bearer-only server",
            with_auth(&format!("DPoP {token}")),
            Expect::InvalidToken(&["dpop_unsupported"]),
        ),
        case("scheme only", with_auth("Bearer"), Expect::InvalidRequest),
        case(
            "empty Authorization header",
            with_auth(""),
            Expect::InvalidRequest,
        ),
        case(
            "a byte that is not UTF-8 after the token",
            p().header("authorization", non_utf8),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string",
            in_query(&format!("access_token={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string and the header",
            in_query(&format!("access_token={token}"))
                .header("authorization", format!("Bearer {token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token as the second query parameter",
            in_query(&format!("a=1&access_token={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in the query string, name percent-encoded",
            in_query(&format!("access%5Ftoken={token}")),
            Expect::InvalidRequest,
        ),
        case(
            "token in a form body field access_token",
            h.client
                .post(&h.resource)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("mcp-session-id", &session)
                .body(format!("access_token={token}")),
            Expect::Missing,
        ),
        case(
            "token in a JSON body member access_token",
            h.bare_post(Some(&session)).body({
                let mut b = call_body("write_file");
                b["access_token"] = json!(token);
                b.to_string()
            }),
            Expect::Missing,
        ),
        case(
            "token in a cookie",
            p().header("cookie", format!("access_token={token}")),
            Expect::Missing,
        ),
        case(
            "token in Proxy-Authorization",
            p().header("proxy-authorization", format!("Bearer {token}")),
            Expect::Missing,
        ),
        case(
            "token in X-Forwarded-Authorization and X-Access-Token",
            p().header("x-forwarded-authorization", format!("Bearer {token}"))
                .header("x-access-token", &token),
            Expect::Missing,
        ),
        // Control: the same request with the token where it belongs.
        case(
            "control: the token in one well-formed header",
            with_auth(&format!("Bearer {token}")),
            Expect::Accepted,
        ),
    ];
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("credential smuggling", count, &failures);
    assert_eq!(h.runs(), 1, "only the control ran a tool");
}

/// RFC 9110 §11.1: the auth scheme is case-insensitive; RFC 6750 §2.1: `Bearer 1*SP b64token`.
/// Clients that write `bearer` or put two spaces are within the standard and must get in, on
/// the fast path for a token the thread has accepted before and on the full path for one it
/// has not.
#[tokio::test(flavor = "current_thread")]
async fn the_bearer_scheme_in_any_case_and_any_number_of_spaces_is_accepted() {
    let (capture, _guard) = capture();
    let h = default_harness(&capture).await;
    let body = call_body("write_file");
    let mut cases = Vec::new();
    for (name, spelling) in [
        ("lowercase scheme", "bearer "),
        ("uppercase scheme", "BEARER "),
        ("mixed-case scheme", "BeArEr "),
        ("two spaces after the scheme", "Bearer  "),
        ("lowercase scheme and three spaces", "bearer   "),
    ] {
        // The token's first sight is in this spelling (the full path: syntax check, then
        // verification) ...
        let fresh = h.token("files:read files:write").build();
        let initialize = h
            .send(
                h.bare_post(None)
                    .header("authorization", format!("{spelling}{fresh}"))
                    .body(
                        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})
                            .to_string(),
                    ),
            )
            .await;
        assert_eq!(
            initialize.status,
            StatusCode::OK,
            "{name}: {:?}",
            initialize.body
        );
        let session = initialize
            .session()
            .expect("initialize issues a session id");
        // ... then a call spelled the same way reaches the tool (the fast path of a token this
        // thread accepted), and so does the usual spelling.
        for header in [format!("{spelling}{fresh}"), format!("Bearer {fresh}")] {
            cases.push(case(
                format!("{name}: {header:.12}…"),
                h.bare_post(Some(&session))
                    .header("authorization", header)
                    .body(body.to_string()),
                Expect::Accepted,
            ));
        }
    }
    let expected_runs = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Accepted))
        .count();
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    assert_no_failures("scheme spellings", count, &failures);
    assert_eq!(
        h.runs(),
        expected_runs,
        "every accepted spelling ran the tool"
    );
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
