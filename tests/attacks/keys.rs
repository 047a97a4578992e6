//! Signing keys: rotation both ways, and a withdrawn or shadowed key's tokens refused at once.

use std::time::Duration;

use crate::capture::capture;
use crate::cases::{Expect, SIGNATURE, UNKNOWN_KEY, assert_no_failures, case, run};
use crate::harness::harness;
use crate::support::{KeyServer, TestKey};

// ---- 6. key rotation, both directions ------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn rotated_keys_are_accepted_and_removed_keys_refused() {
    let (capture, _guard) = capture();
    let keys = KeyServer::builder().cache_max_age(1).start().await;
    let h = harness(
        keys,
        &capture,
        |mut j| {
            j.min_cache = Duration::ZERO;
            j.refresh_cooldown(Duration::from_millis(200))
        },
        |c| c,
    )
    .await;
    let old_key = TestKey::rsa_a();
    let new_key = TestKey::rsa_b().with_kid("rotated");
    let old = h.token("files:read").build();
    let session = h.initialize(&old).await;
    assert_eq!(h.keys.jwks_fetches(), 1);
    let mut failures = Vec::new();
    let mut count = 0;

    // Rotation in: the issuer publishes a new key next to the old one.
    tokio::time::sleep(Duration::from_millis(250)).await;
    h.keys.set_keys(vec![old_key.clone(), new_key.clone()]);
    let new = h
        .keys
        .token_with_key(&new_key, &h.resource, "files:read")
        .build();
    count += run(
        &h,
        vec![
            case(
                "a token signed by the newly published key",
                h.call(&new, &session, "read_file"),
                Expect::Accepted,
            ),
            case(
                "the old key during the overlap",
                h.call(&old, &session, "read_file"),
                Expect::Accepted,
            ),
        ],
        &mut failures,
    )
    .await;

    // Rotation out: the old key is withdrawn. Once the cached set expires (max-age 1 s) the next
    // request refreshes it in the background; after that the old key is gone.
    h.keys.set_keys(vec![new_key.clone()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    count += run(
        &h,
        vec![case(
            "a request after the cached set expired (refresh starts)",
            h.call(&new, &session, "read_file"),
            Expect::Accepted,
        )],
        &mut failures,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let fetches = h.keys.jwks_fetches();
    if fetches != 3 {
        failures.push(format!(
            "[rotation out] {fetches} JWKS fetches (expected 3: start, new kid, expiry)"
        ));
    }
    let old_again = h
        .keys
        .token_with_key(&old_key, &h.resource, "files:read")
        .build();
    count += run(
        &h,
        vec![
            case(
                "a token signed by the withdrawn key",
                h.call(&old_again, &session, "read_file"),
                Expect::InvalidToken(UNKNOWN_KEY),
            ),
            case(
                "a token signed by the withdrawn key under the new kid",
                h.call(
                    &h.keys
                        .token_with_key(&old_key, &h.resource, "files:read")
                        .kid("rotated")
                        .build(),
                    &session,
                    "read_file",
                ),
                Expect::InvalidToken(SIGNATURE),
            ),
            case(
                "the new key still works",
                h.call(&new, &session, "read_file"),
                Expect::Accepted,
            ),
        ],
        &mut failures,
    )
    .await;
    assert_no_failures("rotation", count, &failures);
}

// ---- a withdrawn key: what it verified is not remembered -----------------------------------------
//
// Verified tokens are remembered until their `exp`, and a JWKS refresh that finds the same keys
// keeps them (issue 18, item 7). One that finds a key withdrawn, or changed under its `kid`,
// must forget every token that key verified: a leaked signing key is withdrawn precisely so that
// its tokens stop working.

#[tokio::test(flavor = "current_thread")]
async fn tokens_of_a_withdrawn_or_changed_key_are_refused_at_once() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    // What the remembered token then gets: its kid is gone, or its signature no longer checks.
    for (name, replacement, expected) in [
        ("key withdrawn", vec![TestKey::rsa_b()], UNKNOWN_KEY),
        (
            "other key material under the same kid",
            vec![TestKey::rsa_b().with_kid("rsa-a")],
            SIGNATURE,
        ),
    ] {
        let h = harness(
            KeyServer::start().await,
            &capture,
            |j| j.refresh_cooldown(Duration::ZERO),
            |c| c,
        )
        .await;
        let leaked = h.token("files:read").build();
        count += run(
            &h,
            vec![case(
                format!("{name}: control before"),
                h.modern_call(&leaked, "whoami", "whoami"),
                Expect::Accepted,
            )],
            &mut failures,
        )
        .await;
        h.keys.set_keys(replacement);
        // Any unknown kid makes the server look at the keys again.
        let probe = h.token("files:read").kid("rotation-probe").build();
        count += run(
            &h,
            vec![
                case(
                    format!("{name}: unknown kid"),
                    h.modern_call(&probe, "whoami", "whoami"),
                    Expect::InvalidToken(UNKNOWN_KEY),
                ),
                case(
                    format!("{name}: the remembered token"),
                    h.modern_call(&leaked, "whoami", "whoami"),
                    Expect::InvalidToken(expected),
                ),
            ],
            &mut failures,
        )
        .await;
    }
    assert_no_failures("withdrawn keys", count, &failures);
}

// ---- a key shadowed under its kid: what it verified is not remembered -----------------------
//
// RFC 7517 §4.5 wants distinct `kid`s; an issuer (or whoever controls its JWKS) may still
// publish a second key of the same type under a `kid` already used. Tokens name keys by `kid`,
// so the later key is the one used, and the earlier one, still listed but unreachable, must
// count as withdrawn: the tokens it verified are not remembered (issue 18, item 7).

#[tokio::test(flavor = "current_thread")]
async fn tokens_of_a_key_shadowed_under_its_kid_are_refused_at_once() {
    let (capture, _guard) = capture();
    let mut failures = Vec::new();
    let mut count = 0;
    let h = harness(
        KeyServer::start().await,
        &capture,
        |j| j.refresh_cooldown(Duration::ZERO),
        |c| c,
    )
    .await;
    let shadowed = h.token("files:read").build();
    count += run(
        &h,
        vec![case(
            "control before",
            h.modern_call(&shadowed, "whoami", "whoami"),
            Expect::Accepted,
        )],
        &mut failures,
    )
    .await;
    // The signing key stays published, with another RSA key after it under its kid.
    h.keys
        .set_keys(vec![TestKey::rsa_a(), TestKey::rsa_b().with_kid("rsa-a")]);
    let probe = h.token("files:read").kid("shadow-probe").build();
    count += run(
        &h,
        vec![
            case(
                "unknown kid (the keys are looked at again)",
                h.modern_call(&probe, "whoami", "whoami"),
                Expect::InvalidToken(UNKNOWN_KEY),
            ),
            case(
                "the remembered token of the shadowed key",
                h.modern_call(&shadowed, "whoami", "whoami"),
                Expect::InvalidToken(SIGNATURE),
            ),
        ],
        &mut failures,
    )
    .await;
    assert_no_failures("shadowed kid", count, &failures);
}
