//! Streamable HTTP as an OAuth 2.1 protected resource, over real HTTP on 127.0.0.1, against a
//! local authorization server that signs real tokens and serves its keys.
//!
//! The harness is in `harness` (the server and the requests sent to it); every other module
//! holds the tests of one concern.

#[path = "../support/files.rs"]
mod files;
#[path = "../support/mod.rs"]
mod support;

mod harness;

mod authorization;
mod challenges;
mod dpop;
mod events;
mod expiry;
mod introspection;
mod keys;
mod metadata;
mod policies;
mod probes;
mod routing;
mod sessions;
mod token_cache;
mod tokens;
mod transport;
