//! The `files` server that the HTTP and attack suites protect: four tools behind `files:*` and
//! `audit:run`, with a hierarchy, each counting its runs so a refusal can prove no tool ran.
//!
//! Include it with `#[path = "support/files.rs"] mod files;` (outside `support`, which the
//! benchmarks include too and which has no tools).

// Each test crate uses only part of it.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scopegate::prelude::*;

/// Counts the tool runs of one server, so every refusal can prove no tool ran.
#[derive(Debug, Clone, Default)]
pub struct Runs(pub Arc<AtomicUsize>);

impl Runs {
    /// How many tool calls ran so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn ran(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reads a file.
#[mcp_tool(scope = "files:read", read_only)]
pub fn read_file(runs: State<Runs>, path: String) -> String {
    runs.0.ran();
    format!("contents of {path}")
}

/// Writes a file.
#[mcp_tool(scope = "files:write")]
pub fn write_file(runs: State<Runs>, path: String) -> String {
    runs.0.ran();
    format!("wrote {path}")
}

/// Audits the files.
#[mcp_tool(scopes = ["files:read", "audit:run"])]
pub fn audit(runs: State<Runs>) -> String {
    runs.0.ran();
    "audited".into()
}

/// Who is calling: `subject|client|scopes|claims`. Public, so only authentication keeps a
/// forged token out of it.
#[mcp_tool(public)]
pub fn whoami(runs: State<Runs>, who: Principal) -> String {
    runs.0.ran();
    let claims = serde_json::to_string(who.claims()).unwrap();
    format!(
        "{}|{}|{}|{}",
        who.subject().unwrap_or("-"),
        who.client_id().unwrap_or("-"),
        who.scopes(),
        claims
    )
}

/// The server: the four tools, and `files:admin` implying read and write.
#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "files",
    title = "Files",
    tools(read_file, write_file, audit, whoami),
    implies("files:admin" => ["files:read", "files:write"]),
)]
pub struct Files {
    #[mcp(state)]
    pub runs: Runs,
}
