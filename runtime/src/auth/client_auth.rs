//! [`ClientAuth`]: how this server authenticates, as an OAuth client, to an authorization
//! server's token endpoint (RFC 6749 §2.3, RFC 7523 §2.2), for the token exchange.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use url::form_urlencoded;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a `private_key_jwt` assertion is valid: long enough for a slow network, short
/// enough that a stolen one is soon useless.
const ASSERTION_LIFETIME_SECONDS: u64 = 60;

/// How the server authenticates to the token endpoint as a confidential OAuth client.
///
/// `Debug` shows the method, never the secret or the key.
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the client id and secret, each form-urlencoded
    /// first (RFC 6749 §2.3.1).
    SecretBasic {
        /// The client secret.
        secret: String,
    },
    /// `client_secret_post`: `client_id` and `client_secret` in the form (RFC 6749 §2.3.1).
    SecretPost {
        /// The client secret.
        secret: String,
    },
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT the client signs with
    /// its private key, `iss` and `sub` the client id, `aud` the token endpoint, a fresh `jti`,
    /// valid for a minute. The authorization server knows the public key (registered, or the
    /// client's `jwks_uri`).
    PrivateKeyJwt {
        /// The private key.
        key: EncodingKey,
        /// Its algorithm: asymmetric (`RS256`, `PS256`, `ES256`, `EdDSA`, …).
        algorithm: Algorithm,
        /// The `kid` the authorization server knows the key by, if it needs one.
        key_id: Option<String>,
    },
}

impl ClientAuth {
    /// `client_secret_basic` with `secret`.
    pub fn secret_basic(secret: impl Into<String>) -> Self {
        Self::SecretBasic {
            secret: secret.into(),
        }
    }

    /// `client_secret_post` with `secret`.
    pub fn secret_post(secret: impl Into<String>) -> Self {
        Self::SecretPost {
            secret: secret.into(),
        }
    }

    /// `private_key_jwt` with `key` (`EncodingKey::from_ec_pem`, `from_rsa_pem`, …).
    pub fn private_key_jwt(key: EncodingKey, algorithm: Algorithm, key_id: Option<String>) -> Self {
        Self::PrivateKeyJwt {
            key,
            algorithm,
            key_id,
        }
    }

    /// The method's name, as `token_endpoint_auth_method` says it (RFC 7591 §2).
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::SecretPost { .. } => "client_secret_post",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }

    /// Authenticates `client_id` on a request to `token_endpoint`: the fields it adds to the
    /// form, and the `Authorization` header value it needs, if any.
    pub(crate) fn apply(
        &self,
        client_id: &str,
        token_endpoint: &str,
        form: &mut form_urlencoded::Serializer<'_, String>,
        now: u64,
    ) -> Result<Option<String>, String> {
        match self {
            Self::SecretBasic { secret } => {
                let encode =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", encode(client_id), encode(secret));
                Ok(Some(format!("Basic {}", STANDARD.encode(pair))))
            }
            Self::SecretPost { secret } => {
                form.append_pair("client_id", client_id);
                form.append_pair("client_secret", secret);
                Ok(None)
            }
            Self::PrivateKeyJwt {
                key,
                algorithm,
                key_id,
            } => {
                let mut header = Header::new(*algorithm);
                header.kid.clone_from(key_id);
                let claims = json!({
                    "iss": client_id,
                    "sub": client_id,
                    "aud": token_endpoint,
                    "jti": random_id(),
                    "iat": now,
                    "exp": now + ASSERTION_LIFETIME_SECONDS,
                });
                let assertion = jsonwebtoken::encode(&header, &claims, key)
                    .map_err(|e| format!("the client assertion could not be signed: {e}"))?;
                form.append_pair("client_id", client_id);
                form.append_pair("client_assertion_type", JWT_BEARER_ASSERTION);
                form.append_pair("client_assertion", &assertion);
                Ok(None)
            }
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ClientAuth");
        debug.field("method", &self.method());
        if let Self::PrivateKeyJwt {
            algorithm, key_id, ..
        } = self
        {
            debug.field("algorithm", algorithm).field("key_id", key_id);
        }
        debug.finish_non_exhaustive()
    }
}

/// 16 random bytes, base64url: an assertion's `jti`.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // getrandom fails only when the OS has no entropy source at all; nothing can go on then.
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(auth: &ClientAuth) -> (String, Option<String>) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        let header = auth
            .apply("mcp server", "https://as.example/token", &mut form, 1_000)
            .unwrap();
        (form.finish(), header)
    }

    #[test]
    fn basic_encodes_the_id_and_secret_before_base64() {
        let (form, header) = applied(&ClientAuth::secret_basic("s3cr:t/+"));
        assert_eq!(form, "");
        let header = header.expect("an Authorization header");
        let pair = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(pair).unwrap(),
            "mcp+server:s3cr%3At%2F%2B"
        );
    }

    #[test]
    fn post_puts_the_credentials_in_the_form() {
        let (form, header) = applied(&ClientAuth::secret_post("secret"));
        assert_eq!(header, None);
        assert_eq!(form, "client_id=mcp+server&client_secret=secret");
    }

    #[test]
    fn debug_shows_no_secret() {
        for auth in [
            ClientAuth::secret_basic("hunter2-secret"),
            ClientAuth::secret_post("hunter2-secret"),
        ] {
            let shown = format!("{auth:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(auth.method()), "{shown}");
        }
    }
}
