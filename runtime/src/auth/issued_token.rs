//! [`DownstreamToken`], and the reading of an RFC 8693 §2.2.1 token exchange response into one:
//! a Bearer access token, for the API asked for when the token says who it is for.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::HeaderValue;
use serde_json::{Map, Value};

use super::exchange_error::ExchangeError;

/// RFC 8693 §3: an OAuth 2.0 access token.
pub(crate) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// RFC 8693 §3: a JWT.
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A token for one downstream API, got by exchanging the caller's (RFC 8693). Its only use is
/// the `Authorization` header of a request to that API: it has no `Display`, its `Debug` shows
/// the API only, and the header value it gives is marked sensitive (HTTP/2 never indexes it,
/// and `Debug` of the header shows no value).
#[derive(Clone)]
pub struct DownstreamToken {
    header: HeaderValue,
    audience: Arc<str>,
}

impl DownstreamToken {
    /// `Bearer <token>`, the value of the `Authorization` header of a request to
    /// [`audience`](Self::audience) (RFC 6750 §2.1).
    ///
    /// ```ignore
    /// let token = downstream.token("https://api.mail.example").await?;
    /// http.post("https://api.mail.example/send")
    ///     .header(reqwest::header::AUTHORIZATION, token.authorization())
    ///     .json(&mail)
    ///     .send()
    ///     .await?;
    /// ```
    #[must_use]
    pub fn authorization(&self) -> HeaderValue {
        self.header.clone()
    }

    /// The API the token is for.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }
}

impl fmt::Debug for DownstreamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownstreamToken")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// A token the issuer gave, checked, and how long it lasts as far as the answer tells.
pub(crate) struct Issued {
    pub(crate) token: DownstreamToken,
    /// `expires_in`, in seconds.
    pub(crate) expires_in: Option<u64>,
    /// The issued JWT's `exp` (Unix seconds), when it is one.
    pub(crate) exp: Option<u64>,
}

/// Reads a successful exchange response (RFC 8693 §2.2.1) for `audience`: a Bearer access
/// token of visible ASCII, and, when it is a JWT, one whose `aud` names `audience` (a token for
/// another audience is refused, so it never goes where it was not meant to). An opaque token's
/// audience cannot be told from outside: it is taken on the issuer's word.
pub(crate) fn read_issued(body: &Value, audience: &str) -> Result<Issued, ExchangeError> {
    let invalid = |why: &str| ExchangeError::InvalidResponse(why.to_owned());
    let Some(body) = body.as_object() else {
        return Err(invalid("not a JSON object"));
    };
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("no access_token"))?;
    // RFC 6750 §2.1's b64token, loosely: whatever fits in a header after `Bearer `.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "the access_token is not a token a header can carry",
        ));
    }
    // RFC 8693 §2.2.1: `token_type` is required; `N_A` says the token is no access token, and a
    // DPoP-bound one could not be sent as a bearer token.
    match body.get("token_type").and_then(Value::as_str) {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(kind) => {
            return Err(ExchangeError::InvalidResponse(format!(
                "token_type `{}` is not Bearer",
                crate::clip::clip(kind, 32)
            )));
        }
        None => return Err(invalid("no token_type")),
    }
    let issued_type = body.get("issued_token_type").and_then(Value::as_str);
    if let Some(kind) = issued_type
        && kind != ACCESS_TOKEN_TYPE
        && kind != JWT_TOKEN_TYPE
    {
        return Err(ExchangeError::InvalidResponse(format!(
            "issued_token_type `{}` is not an access token",
            crate::clip::clip(kind, 64)
        )));
    }
    let payload = jwt_payload(token);
    if issued_type == Some(JWT_TOKEN_TYPE) && payload.is_none() {
        return Err(invalid(
            "issued_token_type says JWT, but the token is not one",
        ));
    }
    let mut exp = None;
    if let Some(claims) = &payload {
        let found = audiences(claims);
        if !found.contains(&audience) {
            return Err(ExchangeError::WrongAudience {
                expected: audience.to_owned(),
                found: if found.is_empty() {
                    "no audience".to_owned()
                } else {
                    crate::clip::clip(&found.join(" "), 200).into_owned()
                },
            });
        }
        exp = claims.get("exp").and_then(Value::as_u64);
    }
    let mut header = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| invalid("the access_token is not a token a header can carry"))?;
    header.set_sensitive(true);
    Ok(Issued {
        token: DownstreamToken {
            header,
            audience: Arc::from(audience),
        },
        expires_in: body.get("expires_in").and_then(Value::as_u64),
        exp,
    })
}

/// The claims of a JWS compact serialization (three base64url parts, a JSON header with `alg`
/// and a JSON object for payload), unverified: only to read what a token says of itself, never
/// to trust it. `None` for anything else (an opaque token, a JWE).
pub(crate) fn jwt_payload(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    header.get("alg")?.as_str()?;
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The `aud` of a JWT's claims: one string, or an array of them (RFC 7519 §4.1.3).
fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const API: &str = "https://api.mail.example";

    fn jwt(claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(&json!({"alg": "ES256", "typ": "at+jwt"})),
            part(claims)
        )
    }

    fn answer(token: &str) -> Value {
        json!({
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": 300,
        })
    }

    #[test]
    fn a_jwt_for_the_api_is_taken_with_its_lifetimes() {
        let token = jwt(&json!({"aud": [API, "https://other.example"], "exp": 1234}));
        let issued = read_issued(&answer(&token), API).unwrap();
        assert_eq!(issued.expires_in, Some(300));
        assert_eq!(issued.exp, Some(1234));
        assert_eq!(
            issued.token.authorization().to_str().unwrap(),
            format!("Bearer {token}")
        );
        assert!(issued.token.authorization().is_sensitive());
        assert_eq!(issued.token.audience(), API);
    }

    #[test]
    fn a_jwt_for_another_audience_or_none_is_refused() {
        for (claims, found) in [
            (
                json!({"aud": "https://evil.example"}),
                "https://evil.example",
            ),
            (
                json!({"aud": ["https://a.example", "https://b.example"]}),
                "https://a.example https://b.example",
            ),
            (json!({"sub": "x"}), "no audience"),
            (
                json!({"aud": "https://api.mail.example/"}),
                "https://api.mail.example/",
            ),
        ] {
            let refused = read_issued(&answer(&jwt(&claims)), API).err();
            assert_eq!(
                refused,
                Some(ExchangeError::WrongAudience {
                    expected: API.into(),
                    found: found.into()
                }),
                "{claims}"
            );
        }
    }

    #[test]
    fn an_opaque_token_is_taken_on_the_issuers_word() {
        let issued = read_issued(&answer("opaque-token-123"), API).unwrap();
        assert_eq!(issued.exp, None);
    }

    #[test]
    fn answers_that_are_not_bearer_access_tokens_are_refused() {
        let mut cases = Vec::new();
        for (key, value) in [
            ("token_type", json!("N_A")),
            ("token_type", json!("DPoP")),
            ("token_type", Value::Null),
            (
                "issued_token_type",
                json!("urn:ietf:params:oauth:token-type:refresh_token"),
            ),
            (
                "issued_token_type",
                json!("urn:ietf:params:oauth:token-type:jwt"),
            ),
            ("access_token", json!("")),
            ("access_token", json!("two words")),
            ("access_token", json!(42)),
        ] {
            let mut body = answer("opaque");
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
            cases.push((format!("{key}={value}"), body));
        }
        cases.push(("not an object".into(), json!(["x"])));
        for (case, body) in cases {
            assert!(
                matches!(
                    read_issued(&body, API),
                    Err(ExchangeError::InvalidResponse(_))
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn only_jws_compact_tokens_are_read_as_jwts() {
        assert!(jwt_payload(&jwt(&json!({"aud": API}))).is_some());
        for opaque in ["abc", "a.b.c", "a.b.c.d.e", "e30.e30.x", "eyJ4IjoxfQ.e30.x"] {
            assert!(jwt_payload(opaque).is_none(), "{opaque}");
        }
    }

    #[test]
    fn debug_shows_the_api_not_the_token() {
        let issued = read_issued(&answer("very-secret-token"), API).unwrap();
        let shown = format!("{:?} {:?}", issued.token, issued.token.authorization());
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(shown.contains(API), "{shown}");
    }
}
