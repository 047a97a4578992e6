//! Protected resource metadata (RFC 9728): where it is served, who may read it, and what a new
//! tool scope changes.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use scopegate::auth::JwtConfig;
use scopegate::prelude::*;
use serde_json::json;

use crate::files::{Runs, audit, read_file, whoami, write_file};
use crate::harness::{files, files_with, start};
use crate::support::KeyServer;

/// One tool more, with a scope of its own: nothing else changes.
#[mcp_tool(scope = "files:share")]
fn share(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, Ordering::SeqCst);
    "shared".into()
}

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "files",
    tools(read_file, write_file, audit, whoami, share),
    implies("files:admin" => ["files:read", "files:write"]),
)]
struct FilesWithSharing {
    #[mcp(state)]
    runs: Runs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_served_at_both_locations() {
    let h = files().await;
    for url in [
        h.metadata_url(),
        format!("{}/.well-known/oauth-protected-resource", h.base),
    ] {
        let r = h.send(h.client.get(&url)).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.body,
            json!({
                "resource": h.resource,
                "authorization_servers": [h.keys.issuer()],
                "scopes_supported": ["audit:run", "files:admin", "files:read", "files:write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Files",
            }),
            "{url}"
        );
    }
}

/// The metadata is public (RFC 9728 §3): a browser client on any origin reads it, with the
/// headers MCP clients send on discovery, while the MCP endpoint keeps its allow-list and the
/// probes stay out of CORS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_readable_from_any_origin() {
    let h = files_with(|c, _, _| {
        c.allow_origin("https://app.example.com")
            .health_checks(true)
    })
    .await;
    let token = h.token("files:read").build();
    let root = format!("{}/.well-known/oauth-protected-resource", h.base);
    for url in [h.metadata_url(), root] {
        for origin in ["https://evil.example", "https://app.example.com", "null"] {
            let r = h
                .send(
                    h.client
                        .get(&url)
                        .header("origin", origin)
                        .header("mcp-protocol-version", "2025-11-25"),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{url} {origin}");
            assert_eq!(
                r.headers["access-control-allow-origin"], "*",
                "{url} {origin}"
            );
            assert!(
                !r.headers.contains_key("access-control-allow-credentials"),
                "{url} {origin}"
            );
            assert_eq!(r.body["resource"], json!(h.resource), "{url} {origin}");

            let preflight = h
                .send(
                    h.client
                        .request(reqwest::Method::OPTIONS, &url)
                        .header("origin", origin)
                        .header("access-control-request-method", "GET")
                        .header("access-control-request-headers", "mcp-protocol-version"),
                )
                .await;
            assert!(
                preflight.status.is_success(),
                "{url} {origin}: {}",
                preflight.status
            );
            assert_eq!(preflight.headers["access-control-allow-origin"], "*");
            let methods = preflight.headers["access-control-allow-methods"]
                .to_str()
                .unwrap();
            assert!(methods.contains("GET"), "{url}: {methods}");
            let headers = preflight.headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            assert!(headers.contains("mcp-protocol-version"), "{url}: {headers}");
        }
    }

    // The MCP endpoint: a foreign origin is still refused, and its preflight allows nothing.
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let runs = h.runs();
    let r = h
        .send(
            h.post(Some(&token), None, &ping)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert_eq!(h.runs(), runs);
    let preflight = h
        .send(
            h.client
                .request(reqwest::Method::OPTIONS, &h.resource)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(
        !preflight
            .headers
            .contains_key("access-control-allow-origin"),
        "{:?}",
        preflight.headers
    );

    // The probes are not for browsers: they answer as before, with no CORS header.
    for path in ["/healthz", "/readyz"] {
        let r = h
            .send(
                h.client
                    .get(format!("{}{path}", h.base))
                    .header("origin", "https://evil.example"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.headers.contains_key("access-control-allow-origin"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tool_scope_appears_in_the_metadata_with_no_other_change() {
    let keys = KeyServer::start().await;
    let runs = Runs::default();
    let h = start(
        FilesWithSharing { runs: runs.clone() },
        runs,
        keys,
        |c, k, r| c.jwt(JwtConfig::new(k.issuer(), r)),
    )
    .await;
    let r = h.send(h.client.get(h.metadata_url())).await;
    assert_eq!(
        r.body["scopes_supported"],
        json!([
            "audit:run",
            "files:admin",
            "files:read",
            "files:share",
            "files:write"
        ])
    );
}
