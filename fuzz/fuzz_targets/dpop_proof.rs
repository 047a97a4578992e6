//! The DPoP proof checks (RFC 9449 §4.3) on arbitrary proofs, for one fixed request (a POST to
//! `https://rs.example/mcp` with the token `token`, at the seed's time): never panics, and a
//! proof accepted names its key by a SHA-256 thumbprint. The committed seed is a valid proof,
//! so mutations reach the signature and claim checks, not only the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(thumbprint) = scopegate::__private::fuzz::dpop_proof(proof) {
        // base64url of 32 bytes, unpadded.
        assert_eq!(thumbprint.len(), 43, "{proof}");
    }
});
