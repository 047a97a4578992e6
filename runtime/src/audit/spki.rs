//! The byte forms of a public JWK an HS256-confusion attacker tries as the HMAC secret: the
//! `PUBLIC KEY` PEM (as `openssl … -pubout` writes it, with and without its last newline), its
//! DER, the PKCS#1 `RSA PUBLIC KEY` PEM, and the JWK's JSON as served.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// rsaEncryption, 1.2.840.113549.1.1.1.
const RSA_OID: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_OID: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// Ed25519, 1.3.101.112.
const ED25519_OID: &[u8] = &[0x2B, 0x65, 0x70];

/// Each secret with the name of its form.
pub(super) fn secrets(jwk: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(der) = spki_der(jwk) {
        let pem = pem("PUBLIC KEY", &der);
        out.push(("PEM", pem.clone().into_bytes()));
        out.push((
            "PEM without its last newline",
            pem.trim_end().as_bytes().to_vec(),
        ));
        out.push(("DER", der));
    }
    if let Some(pkcs1) = rsa_pkcs1(jwk) {
        out.push(("PKCS#1 PEM", pem("RSA PUBLIC KEY", &pkcs1).into_bytes()));
    }
    out.push(("JWK JSON", jwk.to_string().into_bytes()));
    out
}

fn member(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(jwk.get(name)?.as_str()?.trim_end_matches('='))
        .ok()
}

/// SubjectPublicKeyInfo (RFC 5280 §4.1) of an RSA, EC (P-256, P-384, P-521) or Ed25519 key.
fn spki_der(jwk: &Value) -> Option<Vec<u8>> {
    let (algorithm, key) = match jwk.get("kty")?.as_str()? {
        "RSA" => (
            der(0x30, &[der(0x06, RSA_OID), vec![0x05, 0x00]].concat()),
            rsa_pkcs1(jwk)?,
        ),
        "EC" => {
            let curve: &[u8] = match jwk.get("crv")?.as_str()? {
                "P-256" => &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
                "P-384" => &[0x2B, 0x81, 0x04, 0x00, 0x22],
                "P-521" => &[0x2B, 0x81, 0x04, 0x00, 0x23],
                _ => return None,
            };
            let point = [vec![0x04], member(jwk, "x")?, member(jwk, "y")?].concat();
            (
                der(0x30, &[der(0x06, EC_OID), der(0x06, curve)].concat()),
                point,
            )
        }
        "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => {
            (der(0x30, &der(0x06, ED25519_OID)), member(jwk, "x")?)
        }
        _ => return None,
    };
    let bits = [vec![0x00], key].concat();
    Some(der(0x30, &[algorithm, der(0x03, &bits)].concat()))
}

/// RSAPublicKey (RFC 8017 A.1.1).
fn rsa_pkcs1(jwk: &Value) -> Option<Vec<u8>> {
    if jwk.get("kty")?.as_str()? != "RSA" {
        return None;
    }
    Some(der(
        0x30,
        &[integer(&member(jwk, "n")?), integer(&member(jwk, "e")?)].concat(),
    ))
}

/// A DER INTEGER of an unsigned big-endian number.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let mut content = bytes[start..].to_vec();
    if content.first().is_none_or(|&b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    der(0x02, &content)
}

/// A DER tag-length-value.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// PEM (RFC 7468): base64 in lines of 64, with a last newline.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn der_lengths_and_integers_follow_x690() {
        assert_eq!(der(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        assert_eq!(&der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(integer(&[0x01, 0x00, 0x01]), [0x02, 3, 0x01, 0x00, 0x01]);
        assert_eq!(integer(&[0x00, 0x80]), [0x02, 2, 0x00, 0x80]);
    }

    #[test]
    fn an_ed25519_key_gives_the_rfc_8410_spki() {
        // RFC 8410 §10.1's example public key.
        let x = "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1";
        let bytes: Vec<u8> = (0..x.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&x[i..i + 2], 16).unwrap())
            .collect();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&bytes)});
        let found = secrets(&jwk);
        let pem = String::from_utf8(found[0].1.clone()).unwrap();
        assert_eq!(
            pem,
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
        );
        assert_eq!(found.last().unwrap().0, "JWK JSON");
    }
}
