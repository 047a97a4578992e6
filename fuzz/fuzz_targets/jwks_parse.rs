//! `JwtVerifier::with_jwks` on any JSON value read from the input: returns `Ok` or `Err`, never
//! panics; a verifier it builds has keys, and verifies a test key's token only when the document
//! holds that key's public material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scopegate::auth::{JwtVerifier, TokenVerifier as _};
use scopegate_fuzz::{assert_verified_claims, block_on, config, good_tokens, jwks, trace, verdict};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) else {
        trace("not JSON");
        return;
    };
    let Ok(verifier) = JwtVerifier::with_jwks(config(), &document) else {
        trace("refused");
        return;
    };
    assert!(
        verifier.has_keys(),
        "a verifier built from a JWK set has keys"
    );
    for (i, token) in good_tokens().iter().enumerate() {
        let result = block_on(verifier.verify(token));
        trace(format_args!("token {i}: {}", verdict(&result)));
        if let Ok(principal) = result {
            assert_verified_claims(principal.claims());
            // The public key (n, x) of the signer must be in the document, escaped or not.
            let key = &jwks()["keys"][if i < 3 { i } else { 0 }];
            let material = key["n"].as_str().or(key["x"].as_str()).unwrap_or_default();
            let text = String::from_utf8_lossy(data);
            assert!(
                text.contains(material) || text.contains('\\'),
                "token {i} verified against a JWK set without its key: {document}"
            );
        }
    }
});
