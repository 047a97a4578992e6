//! The key-set checks: the JWKS reachable, asymmetric signing keys only, `use` and `alg` sane,
//! no private key material, certificates unexpired.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::report::Report;
use crate::auth::JwtVerifier;
use crate::fetch::Fetcher;

/// The members of a JWK that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC
/// 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Fetches the key set from the issuer's `jwks_uri` and checks it; returns it when it is a JWK
/// set at all.
pub(super) async fn key_set(
    report: &mut Report,
    fetcher: &Fetcher,
    metadata: &Value,
    verifier: &JwtVerifier,
) -> Option<Value> {
    const NAMES: [&str; 5] = [
        "jwks asymmetric",
        "jwks use",
        "jwks alg",
        "jwks private parts",
        "jwks certificates",
    ];
    let skip_rest = |report: &mut Report, why: &str| {
        for name in NAMES {
            report.skip(name, why);
        }
    };
    let Some(uri) = metadata.get("jwks_uri").and_then(Value::as_str) else {
        report.fail(
            "jwks reachable",
            "the issuer's metadata has no `jwks_uri`",
            "publish the signing keys and name them in `jwks_uri` (RFC 8414 §2)",
        );
        skip_rest(report, "no key set");
        return None;
    };
    let body = match fetcher.get_json(uri).await {
        Ok(document) => document.body,
        Err(error) => {
            report.fail(
                "jwks reachable",
                format!("{error}"),
                format!("make {uri} answer the JWK set from where this server runs (no redirect, JSON, within 1 MiB)"),
            );
            skip_rest(report, "no key set");
            return None;
        }
    };
    let Some(keys) = body.get("keys").and_then(Value::as_array) else {
        report.fail(
            "jwks reachable",
            format!("{uri} answered JSON without a `keys` array"),
            "serve a JWK set (RFC 7517 §5) at `jwks_uri`",
        );
        skip_rest(report, "not a key set");
        return None;
    };
    report.pass("jwks reachable", format!("{uri}: {} keys", keys.len()));

    let kty = |key: &Value| {
        key.get("kty")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let label = |key: &Value| match key.get("kid").and_then(Value::as_str) {
        Some(kid) => format!("`{kid}`"),
        None => "a key without kid".to_owned(),
    };
    let asymmetric: Vec<&Value> = keys
        .iter()
        .filter(|k| matches!(kty(k).as_str(), "RSA" | "EC" | "OKP"))
        .collect();
    let symmetric: Vec<String> = keys
        .iter()
        .filter(|k| !matches!(kty(k).as_str(), "RSA" | "EC" | "OKP"))
        .map(|k| format!("{} ({})", label(k), kty(k)))
        .collect();
    if asymmetric.is_empty() {
        report.fail(
            "jwks asymmetric",
            format!("no asymmetric key: {}", symmetric.join(", ")),
            "sign access tokens with an asymmetric key (RS256, ES256, EdDSA) and publish its public half: an HMAC key verifies only for whoever holds the secret, and publishing it lets anyone mint tokens",
        );
    } else if symmetric.is_empty() {
        report.pass(
            "jwks asymmetric",
            format!("{} asymmetric keys", asymmetric.len()),
        );
    } else {
        report.warn(
            "jwks asymmetric",
            format!("also holds {}", symmetric.join(", ")),
            "remove symmetric keys from the public key set",
        );
    }

    let signing: Vec<&Value> = asymmetric
        .iter()
        .copied()
        .filter(|k| k.get("use").is_none_or(|u| u.as_str() == Some("sig")))
        .collect();
    let other_use: Vec<String> = asymmetric
        .iter()
        .filter(|k| k.get("use").is_some_and(|u| u.as_str() != Some("sig")))
        .map(|k| format!("{} (use {})", label(k), k["use"]))
        .collect();
    match (signing.is_empty(), other_use.is_empty()) {
        (true, _) if asymmetric.is_empty() => report.skip("jwks use", "no asymmetric key"),
        (true, _) => report.fail(
            "jwks use",
            format!("no signing key: {}", other_use.join(", ")),
            "publish the signing key with `use` `sig` (or without `use`)",
        ),
        (false, true) => report.pass(
            "jwks use",
            "every key is for signatures (`sig` or no `use`)",
        ),
        (false, false) => report.pass(
            "jwks use",
            format!(
                "{} signing keys; not for signatures: {}",
                signing.len(),
                other_use.join(", ")
            ),
        ),
    }

    // The verifier's own test of each key: what it will use, and why it ignores the rest.
    let verdicts = verifier.key_verdicts(&body).unwrap_or_default();
    let ignored: Vec<String> = keys
        .iter()
        .zip(&verdicts)
        .filter(|(key, _)| signing.contains(key))
        .filter_map(|(key, (_, verdict))| {
            verdict.err().map(|why| format!("{} ({why})", label(key)))
        })
        .collect();
    let usable = verdicts.iter().filter(|(_, v)| v.is_ok()).count();
    let bad_alg: Vec<String> = signing
        .iter()
        .filter_map(|key| {
            let alg = key.get("alg").and_then(Value::as_str)?;
            (!alg_fits(&kty(key), key.get("crv").and_then(Value::as_str), alg))
                .then(|| format!("{} ({} with alg {alg})", label(key), kty(key)))
        })
        .collect();
    if signing.is_empty() {
        report.skip("jwks alg", "no signing key");
    } else if !bad_alg.is_empty() {
        report.fail(
            "jwks alg",
            format!("`alg` does not fit the key: {}", bad_alg.join(", ")),
            "give each key the `alg` of its type (RS256/PS256 for RSA, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519), or none",
        );
    } else if usable == 0 {
        report.fail(
            "jwks alg",
            format!("no key this server can verify with: {}", ignored.join(", ")),
            "publish an RSA key of 2048 bits or more, a P-256/P-384 key or an Ed25519 key",
        );
    } else if !ignored.is_empty() {
        report.warn(
            "jwks alg",
            format!("{usable} usable keys; ignored: {}", ignored.join(", ")),
            "remove or fix the keys the server ignores, so no token is signed with one",
        );
    } else {
        report.pass("jwks alg", format!("{usable} usable signing keys"));
    }

    let private: Vec<String> = keys
        .iter()
        .filter_map(|key| {
            let members: Vec<&str> = PRIVATE_MEMBERS
                .iter()
                .copied()
                .filter(|m| key.get(*m).is_some())
                .collect();
            (!members.is_empty()).then(|| format!("{} ({})", label(key), members.join(", ")))
        })
        .collect();
    if private.is_empty() {
        report.pass("jwks private parts", "no private key material");
    } else {
        report.fail(
            "jwks private parts",
            format!("private members published: {}", private.join(", ")),
            "publish public keys only, and replace these keys now: anyone who read the set can sign tokens",
        );
    }

    certificates(report, keys, &label);
    Some(body)
}

/// Whether a JWK's `alg` fits its key type (and curve).
fn alg_fits(kty: &str, crv: Option<&str>, alg: &str) -> bool {
    match kty {
        "RSA" => matches!(
            alg,
            "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
        ),
        "EC" => matches!(
            (crv, alg),
            (Some("P-256"), "ES256") | (Some("P-384"), "ES384")
        ),
        "OKP" => alg == "EdDSA" || alg == "Ed25519",
        _ => false,
    }
}

/// The first certificate of each key's `x5c`, unexpired.
fn certificates(report: &mut Report, keys: &[Value], label: &dyn Fn(&Value) -> String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut checked = 0;
    let mut expired = Vec::new();
    let mut unreadable = Vec::new();
    for key in keys {
        let Some(first) = key
            .get("x5c")
            .and_then(Value::as_array)
            .and_then(|chain| chain.first())
        else {
            continue;
        };
        checked += 1;
        let not_after = first
            .as_str()
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|der| not_after(&der));
        match not_after {
            Some(at) if at <= now => expired.push(format!("{} (expired {})", label(key), date(at))),
            Some(_) => {}
            None => unreadable.push(label(key)),
        }
    }
    if checked == 0 {
        report.skip("jwks certificates", "no key carries `x5c`");
    } else if !expired.is_empty() {
        report.fail(
            "jwks certificates",
            format!("expired: {}", expired.join(", ")),
            "renew the certificates (or drop `x5c`): clients that check them refuse the keys",
        );
    } else if !unreadable.is_empty() {
        report.warn(
            "jwks certificates",
            format!(
                "not a readable X.509 certificate: {}",
                unreadable.join(", ")
            ),
            "put base64 (not base64url) DER certificates in `x5c` (RFC 7517 §4.7)",
        );
    } else {
        report.pass(
            "jwks certificates",
            format!("{checked} certificates unexpired"),
        );
    }
}

/// `YYYY-MM-DD` of a Unix time.
fn date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One DER element: its tag, its contents, and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of an X.509 certificate (RFC 5280 §4.1), as a Unix time.
fn not_after(certificate: &[u8]) -> Option<u64> {
    let (0x30, cert, _) = der(certificate)? else {
        return None;
    };
    let (0x30, tbs, _) = der(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version, optional.
    if rest.first() == Some(&0xa0) {
        rest = der(rest)?.2;
    }
    rest = der(rest)?.2; // serialNumber
    rest = der(rest)?.2; // signature
    rest = der(rest)?.2; // issuer
    let (0x30, validity, _) = der(rest)? else {
        return None;
    };
    let (_, _, after) = der(validity)?; // notBefore
    let (tag, time, _) = der(after)?;
    let text = std::str::from_utf8(time).ok()?;
    let (year, rest) = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 1950 to 2049 (RFC 5280 §4.1.2.5.1).
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        // GeneralizedTime: YYYYMMDDHHMMSSZ.
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |at: usize| -> Option<u32> { rest.get(at..at + 2)?.parse().ok() };
    let days = days_from_civil(year, field(0)?, field(2)?);
    let seconds = days * 86_400
        + i64::from(field(4)?) * 3600
        + i64::from(field(6)?) * 60
        + i64::from(field(8)?);
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(date(1_700_000_000), "2023-11-14");
    }

    #[test]
    fn the_not_after_of_a_certificate_is_read() {
        // A skeleton certificate: version, serial, algorithm, issuer, validity (UTCTime).
        let time = |tag: u8, text: &str| [&[tag, text.len() as u8][..], text.as_bytes()].concat();
        let seq = |tag: u8, parts: &[Vec<u8>]| {
            let body = parts.concat();
            [&[tag, body.len() as u8][..], &body].concat()
        };
        let validity = seq(
            0x30,
            &[time(0x17, "200101000000Z"), time(0x17, "210101000000Z")],
        );
        let tbs = seq(
            0x30,
            &[
                seq(0xa0, &[vec![0x02, 0x01, 0x02]]),
                vec![0x02, 0x01, 0x01],
                seq(0x30, &[]),
                seq(0x30, &[]),
                validity,
            ],
        );
        let cert = seq(0x30, &[tbs, seq(0x30, &[]), vec![0x03, 0x01, 0x00]]);
        assert_eq!(not_after(&cert), Some(1_609_459_200));
        assert_eq!(not_after(&cert[..5]), None);
    }
}
