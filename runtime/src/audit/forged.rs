//! With a genuine token: it is accepted, and every forged variant of it is refused with 401
//! (RFC 8725 §2–3, RFC 9068 §4, MCP authorization: token validation).

use serde_json::Value;

use super::forge::{self, Jwt};
use super::probe::{Probe, Request};
use super::spki;
use crate::doctor::Report;
use crate::fetch::{self, Fetcher};

pub(super) const GENUINE: &str = "token accepted";
pub(super) const CLAIMS: &str = "forged claims";
pub(super) const ALG_NONE: &str = "alg none";
pub(super) const HS256: &str = "hs256 with public key";
pub(super) const UNKNOWN_KID: &str = "unknown kid";
pub(super) const STRIPPED: &str = "signature stripped";

const FORGED: [&str; 5] = [CLAIMS, ALG_NONE, HS256, UNKNOWN_KID, STRIPPED];

/// Most keys of the issuer's set tried for the HS256 confusion.
const MAX_KEYS: usize = 4;

/// The genuine token first (were it refused, refusing forgeries would prove nothing), then each
/// forgery. Returns whether the genuine token was accepted.
pub(super) async fn check(
    report: &mut Report,
    probe: &Probe,
    fetcher: &Fetcher,
    issuer: Option<&str>,
    token: &str,
) -> bool {
    match probe
        .initialize(Request {
            token: Some(token),
            ..Request::default()
        })
        .await
    {
        Ok(answer)
            if answer.success()
                && answer
                    .message
                    .as_ref()
                    .is_some_and(|m| m.get("result").is_some()) =>
        {
            report.pass(
                GENUINE,
                format!("{}: `initialize` answered", answer.describe()),
            );
        }
        Ok(answer) => {
            report.fail(
                GENUINE,
                format!("the token given is refused: {}", answer.describe()),
                "give a token the server accepts (run the doctor on it to see why it is refused)",
            );
            for name in FORGED {
                report.skip(
                    name,
                    "the genuine token is refused, so a refusal proves nothing",
                );
            }
            return false;
        }
        Err(error) => {
            report.fail(GENUINE, error, "keep the endpoint reachable");
            for name in FORGED {
                report.skip(name, "no answer");
            }
            return false;
        }
    }
    let Some(jwt) = forge::parse(token) else {
        for name in FORGED {
            report.skip(
                name,
                "the token is not a JWT: there is nothing to forge from outside",
            );
        }
        return true;
    };
    refused(
        report,
        probe,
        CLAIMS,
        "claims changed under the genuine signature",
        &jwt.claims_changed(token),
    )
    .await;
    refused(
        report,
        probe,
        ALG_NONE,
        "`alg: none`, no signature",
        &jwt.alg_none(),
    )
    .await;
    hs256(report, probe, fetcher, issuer, &jwt).await;
    refused(
        report,
        probe,
        UNKNOWN_KID,
        "a `kid` the key set does not hold",
        &jwt.unknown_kid(token),
    )
    .await;
    refused(
        report,
        probe,
        STRIPPED,
        "the genuine header and claims, no signature",
        &jwt.signature_stripped(),
    )
    .await;
    true
}

/// Sends `forged`; a 2xx is a failure, 401 a pass, another refusal a warning.
async fn refused(report: &mut Report, probe: &Probe, name: &str, what: &str, forged: &str) {
    match probe
        .initialize(Request {
            token: Some(forged),
            ..Request::default()
        })
        .await
    {
        Ok(answer) if answer.success() => report.fail(
            name,
            format!("{what}: ACCEPTED ({})", answer.describe()),
            "verify the signature with the issuer's keys and the algorithm each key declares, never `none` (RFC 8725 §3.1, RFC 9068 §4)",
        ),
        Ok(answer) if answer.status == 401 => {
            report.pass(name, format!("{what}: refused ({})", answer.describe()))
        }
        Ok(answer) => report.warn(
            name,
            format!("{what}: refused with {}, not 401", answer.describe()),
            "answer an invalid token with 401 and `invalid_token` (MCP authorization, RFC 6750 §3.1)",
        ),
        Err(error) => report.skip(name, format!("{what}: {error}")),
    }
}

/// HS256 signed with the issuer's public key in each byte form an attacker tries.
async fn hs256(
    report: &mut Report,
    probe: &Probe,
    fetcher: &Fetcher,
    issuer: Option<&str>,
    jwt: &Jwt,
) {
    let Some(issuer) = issuer else {
        return report.skip(HS256, "no authorization server in the metadata");
    };
    let keys = match issuer_keys(fetcher, issuer).await {
        Ok(keys) => keys,
        Err(why) => return report.skip(HS256, format!("the issuer's key set: {why}")),
    };
    // The token's own key first; else every key, as a verifier that ignores `kid` would.
    let chosen: Vec<&Value> = match jwt.kid() {
        Some(kid)
            if keys
                .iter()
                .any(|k| k.get("kid").and_then(Value::as_str) == Some(kid)) =>
        {
            keys.iter()
                .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .collect()
        }
        _ => keys.iter().take(MAX_KEYS).collect(),
    };
    let mut tried = 0;
    for key in chosen {
        for (form, secret) in spki::secrets(key) {
            tried += 1;
            let forged = jwt.hs256(&secret);
            match probe
                .initialize(Request {
                    token: Some(&forged),
                    ..Request::default()
                })
                .await
            {
                Ok(answer) if answer.success() => {
                    let kid = key.get("kid").and_then(Value::as_str).unwrap_or("(no kid)");
                    return report.fail(
                        HS256,
                        format!("HS256 signed with the {form} of public key `{kid}`: ACCEPTED ({})", answer.describe()),
                        "never verify with an algorithm the token chooses: bind each key to its own algorithm and refuse HMAC for asymmetric keys (RFC 8725 §2.1, §3.1)",
                    );
                }
                Ok(_) => {}
                Err(error) => return report.skip(HS256, error),
            }
        }
    }
    if tried == 0 {
        report.skip(HS256, "the issuer's key set holds no public key");
    } else {
        report.pass(
            HS256,
            format!("{tried} HS256 tokens signed with the public key's PEM, DER and JWK forms: all refused"),
        );
    }
}

/// The keys of the issuer's `jwks_uri`.
async fn issuer_keys(fetcher: &Fetcher, issuer: &str) -> Result<Vec<Value>, String> {
    let metadata = fetch::discover(fetcher, issuer)
        .await
        .map_err(|e| e.to_string())?;
    let uri = metadata
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("the issuer's metadata has no `jwks_uri`")?;
    let set = fetcher.get_json(uri).await.map_err(|e| e.to_string())?;
    Ok(set
        .body
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}
