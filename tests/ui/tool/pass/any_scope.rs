//! `any_scope = [..]`: one of the scopes suffices, alone or beside `scope` (whose scopes are all
//! still required); a denial asks for the first.
#![deny(warnings)]

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet};
use serde_json::json;

/// Reads a report.
#[mcp_tool(any_scope = ["reports:read", "reports:admin"])]
fn read_report(id: u64) -> String {
    format!("report {id}")
}

/// Exports a report. Trailing commas are fine.
#[mcp_tool(scope = "reports:export", any_scope = ["reports:read", "reports:admin",],)]
fn export_report(id: u64) -> String {
    format!("export {id}")
}

#[derive(McpServer)]
#[mcp(name = "reports", version = "1.0.0", tools(read_report, export_report))]
struct Reports;

/// Calls `tool` as a caller holding `scopes`.
fn call(server: &Server<Reports>, scopes: &str, tool: &str) -> Reply {
    let principal = Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated(scopes))
        .build();
    let params = json!({ "name": tool, "arguments": { "id": 7 } });
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(server.handle_bytes(request.to_string().as_bytes(), &principal))
}

fn main() {
    assert_eq!(
        <Reports as McpServer>::SCOPES,
        ["reports:admin", "reports:export", "reports:read"]
    );
    let read = &<Reports as McpServer>::TOOLS[0].meta;
    assert!(read.scopes.is_empty());
    assert_eq!(read.rules.any_scopes, ["reports:read", "reports:admin"]);
    let export = &<Reports as McpServer>::TOOLS[1].meta;
    assert_eq!(export.scopes, ["reports:export"]);
    assert_eq!(export.rules.any_scopes, ["reports:read", "reports:admin"]);

    let server = Server::new(Reports).unwrap();
    match call(&server, "reports:admin", "read_report") {
        Reply::Response(response) => assert!(response.to_json().contains("report 7")),
        other => panic!("expected an answer, got {other:?}"),
    }
    match call(&server, "reports:export", "read_report") {
        Reply::Denied(denial) => assert_eq!(denial.missing, ["reports:read"]),
        other => panic!("expected a denial, got {other:?}"),
    }
    match call(&server, "reports:admin", "export_report") {
        Reply::Denied(denial) => assert_eq!(denial.missing, ["reports:export"]),
        other => panic!("expected a denial, got {other:?}"),
    }
}
