//! Parameter headers (SEP-2243): a gateway that routes or meters on `Mcp-Param-*` must never see
//! one value while the tool acts on another.

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use scopegate::prelude::*;
use serde_json::{Value, json};

use crate::capture::{Capture, capture};
use crate::cases::{Audit, Expect, assert_no_failures, case, run};
use crate::files::Runs;
use crate::harness::{Harness, harness_of};
use crate::support::{self, KeyServer};

// ---- header and body disagree --------------------------------------------------------------
//
// `bill` is metered per tenant by a gateway that reads `Mcp-Param-Tenant` and
// `Mcp-Param-Units`. Every way of making the header say something the body does not is
// refused with 400 and `HeaderMismatch` before the tool runs; only a request whose headers say
// what its body says is billed.

/// Bills a tenant for units.
#[mcp_tool(scope = "billing:write")]
fn bill(
    runs: State<Runs>,
    #[arg(header = "Tenant")] tenant: String,
    #[arg(header = "Units")] units: Option<u32>,
) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("billed {tenant} {units:?}")
}

/// Says hello; no header parameters.
#[mcp_tool(scope = "billing:write")]
fn hello(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    "hello".into()
}

#[derive(McpServer, Clone, Default)]
#[mcp(name = "billing", tools(bill, hello))]
pub(crate) struct Billing {
    #[mcp(state)]
    pub(crate) runs: Runs,
}

/// The billing server on 127.0.0.1, with every default, trusting a fresh key server.
async fn billing_harness(capture: &Capture) -> Harness {
    harness_of(
        |runs| Billing { runs },
        KeyServer::start().await,
        capture,
        |j| j,
        |c| c,
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn parameter_headers_that_disagree_with_the_body_are_refused() {
    let (capture, _guard) = capture();
    let h = billing_harness(&capture).await;
    let token = h.token("billing:write").build();
    // A 2026-07-28 `tools/call` of `tool` with `arguments`, its `Mcp-Name` saying `name`, and
    // `headers` added as given.
    let call = |tool: &str, name: &str, arguments: Value, headers: &[(&str, HeaderValue)]| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":tool,"arguments":arguments,"_meta":support::modern_meta()}});
        let mut request = h
            .post(Some(&token), None, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", name);
        for (header, value) in headers {
            request = request.header(*header, value.clone());
        }
        request
    };
    let v = HeaderValue::from_static;
    let acme = json!({"tenant": "acme", "units": 5});
    let refused = || Expect::Refused {
        status: StatusCode::BAD_REQUEST,
        audit: Audit::TokenAccepted,
    };
    let mut mismatches = Vec::new();
    let mut cases = Vec::new();
    for (name, arguments, headers) in [
        (
            "the tenant header names another tenant",
            acme.clone(),
            vec![
                ("mcp-param-tenant", v("victim")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "the units header undercounts",
            acme.clone(),
            vec![("mcp-param-tenant", v("acme")), ("mcp-param-units", v("1"))],
        ),
        (
            "the tenant header is left off (nothing for the gateway to meter)",
            acme.clone(),
            vec![("mcp-param-units", v("5"))],
        ),
        (
            "a units header without units in the body",
            json!({"tenant": "acme"}),
            vec![("mcp-param-tenant", v("acme")), ("mcp-param-units", v("5"))],
        ),
        (
            "a units header for a null argument",
            json!({"tenant": "acme", "units": null}),
            vec![("mcp-param-tenant", v("acme")), ("mcp-param-units", v("5"))],
        ),
        (
            "the tenant header twice, the second naming another tenant",
            acme.clone(),
            vec![
                ("mcp-param-tenant", v("acme")),
                ("mcp-param-tenant", v("victim")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "base64 of another tenant",
            acme.clone(),
            // "victim"
            vec![
                ("mcp-param-tenant", v("=?base64?dmljdGlt?=")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "a sentinel in the wrong case is a plain value, not base64",
            acme.clone(),
            // "acme"
            vec![
                ("mcp-param-tenant", v("=?BASE64?YWNtZQ==?=")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "base64 that is not base64",
            acme.clone(),
            vec![
                ("mcp-param-tenant", v("=?base64?acme?=")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "base64 of bytes that are not UTF-8",
            acme.clone(),
            vec![
                ("mcp-param-tenant", v("=?base64?/w==?=")),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "raw non-ASCII bytes in the header",
            json!({"tenant": "acmé", "units": 5}),
            vec![
                (
                    "mcp-param-tenant",
                    HeaderValue::from_bytes(b"acm\xe9").unwrap(),
                ),
                ("mcp-param-units", v("5")),
            ],
        ),
        (
            "a number with trailing text",
            acme.clone(),
            vec![
                ("mcp-param-tenant", v("acme")),
                ("mcp-param-units", v("5 units")),
            ],
        ),
    ] {
        mismatches.push((name, call("bill", "bill", arguments.clone(), &headers)));
        cases.push(case(
            name,
            call("bill", "bill", arguments, &headers),
            refused(),
        ));
    }
    // `Mcp-Name` naming a tool without header parameters cannot skip the check: it must match
    // the body first.
    cases.push(case(
        "Mcp-Name names a tool without header parameters",
        call("bill", "hello", acme.clone(), &[]),
        refused(),
    ));
    cases.push(case(
        "control: headers say what the body says",
        call(
            "bill",
            "bill",
            acme.clone(),
            &[("mcp-param-tenant", v("acme")), ("mcp-param-units", v("5"))],
        ),
        Expect::Accepted,
    ));
    cases.push(case(
        "control: header names in any case, the value in base64, no units",
        call(
            "bill",
            "bill",
            json!({"tenant": "acmé"}),
            &[("MCP-PARAM-TENANT", v("=?base64?YWNtw6k=?="))],
        ),
        Expect::Accepted,
    ));
    cases.push(case(
        "control: a tool without header parameters ignores them",
        call(
            "hello",
            "hello",
            json!({}),
            &[("mcp-param-tenant", v("anyone"))],
        ),
        Expect::Accepted,
    ));
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    for (name, request) in mismatches {
        let r = h.send(request).await;
        if r.body["error"]["code"] != -32020
            || !r.body["error"]["message"].as_str().is_some_and(|m| {
                m.starts_with("Header mismatch: Mcp-Param-")
                    || m.starts_with("Header mismatch: the Mcp-Param-")
            })
        {
            failures.push(format!(
                "[{name}] not a HeaderMismatch on Mcp-Param-*: {}",
                r.body
            ));
        }
    }
    assert_no_failures("parameter headers", count, &failures);
    assert_eq!(h.runs(), 3, "only the controls ran a tool");
}
