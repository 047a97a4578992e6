//! `quota = "<calls>/<period>"`, with every period and spaces around the slash.
#![deny(warnings)]

use scopegate::prelude::*;

/// Purges the cache.
#[mcp_tool(scope = "cache:admin", quota = "10/min")]
fn purge() -> String {
    String::new()
}

/// Pings.
#[mcp_tool(public, quota = "5 / s")]
fn ping() -> String {
    String::new()
}

/// Rebuilds the index.
#[mcp_tool(public, quota = "3/h")]
fn rebuild() -> String {
    String::new()
}

/// Sends the report.
#[mcp_tool(public, quota = "1/day")]
fn report() -> String {
    String::new()
}

/// Has no quota.
#[mcp_tool(public)]
fn free() -> String {
    String::new()
}

#[derive(McpServer)]
#[mcp(
    name = "cache",
    version = "1.0.0",
    tools(purge, ping, rebuild, report, free)
)]
struct Cache;

fn main() {
    let quotas: Vec<Option<(u32, u32)>> = <Cache as McpServer>::TOOLS
        .iter()
        .map(|t| t.meta.quota.map(|q| (q.calls, q.per_seconds)))
        .collect();
    assert_eq!(
        quotas,
        [
            Some((10, 60)),
            Some((5, 1)),
            Some((3, 3600)),
            Some((1, 86_400)),
            None
        ]
    );
    let server = Server::new(Cache).unwrap();
    assert_eq!(server.tools().len(), 5);
}
