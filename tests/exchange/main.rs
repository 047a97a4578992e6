//! Token exchange for downstream APIs (RFC 8693): a tool declares the APIs it calls
//! (`downstream = ".."`) and gets their tokens through its `Downstream` parameter, exchanged for
//! the caller's token at the authorization server, never seeing the caller's token.
//!
//! - `client`: the exchange client against a fake authorization server (the request, client
//!   authentication, refusals, timeouts, the audience check, the cache, no token in logs);
//! - `dev`: against the development authorization server, over HTTP, with a downstream API
//!   that accepts only its own tokens (and the `downstream` example);
//! - `table`: the APIs in the compile-time table, the lists' `_meta`, the scope table, the
//!   providers' notes, and the build without an exchange.
//!
//! oidc-provider (the end-to-end tests' authorization server, 9.13) has no token-exchange
//! grant: it would take a custom grant (`registerGrantType`), so it is not tested here.
//!
//! Every server binds 127.0.0.1.

#[path = "../support/dev_token.rs"]
mod dev_token;
#[path = "../support/e2e.rs"]
mod e2e;
#[path = "../support/mod.rs"]
mod support;

mod client;
mod dev;
mod issuer;
mod logs;
mod table;
