//! `JwtVerifier::verify` (fixed JWK set: the test keys, never fetched) on arbitrary strings:
//! never panics, and whatever verifies carries the configured issuer and audience.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scopegate::auth::TokenVerifier as _;
use scopegate_fuzz::{assert_verified_claims, block_on, trace, verdict, verifier};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let result = block_on(verifier().verify(token));
    trace(verdict(&result));
    if let Ok(principal) = result {
        assert_verified_claims(principal.claims());
    }
});
