//! The audit (feature `http`): checks any MCP server's authorization over HTTP from the
//! outside, as an operator would by hand with curl, and more — not only scopegate's servers.
//!
//! ```no_run
//! # async fn audit() {
//! use scopegate_runtime::audit::{AuditOptions, run};
//! let report = run(AuditOptions::new("http://127.0.0.1:8080/mcp").token("eyJ…")).await;
//! print!("{report}");
//! std::process::exit(report.exit_code().into());
//! # }
//! ```
//!
//! Without a token it reads the Protected Resource Metadata (RFC 9728) at both locations, the
//! 401 and its challenge, and checks that a garbage token gets `invalid_token`, that a token in
//! the query string and a foreign `Origin` are refused and that the metadata can be read
//! cross-origin. With a token it also checks that the token is accepted and that forged
//! variants of it are refused (claims changed under the old signature, `alg: none`, HS256
//! signed with the issuer's public key, an unknown `kid`, the signature stripped). With a tool
//! the token lacks the scope for, it checks the 403 `insufficient_scope` challenge; it calls
//! only tools the server marks read-only unless [`AuditOptions::allow_writes`] says otherwise.
//!
//! The report is the doctor's: a failed MUST of the specifications is `fail`, a SHOULD `warn`,
//! what cannot be known from outside `skip`; [`Report::exit_code`] is 1 on any failure (and,
//! with `strict`, on any warning).

mod challenge;
mod forge;
mod forged;
mod metadata;
mod probe;
mod refusals;
mod run;
mod spki;
mod tool;

pub use crate::doctor::{Grade, Line, Report};
pub use run::{AuditOptions, run};
