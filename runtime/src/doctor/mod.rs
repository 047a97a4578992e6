//! The doctor (feature `http`): checks a running MCP server's authorization set-up from the
//! outside, as a client would meet it — its Protected Resource Metadata (RFC 9728), its
//! authorization server's metadata (RFC 8414 / OpenID Connect, path-aware), the key set —
//! and explains an access token against that server, check by check, with the verifier's own
//! code.
//!
//! ```no_run
//! # async fn doctor() {
//! use scopegate_runtime::doctor::{DoctorOptions, run};
//! let report = run(DoctorOptions::new("http://127.0.0.1:8080/mcp").strict(true)).await;
//! print!("{report}");
//! std::process::exit(report.exit_code().into());
//! # }
//! ```
//!
//! Each check is one line: `pass`, `warn`, `fail` or `skip`, its name, what was found and,
//! for a warning or a failure, the fix in words. [`Report::exit_code`] is 1 on any failure
//! (and, with `strict`, on any warning).

mod keys;
mod metadata;
mod report;
mod run;
mod token;
mod tools;

pub(crate) use metadata::{Resource, resource_metadata};
pub use report::{Grade, Line, Report};
pub(crate) use run::endpoint;
pub use run::{DoctorOptions, run};
