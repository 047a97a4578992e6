//! `JwtVerifier::verify`, structure-aware: the fuzzer chooses the header and claims (as JSON
//! values, with the right ones close at hand), how they are encoded, and the signature — its own
//! bytes, or a real signature by one of the test keys of the fixed JWK set, so that tokens get
//! past base64, JSON and the signature into the claim checks.
//!
//! Never panics; and a token verifies only if a test key signed it with an accepted algorithm,
//! with the `at+jwt` type, no `crit`, the configured issuer and audience, an `exp` not past, and
//! no `nbf` or `iat` in the future (leeway 60 s), and a string `sub`; verifying it again (the
//! verifier remembers verified tokens) gives the same answer.
#![no_main]

use std::str::FromStr as _;

use jsonwebtoken::Algorithm;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use scopegate::auth::{ASYMMETRIC_ALGORITHMS, AuthError, TokenVerifier as _};
use scopegate_fuzz::{
    AUDIENCE, ISSUER, TestKey, assert_verified_claims, b64url, block_on, trace, tracing, verdict,
    verifier,
};
use serde_json::{Map, Value, json};

/// Leeway of the verifier, plus a second for the clock ticking during the check.
const SLACK: i64 = 61;

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn value(&self, depth: u8) -> Value {
        if depth > 6 {
            return Value::Null;
        }
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(n) => json!(n),
            Json::UInt(n) => json!(n),
            Json::Float(f) => json!(f),
            Json::Str(s) => json!(s),
            Json::Arr(items) => Value::Array(items.iter().map(|j| j.value(depth + 1)).collect()),
            Json::Obj(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, j)| (k.clone(), j.value(depth + 1)))
                    .collect(),
            ),
        }
    }
}

// The first variant of every choice is the valid one: `arbitrary` picks it when the input runs
// out, so short inputs are tokens that verify, and mutations explore around them.

const ALG_NAMES: [&str; 16] = [
    "EdDSA", "ES256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES384", "HS256",
    "HS512", "none", "ES512", "rs256", "EDDSA", "",
];

#[derive(Arbitrary, Debug)]
enum Alg {
    Named(u8),
    Missing,
    Other(Json),
}

#[derive(Arbitrary, Debug)]
enum Typ {
    AtJwt,
    ApplicationAtJwt,
    Upper,
    Jwt,
    Missing,
    Other(Json),
}

#[derive(Arbitrary, Debug)]
enum Kid {
    Of(Key),
    Missing,
    Other(Json),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Key {
    Ed,
    Ec,
    Rsa,
}

impl Key {
    fn test_key(self) -> TestKey {
        match self {
            Key::Rsa => TestKey::RsaA,
            Key::Ec => TestKey::EcP256,
            Key::Ed => TestKey::Ed25519,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Header {
    alg: Alg,
    typ: Typ,
    kid: Kid,
    /// Set after the members above (`crit`, a duplicate of them, anything).
    overrides: Vec<(Name, Json)>,
}

/// A member name: the registered ones close at hand.
#[derive(Arbitrary, Debug)]
enum Name {
    Crit,
    Alg,
    Typ,
    Kid,
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Sub,
    ClientId,
    Azp,
    Scope,
    Scp,
    Cnf,
    Other(String),
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Crit => "crit",
            Name::Alg => "alg",
            Name::Typ => "typ",
            Name::Kid => "kid",
            Name::Iss => "iss",
            Name::Aud => "aud",
            Name::Exp => "exp",
            Name::Nbf => "nbf",
            Name::Iat => "iat",
            Name::Sub => "sub",
            Name::ClientId => "client_id",
            Name::Azp => "azp",
            Name::Scope => "scope",
            Name::Scp => "scp",
            Name::Cnf => "cnf",
            Name::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Iss {
    Good,
    InArray(Vec<String>, bool),
    Missing,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Aud {
    Good,
    InArray(Vec<String>, bool),
    Missing,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Time {
    /// This many seconds (plus one) from now.
    Future(u16),
    /// This many seconds ago.
    Past(u16),
    /// Far ahead or behind (seconds from now), or absolute.
    Relative(i64),
    Absolute(u64),
    Float(f64),
}

#[derive(Arbitrary, Debug)]
enum Scopes {
    Scope(String),
    None,
    ScpArray(Vec<String>),
    ScpString(String),
}

#[derive(Arbitrary, Debug)]
enum Subject {
    Is(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Iss,
    aud: Aud,
    exp: Option<Time>,
    nbf: Option<Time>,
    iat: Option<Time>,
    sub: Subject,
    client_id: Option<String>,
    azp: Option<String>,
    scopes: Scopes,
    /// Set after the members above (wrong types, duplicates, anything).
    overrides: Vec<(Name, Json)>,
}

#[derive(Arbitrary, Debug)]
enum Signer {
    /// A real signature by a test key, with the header's algorithm when it is one of the key's
    /// family (else the key's own).
    Key(Key),
    /// The fuzzer's bytes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Mangle {
    None,
    /// Replaces the serialized header.
    RawHeader(Vec<u8>),
    /// Replaces the serialized claims.
    RawPayload(Vec<u8>),
    /// Appended to the token after signing.
    Suffix(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    header: Header,
    claims: Claims,
    signer: Signer,
    mangle: Mangle,
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

fn time(t: &Time) -> Value {
    match t {
        Time::Future(s) => json!(now() + 1 + i64::from(*s)),
        Time::Past(s) => json!(now() - i64::from(*s)),
        Time::Relative(s) => json!(now().saturating_add(*s)),
        Time::Absolute(t) => json!(t),
        Time::Float(f) => json!(f),
    }
}

fn header_value(h: &Header) -> Value {
    let mut m = Map::new();
    match &h.alg {
        Alg::Named(i) => {
            m.insert(
                "alg".into(),
                json!(ALG_NAMES[usize::from(*i) % ALG_NAMES.len()]),
            );
        }
        Alg::Missing => {}
        Alg::Other(j) => {
            m.insert("alg".into(), j.value(1));
        }
    }
    let typ = match &h.typ {
        Typ::AtJwt => Some(json!("at+jwt")),
        Typ::ApplicationAtJwt => Some(json!("application/at+jwt")),
        Typ::Upper => Some(json!("AT+JWT")),
        Typ::Jwt => Some(json!("JWT")),
        Typ::Missing => None,
        Typ::Other(j) => Some(j.value(1)),
    };
    if let Some(typ) = typ {
        m.insert("typ".into(), typ);
    }
    let kid = match &h.kid {
        Kid::Of(k) => Some(json!(k.test_key().kid())),
        Kid::Missing => None,
        Kid::Other(j) => Some(j.value(1)),
    };
    if let Some(kid) = kid {
        m.insert("kid".into(), kid);
    }
    for (name, j) in &h.overrides {
        m.insert(name.as_str().to_owned(), j.value(1));
    }
    Value::Object(m)
}

fn claims_value(c: &Claims) -> Value {
    let mut m = Map::new();
    let strings = |v: &[String]| Value::Array(v.iter().map(|s| json!(s)).collect());
    let iss = match &c.iss {
        Iss::Good => Some(json!(ISSUER)),
        Iss::InArray(others, with_ours) => {
            let mut issuers = others.clone();
            if *with_ours {
                issuers.push(ISSUER.to_owned());
            }
            Some(strings(&issuers))
        }
        Iss::Missing => None,
        Iss::Other(s) => Some(json!(s)),
    };
    let aud = match &c.aud {
        Aud::Good => Some(json!(AUDIENCE)),
        Aud::InArray(others, with_ours) => {
            let mut audiences = others.clone();
            if *with_ours {
                audiences.push(AUDIENCE.to_owned());
            }
            Some(strings(&audiences))
        }
        Aud::Missing => None,
        Aud::Other(s) => Some(json!(s)),
    };
    let (scope, scp) = match &c.scopes {
        Scopes::Scope(s) => (Some(json!(s)), None),
        Scopes::None => (None, None),
        Scopes::ScpArray(v) => (None, Some(strings(v))),
        Scopes::ScpString(s) => (None, Some(json!(s))),
    };
    let members = [
        ("iss", iss),
        ("aud", aud),
        (
            "exp",
            Some(
                c.exp
                    .as_ref()
                    .map_or_else(|| time(&Time::Future(3600)), time),
            ),
        ),
        ("nbf", c.nbf.as_ref().map(time)),
        ("iat", c.iat.as_ref().map(time)),
        (
            "sub",
            match &c.sub {
                Subject::Is(s) => Some(json!(s)),
                Subject::Missing => None,
            },
        ),
        ("client_id", c.client_id.as_ref().map(|s| json!(s))),
        ("azp", c.azp.as_ref().map(|s| json!(s))),
        ("scope", scope),
        ("scp", scp),
    ];
    for (name, value) in members {
        if let Some(value) = value {
            m.insert(name.to_owned(), value);
        }
    }
    for (name, j) in &c.overrides {
        m.insert(name.as_str().to_owned(), j.value(1));
    }
    Value::Object(m)
}

fuzz_target!(|input: Input| {
    let header = header_value(&input.header);
    let header_bytes = match &input.mangle {
        Mangle::RawHeader(raw) => raw.clone(),
        _ => header.to_string().into_bytes(),
    };
    let payload_bytes = match &input.mangle {
        Mangle::RawPayload(raw) => raw.clone(),
        _ => claims_value(&input.claims).to_string().into_bytes(),
    };
    let signing_input = format!("{}.{}", b64url(&header_bytes), b64url(&payload_bytes));

    // What the header says, read as the verifier reads it (last duplicate wins).
    let sent_header: Option<Map<String, Value>> = serde_json::from_slice(&header_bytes).ok();
    let header_alg = sent_header
        .as_ref()
        .and_then(|h| h.get("alg")?.as_str())
        .and_then(|a| Algorithm::from_str(a).ok());

    let (signature, signed_by) = match &input.signer {
        Signer::Raw(bytes) => (b64url(bytes), None),
        Signer::Key(key) => {
            let key = key.test_key();
            let alg = header_alg
                .filter(|a| a.family() == key.default_alg().family())
                .unwrap_or(key.default_alg());
            match key.sign(alg, signing_input.as_bytes()) {
                Some(signature) => (signature, Some((key, alg))),
                None => (String::new(), None),
            }
        }
    };
    let mut token = format!("{signing_input}.{signature}");
    if let Mangle::Suffix(suffix) = &input.mangle {
        token.push_str(suffix);
    }

    let result = block_on(verifier().verify(&token));
    if tracing() {
        trace(format_args!("{} {token}", verdict(&result)));
    }
    // Again: verified tokens are remembered (until `exp`); the answer must not change, but for
    // the clock crossing `nbf` or `exp` in between.
    let again = block_on(verifier().verify(&token));
    match (&result, &again) {
        (Ok(first), Ok(second)) => assert_eq!(first.claims(), second.claims()),
        (Err(_), Err(_))
        | (Ok(_), Err(AuthError::Expired))
        | (Err(AuthError::NotYetValid), Ok(_)) => {}
        (first, second) => panic!(
            "verifying twice: {:?} then {:?}: {token}",
            verdict(first),
            verdict(second)
        ),
    }
    let Ok(principal) = result else {
        return;
    };

    // It verified: everything the verifier promises must hold of what was sent.
    let (_, alg) =
        signed_by.unwrap_or_else(|| panic!("a token not signed by a test key verified: {token}"));
    assert!(ASYMMETRIC_ALGORITHMS.contains(&alg), "{alg:?}");
    assert_eq!(
        header_alg,
        Some(alg),
        "the header names the signing algorithm: {token}"
    );
    let sent_header = sent_header.expect("a verified header is JSON");
    // `"crit": null` is read as no `crit` (malformed per RFC 7515 §4.1.11, but it names no
    // extension to misunderstand).
    assert!(
        sent_header.get("crit").is_none_or(Value::is_null),
        "a token with crit verified: {token}"
    );
    let typ = sent_header
        .get("typ")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"),
        "typ {typ:?} verified: {token}"
    );

    let claims = principal.claims();
    assert_verified_claims(claims);
    let sent: Map<String, Value> =
        serde_json::from_slice(&payload_bytes).expect("verified claims are a JSON object");
    assert_eq!(&sent, claims, "the principal's claims are the ones signed");
    assert!(
        claims.get("sub").is_some_and(Value::is_string),
        "a token without a string sub verified (RFC 9068 §2.2): {token}"
    );
    assert!(
        !claims.contains_key("cnf"),
        "a token bound to a key (cnf) verified as a bearer token: {token}"
    );
    let now = now();
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    if let Some(exp) = number("exp") {
        assert!(
            exp >= (now - SLACK) as f64,
            "expired token verified: {token}"
        );
    }
    for name in ["nbf", "iat"] {
        if let Some(t) = number(name) {
            assert!(
                t <= (now + SLACK) as f64,
                "{name} in the future verified: {token}"
            );
        }
    }
});
