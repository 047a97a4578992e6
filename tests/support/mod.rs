//! Shared support for integration tests: a local authorization server ([`KeyServer`]) serving
//! discovery metadata and a JWKS, the test keys ([`TestKey`]), a token minter ([`TokenBuilder`])
//! that can produce every bad token in `INTEROP.md`'s attack list, and 2026-07-28 requests
//! straight to a server ([`modern_dispatch`], [`StdioPeer`]).
//!
//! Use it from an integration test with `mod support;`. The end-to-end tests' processes (Node,
//! the examples, oidc-provider) are in `e2e.rs`, outside this module: include it with
//! `#[path = "support/e2e.rs"] mod e2e;`.
//!
//! ```ignore
//! let server = support::KeyServer::start().await;
//! let token = server.token("http://127.0.0.1:8080/mcp", "files:read").build();
//! let expired = server.token(resource, "files:read").expired().build();
//! let forged = server.token(resource, "files:read").alg_none();
//! ```

// Each test crate compiles this module privately and uses only part of it.
#![allow(dead_code, unreachable_pub)]

mod dpop;
mod keys;
mod modern;
mod quickstart;
mod rsa;
mod server;
mod token;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[allow(unused_imports)]
pub use dpop::{dpop_jwk, dpop_proof, jkt};
pub use keys::{TestKey, alg_name, jwk_set};
#[allow(unused_imports)]
pub use modern::{StdioPeer, assert_error, modern_call_params, modern_dispatch, modern_meta, who};
#[allow(unused_imports)]
pub use quickstart::{quickstart_binary, run_quickstart};
#[allow(unused_imports)]
pub use server::{
    DEFAULT_CACHE_MAX_AGE, JWKS_PATH, JwksMode, KeyServer, KeyServerBuilder, OVERSIZED_BODY_LEN,
};
#[allow(unused_imports)]
pub use token::{DEFAULT_TTL, SKEW_BEYOND_LEEWAY, Segment, TokenBuilder, peek};

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// base64url without padding (RFC 7515 2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
