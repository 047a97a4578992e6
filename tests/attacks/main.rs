//! A table-driven attack suite against the Streamable HTTP transport as an OAuth 2.1 protected
//! resource: every item of `INTEROP.md`'s attack list and more, over real HTTP on 127.0.0.1,
//! against a local authorization server ([`support::KeyServer`]).
//!
//! Every case asserts
//! (a) the HTTP status,
//! (b) the `WWW-Authenticate` challenge (`error` code and `resource_metadata`) where one is due,
//! (c) that no tool ran (tool runs are counted through a `State<Runs>` counter), and
//! (d) that the refusal was audited: a `tracing` event on target `scopegate::auth` with the
//!     stable `event` field (`token_rejected` with `reason`, `token_missing`, `scope_denied` with
//!     `tool` and `missing`), or on `scopegate::http` for transport refusals (`origin_rejected`,
//!     `host_rejected`). Refusals after authentication that are not about authorization (a
//!     session of another principal, a batch, a body too large, a wrong content type) have no
//!     event of their own yet: those cases assert that the token was accepted and that no
//!     authentication refusal was logged.
//!
//! The per-request refusal events are at DEBUG (INFO holds `refusals_summary` lines: see the
//! log-flood section), so the capture layer has no level filter.
//!
//! Events are captured by a `tracing_subscriber` layer installed as the thread's default
//! subscriber, so every test runs on a current-thread runtime: the servers under test run on the
//! test's thread and their events reach the layer.
//!
//! A table does not stop at its first failing case: each test collects every failure, with the
//! request's answer and the events it produced, and fails once at the end listing them all.
//!
//! The harness is in `capture` (the audit layer), `harness` (the server under attack and its
//! requests), `cases` (what a case must produce, and the table runner) and `surgery` (hand-made
//! tokens); every other module holds the tests of one concern.

#[path = "../support/files.rs"]
mod files;
#[path = "../support/mod.rs"]
mod support;

mod capture;
mod cases;
mod harness;
mod surgery;

mod credentials;
mod dev_auth;
mod issuer;
mod keys;
mod logs;
mod origin_host;
mod param_headers;
mod protocol;
mod proxies;
mod resources;
mod scopes;
mod sessions;
mod tokens;
