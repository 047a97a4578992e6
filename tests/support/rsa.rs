//! Just enough RSA by hand for the test keys: PKCS#1 DER parsing, SPKI encoding and
//! RSASSA-PKCS1-v1_5 signing/verification.
//!
//! jsonwebtoken 12 (aws-lc-rs backend) refuses RSA keys under 2048 bits both for signing and for
//! computing their JWK, yet the verifier must be tested against a correctly signed token from a
//! 1024-bit key. So the test support signs that one with this small, slow, non-constant-time
//! implementation. Never use it outside tests.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::ThumbprintHash;

/// An RSA private key's integers, big-endian without leading zero bytes.
#[derive(Clone)]
pub struct RsaPrivate {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    d: Vec<u8>,
}

impl RsaPrivate {
    /// Parses a PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2).
    pub fn from_pkcs1_der(der: &[u8]) -> Self {
        let (tag, seq, _) = der_tlv(der);
        assert_eq!(tag, 0x30, "RSAPrivateKey must be a SEQUENCE");
        let (_version, rest) = der_integer(seq);
        let (n, rest) = der_integer(rest);
        let (e, rest) = der_integer(rest);
        let (d, _) = der_integer(rest);
        Self { n, e, d }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.n.len() * 8 - self.n[0].leading_zeros() as usize
    }

    /// RSASSA-PKCS1-v1_5 (RFC 8017 8.2.1) over `message`; `alg` must be RS256/RS384/RS512.
    pub fn sign_pkcs1_v15(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        let em = emsa_pkcs1_v15(alg, message, self.n.len());
        mod_pow(&em, &self.d, &self.n)
    }

    /// The `SubjectPublicKeyInfo` DER of the public key (what `openssl rsa -pubout` writes).
    pub fn spki_der(&self) -> Vec<u8> {
        // rsaEncryption, 1.2.840.113549.1.1.1, with NULL parameters.
        const RSA_ENCRYPTION: [u8; 13] = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ];
        let public_key = der(0x30, &[der_uint(&self.n), der_uint(&self.e)].concat());
        let mut bit_string = vec![0u8];
        bit_string.extend_from_slice(&public_key);
        der(
            0x30,
            &[der(0x30, &RSA_ENCRYPTION), der(0x03, &bit_string)].concat(),
        )
    }

    /// The public key as a `-----BEGIN PUBLIC KEY-----` PEM, byte for byte what OpenSSL writes.
    pub fn public_key_pem(&self) -> String {
        let b64 = STANDARD.encode(self.spki_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }
}

/// Checks an RSASSA-PKCS1-v1_5 signature with the public key (`n`, `e` big-endian).
pub fn verify_pkcs1_v15(n: &[u8], e: &[u8], alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
    let n = strip_zeros(n);
    if sig.len() != n.len() || cmp_be(sig, &n) != std::cmp::Ordering::Less {
        return false;
    }
    mod_pow(sig, e, &n) == emsa_pkcs1_v15(alg, message, n.len())
}

/// EMSA-PKCS1-v1_5 encoding (RFC 8017 9.2): `00 01 FF.. 00 DigestInfo`.
fn emsa_pkcs1_v15(alg: Algorithm, message: &[u8], k: usize) -> Vec<u8> {
    // DER DigestInfo prefixes from RFC 8017 9.2, note 1.
    let (prefix, hash): (&[u8], ThumbprintHash) = match alg {
        Algorithm::RS256 => (
            &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            ThumbprintHash::SHA256,
        ),
        Algorithm::RS384 => (
            &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            ThumbprintHash::SHA384,
        ),
        Algorithm::RS512 => (
            &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
            ThumbprintHash::SHA512,
        ),
        other => panic!("hand-rolled RSA only does RS256/RS384/RS512, not {other:?}"),
    };
    let provider = CryptoProvider::try_get_default().expect("jsonwebtoken crypto provider");
    let digest = (provider.key_utils.compute_digest)(message, hash).expect("digest");
    let t_len = prefix.len() + digest.len();
    assert!(k >= t_len + 11, "RSA modulus too short for this digest");
    let mut em = vec![0x00, 0x01];
    em.resize(k - t_len - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(&digest);
    em
}

// ---- DER -------------------------------------------------------------------------------------

/// Splits one DER TLV off `input`: (tag, contents, rest).
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        short @ 0..0x80 => (usize::from(short), 2),
        long => {
            let count = usize::from(long & 0x7f);
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

fn der_integer(input: &[u8]) -> (Vec<u8>, &[u8]) {
    let (tag, value, rest) = der_tlv(input);
    assert_eq!(tag, 0x02, "expected a DER INTEGER");
    (strip_zeros(value), rest)
}

fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A non-negative DER INTEGER: a leading zero byte when the high bit is set.
fn der_uint(value: &[u8]) -> Vec<u8> {
    let value = strip_zeros(value);
    let mut contents = Vec::with_capacity(value.len() + 1);
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        contents.push(0);
    }
    contents.extend_from_slice(&value);
    der(0x02, &contents)
}

fn strip_zeros(value: &[u8]) -> Vec<u8> {
    let first = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    value[first..].to_vec()
}

// ---- Modular exponentiation (Montgomery, 32-bit limbs) ----------------------------------------

fn cmp_be(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

/// Big-endian bytes to `k` little-endian limbs.
fn to_limbs(bytes: &[u8], k: usize) -> Vec<u32> {
    let mut limbs = vec![0u32; k];
    for (i, b) in bytes.iter().rev().enumerate() {
        limbs[i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    limbs
}

/// Little-endian limbs to exactly `len` big-endian bytes.
fn from_limbs(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for i in 0..len {
        out[len - 1 - i] = (limbs[i / 4] >> (8 * (i % 4))) as u8;
    }
    out
}

fn geq(a: &[u32], n: &[u32]) -> bool {
    for i in (0..n.len()).rev() {
        if a[i] != n[i] {
            return a[i] > n[i];
        }
    }
    true
}

fn sub_in_place(a: &mut [u32], n: &[u32]) {
    let mut borrow = 0i64;
    for i in 0..n.len() {
        let d = i64::from(a[i]) - i64::from(n[i]) - borrow;
        a[i] = d as u32;
        borrow = i64::from(d < 0);
    }
}

struct Montgomery {
    n: Vec<u32>,
    /// -n^-1 mod 2^32
    n0_inv: u32,
}

impl Montgomery {
    fn new(n: Vec<u32>) -> Self {
        assert!(n[0] & 1 == 1, "modulus must be odd");
        // Newton iteration for n[0]^-1 mod 2^32: each step doubles the correct low bits.
        let mut inv: u32 = 1;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        Self {
            n,
            n0_inv: inv.wrapping_neg(),
        }
    }

    /// a * b * R^-1 mod n (CIOS).
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let k = self.n.len();
        let mut t = vec![0u32; k + 2];
        for &bi in b.iter().take(k) {
            let mut carry = 0u64;
            for j in 0..k {
                let s = u64::from(t[j]) + u64::from(a[j]) * u64::from(bi) + carry;
                t[j] = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(t[k]) + carry;
            t[k] = s as u32;
            t[k + 1] = (s >> 32) as u32;

            let m = t[0].wrapping_mul(self.n0_inv);
            let s = u64::from(t[0]) + u64::from(m) * u64::from(self.n[0]);
            let mut carry = s >> 32;
            for j in 1..k {
                let s = u64::from(t[j]) + u64::from(m) * u64::from(self.n[j]) + carry;
                t[j - 1] = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(t[k]) + carry;
            t[k - 1] = s as u32;
            t[k] = t[k + 1] + (s >> 32) as u32;
            t[k + 1] = 0;
        }
        let mut result = t[..k].to_vec();
        if t[k] != 0 || geq(&result, &self.n) {
            sub_in_place(&mut result, &self.n);
        }
        result
    }

    /// R^2 mod n, by doubling 1 modulo n 2 * 32 * k times.
    fn r_squared(&self) -> Vec<u32> {
        let k = self.n.len();
        let mut x = vec![0u32; k];
        x[0] = 1;
        for _ in 0..(64 * k) {
            let mut carry = 0u32;
            for limb in &mut x {
                let next = *limb >> 31;
                *limb = (*limb << 1) | carry;
                carry = next;
            }
            if carry == 1 || geq(&x, &self.n) {
                sub_in_place(&mut x, &self.n);
            }
        }
        x
    }
}

/// base^exp mod modulus, all big-endian; the result has the modulus' length. `base < modulus`.
fn mod_pow(base: &[u8], exp: &[u8], modulus: &[u8]) -> Vec<u8> {
    let modulus = strip_zeros(modulus);
    let k = modulus.len().div_ceil(4);
    let mont = Montgomery::new(to_limbs(&modulus, k));
    let r2 = mont.r_squared();
    let mut one = vec![0u32; k];
    one[0] = 1;
    let base_m = mont.mul(&to_limbs(&strip_zeros(base), k), &r2);
    let mut acc = mont.mul(&one, &r2);
    for byte in strip_zeros(exp) {
        for bit in (0..8).rev() {
            acc = mont.mul(&acc, &acc);
            if (byte >> bit) & 1 == 1 {
                acc = mont.mul(&acc, &base_m);
            }
        }
    }
    from_limbs(&mont.mul(&acc, &one), modulus.len())
}
