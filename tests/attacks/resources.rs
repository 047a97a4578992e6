//! Resource URIs with dot segments: a public template reaches nothing unscoped.

use reqwest::StatusCode;
use scopegate::prelude::*;
use serde_json::json;

use crate::capture::{Capture, capture};
use crate::cases::{Audit, Expect, assert_no_failures, case, run};
use crate::files::Runs;
use crate::harness::{Harness, harness_of};
use crate::support::{self, KeyServer};

// ---- resource URIs with dot segments (RFC 3986 §5.2.4) -------------------------------------
//
// A public `{+path}` template must not serve what a `..` in its URI names: the URI is resolved
// first, so the protected resource it names asks for its own scopes; a `..` above the root
// names nothing. Over HTTP, in both eras, for reads and subscriptions; every spelling of `..`.

/// Anything on the shelves, to anyone.
#[mcp_resource(uri = "store://h/{+path}", public)]
fn dot_shelf(runs: State<Runs>, path: String) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("shelf {path}")
}

/// The private plans.
#[mcp_resource(uri = "store://h/private/plans", scope = "store:private")]
fn dot_plans(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    "the plans".into()
}

/// The vault, by item.
#[mcp_resource(uri = "store://h/vault/{item}", scope = "store:vault")]
fn dot_vault(runs: State<Runs>, item: String) -> String {
    runs.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("vault {item}")
}

#[derive(McpServer, Clone, Default)]
#[mcp(name = "store", resources(dot_shelf, dot_plans, dot_vault))]
pub(crate) struct Store {
    #[mcp(state)]
    pub(crate) runs: Runs,
}

/// The store server on 127.0.0.1, with every default, trusting a fresh key server.
async fn store_harness(capture: &Capture) -> Harness {
    harness_of(
        |runs| Store { runs },
        KeyServer::start().await,
        capture,
        |j| j,
        |c| c,
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn dot_segments_in_resource_uris_reach_nothing_unscoped() {
    let (capture, _guard) = capture();
    let h = store_harness(&capture).await;
    let outsider = h.token("store:vault").build();
    let insider = h.token("store:private store:vault").build();
    let session = h.initialize(&outsider).await;
    let insider_session = h.initialize(&insider).await;
    let legacy = |token: &str, session: &str, method: &str, uri: &str| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":{"uri":uri}});
        h.post(Some(token), Some(session), &body)
    };
    let modern = |token: &str, uri: &str| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"resources/read",
            "params":{"uri":uri,"_meta":support::modern_meta()}});
        h.post(Some(token), None, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "resources/read")
            .header("mcp-name", uri)
    };
    let denied = |uri: &str| Expect::ScopeDenied {
        tool: uri.to_owned().leak(),
        missing: "store:private",
    };
    let not_found = || Expect::Refused {
        status: StatusCode::OK,
        audit: Audit::TokenAccepted,
    };
    let mut cases = Vec::new();
    // Requests that must answer "resource not found", checked again below for the error.
    let mut missing = Vec::new();
    for dots in ["..", "%2E%2E", "%2e%2e", ".%2E", "%2e.", "%2E."] {
        let through = format!("store://h/public/{dots}/private/plans");
        let above = format!("store://h/{dots}/private/plans");
        let far_above = format!("store://h/a/{dots}/{dots}/{dots}/x");
        cases.push(case(
            format!("read {through}"),
            legacy(&outsider, &session, "resources/read", &through),
            denied(&through),
        ));
        cases.push(case(
            format!("2026-07-28: read {through}"),
            modern(&outsider, &through),
            denied(&through),
        ));
        cases.push(case(
            format!("subscribe {through}"),
            legacy(&outsider, &session, "resources/subscribe", &through),
            denied(&through),
        ));
        for uri in [&above, &far_above] {
            for (name, request) in [
                (
                    "read",
                    legacy(&insider, &insider_session, "resources/read", uri),
                ),
                ("2026-07-28: read", modern(&insider, uri)),
                (
                    "subscribe",
                    legacy(&insider, &insider_session, "resources/subscribe", uri),
                ),
            ] {
                missing.push((format!("{name} {uri}"), request.try_clone().unwrap()));
                cases.push(case(format!("{name} {uri}"), request, not_found()));
            }
        }
    }
    // Not dot segments, but paths a handler would resolve elsewhere than the URI names: an
    // absolute path, empty segments that a file system drops (`private//plans` is the plans),
    // Windows separators and drives. The public shelf gets none of them.
    for uri in [
        "store://h//etc/passwd",
        "store://h/private//plans",
        "store://h//private/plans",
        "store://h/vault//a",
        "store://h/vault/a/",
        "store://h/vault%5Ca",
        "store://h/private%5Cplans",
        "store://h/C:/Windows/win.ini",
    ] {
        let request = legacy(&outsider, &session, "resources/read", uri);
        missing.push((format!("read {uri}"), request.try_clone().unwrap()));
        cases.push(case(format!("read {uri}"), request, not_found()));
    }
    cases.push(case(
        "control: the insider reads the plans through the public shelf's path",
        legacy(
            &insider,
            &insider_session,
            "resources/read",
            "store://h/public/%2E%2E/private/plans",
        ),
        Expect::Accepted,
    ));
    cases.push(case(
        "control: the outsider reads the public shelf",
        modern(&outsider, "store://h/public/a/./b"),
        Expect::Accepted,
    ));
    let mut failures = Vec::new();
    let count = run(&h, cases, &mut failures).await;
    for (name, request) in missing {
        let r = h.send(request).await;
        let code = r.body["error"]["code"].as_i64();
        if !matches!(code, Some(-32002 | -32602))
            || r.body["error"]["message"] != "resource not found"
        {
            failures.push(format!("[{name}] not \"resource not found\": {}", r.body));
        }
    }
    assert_no_failures("dot segments", count, &failures);
    assert_eq!(h.runs(), 2, "only the controls ran a handler");
}
