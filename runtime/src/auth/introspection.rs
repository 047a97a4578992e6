//! RFC 7662 token introspection, for authorization servers that issue opaque tokens.
//!
//! Answers are cached (keyed by a SHA-256 of the token, never the token itself) until the
//! token's `exp` or the configured cache time, whichever comes first, in a bounded map.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::claims::{fits_scheme, principal_from_claims};
use super::verifier::{AuthError, TokenVerifier, VerifyFuture};
use crate::challenge::AuthScheme;
use crate::principal::Principal;
use crate::transport_security::{InsecureHttp, UrlRole, check_url};

/// Settings of an [`IntrospectionVerifier`]. Its `Debug` leaves the client secret out.
#[derive(Clone)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// The introspection endpoint.
    pub endpoint: String,
    /// This resource server's client id at the authorization server (HTTP Basic).
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// This server's canonical URI: the answer's `aud` must contain it.
    pub audience: String,
    /// When set, the answer's `iss` must equal it.
    pub issuer: Option<String>,
    /// Longest time an answer is reused (default 60 s; never past the token's `exp`).
    pub cache_ttl: Duration,
    /// Most answers kept (default 10 000).
    pub max_cache_entries: usize,
    /// Timeout of each introspection request (default 5 s).
    pub http_timeout: Duration,
    /// Tolerance for clock differences on `exp` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// Largest introspection answer read (default 64 KiB); a larger one counts as the endpoint
    /// failing.
    pub max_response_bytes: usize,
    /// Whether the endpoint may be plain `http://` to a host that is not loopback (default
    /// false: refused when a router is built with the verifier, and every token refused as
    /// `Unavailable` without a request; RFC 7662 §4 requires TLS). For a private network whose
    /// path is trusted.
    pub allow_insecure_http: bool,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("cache_ttl", &self.cache_ttl)
            .field("max_cache_entries", &self.max_cache_entries)
            .field("http_timeout", &self.http_timeout)
            .field("leeway", &self.leeway)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

impl IntrospectionConfig {
    /// A configuration with the defaults above.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            audience: audience.into(),
            issuer: None,
            cache_ttl: Duration::from_secs(60),
            max_cache_entries: 10_000,
            http_timeout: Duration::from_secs(5),
            leeway: Duration::from_secs(60),
            max_response_bytes: 64 << 10,
            allow_insecure_http: false,
        }
    }

    /// Allows a plain `http://` endpoint on a host that is not loopback (see the field).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The endpoint, unless it is plain `http://` to a host that is not loopback and that is
    /// not allowed.
    fn check_endpoint(&self) -> Result<(), InsecureHttp> {
        let role = UrlRole {
            what: "introspection endpoint",
            setting: "IntrospectionConfig",
        };
        check_url(&self.endpoint, role, self.allow_insecure_http)
    }
}

type TokenHash = [u8; 32];

/// Verifies opaque tokens by asking the authorization server (RFC 7662).
pub struct IntrospectionVerifier {
    config: IntrospectionConfig,
    /// `None` when the HTTP client could not be built, or the endpoint is plain `http://` to a
    /// host that is not loopback (both logged): every token is then refused.
    client: Option<reqwest::Client>,
    cache: Mutex<HashMap<TokenHash, (Principal, Instant)>>,
}

impl IntrospectionVerifier {
    /// A verifier with this configuration.
    #[must_use]
    pub fn new(config: IntrospectionConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .inspect_err(|error| {
                tracing::error!(target: "scopegate::auth", %error, "the introspection client could not be built");
            })
            .ok()
            // Neither the token nor the client secret goes out in clear text.
            .filter(|_| {
                config
                    .check_endpoint()
                    .inspect_err(|error| {
                        tracing::error!(target: "scopegate::auth", %error, "every token will be refused");
                    })
                    .is_ok()
            });
        Self {
            config,
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Number of cached answers.
    pub fn cached(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    async fn introspect(&self, token: &str) -> Result<Principal, AuthError> {
        let hash = hash_token(token);
        let now = Instant::now();
        if let Some((principal, until)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
            && *until > now
        {
            return Ok(principal.clone());
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let client = self.client.as_ref().ok_or(AuthError::Unavailable)?;
        let mut response = client
            .post(&self.config.endpoint)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|_| AuthError::Unavailable)?;
        if !response.status().is_success() {
            return Err(AuthError::Unavailable);
        }
        let bytes = crate::fetch::body_within(&mut response, self.config.max_response_bytes)
            .await
            .ok()
            .flatten()
            .ok_or(AuthError::Unavailable)?;
        let answer: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|_| AuthError::Unavailable)?;
        let (principal, exp) = self.check(answer)?;
        let mut until = now + self.config.cache_ttl;
        if let Some(exp) = exp {
            let left = exp.saturating_sub(unix_now());
            // `exp` is attacker-influenced data: never let it overflow an Instant.
            if let Some(by_exp) = now.checked_add(Duration::from_secs(left)) {
                until = until.min(by_exp);
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= self.config.max_cache_entries {
            cache.retain(|_, (_, t)| *t > now);
        }
        if cache.len() < self.config.max_cache_entries {
            cache.insert(hash, (principal.clone(), until));
        }
        Ok(principal)
    }

    /// Applies the checks an introspection answer must pass (RFC 7662 §2.2, RFC 8707).
    fn check(&self, answer: Map<String, Value>) -> Result<(Principal, Option<u64>), AuthError> {
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err(AuthError::Inactive);
        }
        let now = unix_now();
        let leeway = self.config.leeway.as_secs();
        let time = |key: &str| -> Result<Option<u64>, AuthError> {
            match answer.get(key) {
                None => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or(AuthError::Claims),
            }
        };
        let exp = time("exp")?;
        if exp.is_some_and(|exp| exp.saturating_add(leeway) <= now) {
            return Err(AuthError::Expired);
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(AuthError::NotYetValid);
        }
        // A token bound to a key (RFC 7800 `cnf`, RFC 9449 §6.2) is judged against the scheme
        // it came in ([`super::fits_scheme`]), cached or not; here, whether it is an access
        // token at all.
        if !describes_access_token(&answer) {
            return Err(AuthError::Type);
        }
        let audience_ok = match answer.get("aud") {
            Some(Value::String(aud)) => *aud == self.config.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(&self.config.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::Audience);
        }
        if let Some(issuer) = &self.config.issuer
            && answer.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(AuthError::Issuer);
        }
        // The principal's issuer is the answer's `iss`, which equals the configured issuer when
        // one is set (just checked): sessions are owned per issuer, not per `sub` alone.
        Ok((principal_from_claims(answer)?, exp))
    }
}

impl TokenVerifier for IntrospectionVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            let principal = self.introspect(token).await?;
            fits_scheme(&principal, AuthScheme::Bearer).map(|()| principal)
        })
    }

    fn verify_dpop<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            let principal = self.introspect(token).await?;
            fits_scheme(&principal, AuthScheme::Dpop).map(|()| principal)
        })
    }

    fn check_urls(&self) -> Result<(), InsecureHttp> {
        self.config.check_endpoint()
    }
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.config.endpoint)
            .finish_non_exhaustive()
    }
}

/// Whether an answer leaves the token an access token. Authorization servers say what a token is
/// in fields of their own: RFC 7662's `token_type` (some answer `refresh_token` there),
/// `token_use` (`access_token` or `refresh_token`), and a `typ` claim (`Bearer` for access
/// tokens, `Refresh`, `Offline` or `ID` for the others). A refresh token must not open the
/// resource even when the server answers `active` with our audience for it.
fn describes_access_token(answer: &Map<String, Value>) -> bool {
    let field = |name: &str| answer.get(name).and_then(Value::as_str);
    let is = |value: &str, names: &[&str]| names.iter().any(|n| value.eq_ignore_ascii_case(n));
    let token_type_ok = field("token_type").is_none_or(|t| {
        !is(
            t,
            &[
                "refresh_token",
                "urn:ietf:params:oauth:token-type:refresh_token",
                "urn:ietf:params:oauth:token-type:id_token",
            ],
        )
    });
    let token_use_ok = field("token_use").is_none_or(|t| is(t, &["access_token", "access"]));
    let typ_ok = field("typ").is_none_or(|t| !is(t, &["refresh", "offline", "id"]));
    token_type_ok && token_use_ok && typ_ok
}

fn hash_token(token: &str) -> TokenHash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> IntrospectionVerifier {
        IntrospectionVerifier::new(IntrospectionConfig::new(
            "http://127.0.0.1:1/introspect",
            "rs",
            "secret",
            "https://rs.example/mcp",
        ))
    }

    fn answer(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_elsewhere_than_loopback_is_never_called() {
        // 192.0.2.0/24 is TEST-NET-1: no request is sent, so nothing needs to answer.
        let config = IntrospectionConfig::new(
            "http://192.0.2.1/introspect",
            "rs",
            "secret",
            "https://rs.example/mcp",
        );
        let refused = IntrospectionVerifier::new(config.clone());
        let error = refused.check_urls().unwrap_err();
        assert!(
            error.to_string().contains("on the IntrospectionConfig"),
            "{error}"
        );
        assert_eq!(
            refused.verify("opaque").await.unwrap_err(),
            AuthError::Unavailable
        );
        assert!(refused.client.is_none(), "no client to send with");
        // Opted out: checked, and a client is there to call it.
        let allowed = IntrospectionVerifier::new(config.allow_insecure_http(true));
        assert_eq!(allowed.check_urls(), Ok(()));
        assert!(allowed.client.is_some());
        assert_eq!(verifier().check_urls(), Ok(()), "loopback");
    }

    #[test]
    fn answers_must_be_active_current_and_for_this_resource() {
        let v = verifier();
        let now = unix_now();
        let (p, exp) = v
            .check(answer(serde_json::json!({"active":true,"aud":"https://rs.example/mcp","sub":"a","scope":"x","exp":now+60})))
            .unwrap();
        assert_eq!((p.subject(), exp), (Some("a"), Some(now + 60)));
        let cases = [
            (
                serde_json::json!({"active":false,"aud":"https://rs.example/mcp"}),
                AuthError::Inactive,
            ),
            (
                serde_json::json!({"aud":"https://rs.example/mcp"}),
                AuthError::Inactive,
            ),
            (serde_json::json!({"active":true}), AuthError::Audience),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp/"}),
                AuthError::Audience,
            ),
            (
                serde_json::json!({"active":true,"aud":["x"]}),
                AuthError::Audience,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","exp":now-120}),
                AuthError::Expired,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","nbf":now+3600}),
                AuthError::NotYetValid,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","exp":"soon"}),
                AuthError::Claims,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","token_type":"refresh_token"}),
                AuthError::Type,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","token_use":"refresh_token"}),
                AuthError::Type,
            ),
            (
                serde_json::json!({"active":true,"aud":"https://rs.example/mcp","typ":"Refresh"}),
                AuthError::Type,
            ),
        ];
        for (a, expected) in cases {
            assert_eq!(v.check(answer(a.clone())).unwrap_err(), expected, "{a}");
        }
    }

    #[test]
    fn access_tokens_as_servers_describe_them_pass() {
        let v = verifier();
        for described in [
            serde_json::json!({}),
            serde_json::json!({"token_type":"Bearer"}),
            serde_json::json!({"token_type":"access_token"}),
            serde_json::json!({"token_use":"access_token"}),
            serde_json::json!({"typ":"Bearer"}),
        ] {
            let mut a = answer(serde_json::json!({"active":true,"aud":"https://rs.example/mcp"}));
            a.extend(answer(described.clone()));
            assert!(v.check(a).is_ok(), "{described}");
        }
    }

    #[test]
    fn principals_carry_the_issuer_that_answered() {
        let active = |extra: Value| {
            let mut a = answer(serde_json::json!({"active":true,"aud":"https://rs.example/mcp"}));
            a.extend(answer(extra));
            a
        };
        let v = verifier();
        let (p, _) = v
            .check(active(serde_json::json!({"iss":"https://as.example"})))
            .unwrap();
        assert_eq!(p.issuer(), Some("https://as.example"));
        let (p, _) = v.check(active(serde_json::json!({}))).unwrap();
        assert_eq!(
            p.issuer(),
            None,
            "an answer without `iss`, no issuer configured"
        );
        let mut config = IntrospectionConfig::new(
            "http://127.0.0.1:1/introspect",
            "rs",
            "secret",
            "https://rs.example/mcp",
        );
        config.issuer = Some("https://as.example".into());
        let v = IntrospectionVerifier::new(config);
        let (p, _) = v
            .check(active(serde_json::json!({"iss":"https://as.example"})))
            .unwrap();
        assert_eq!(p.issuer(), Some("https://as.example"));
        assert_eq!(
            v.check(active(serde_json::json!({"iss":"https://other.example"})))
                .unwrap_err(),
            AuthError::Issuer
        );
    }

    #[test]
    fn the_farthest_exp_is_in_the_future_not_an_overflow() {
        let v = verifier();
        let a = answer(
            serde_json::json!({"active":true,"aud":"https://rs.example/mcp","exp":u64::MAX}),
        );
        assert_eq!(v.check(a).unwrap().1, Some(u64::MAX));
    }

    #[test]
    fn debug_leaves_the_client_secret_out() {
        let config = IntrospectionConfig::new("https://as/introspect", "rs", "hunter2", "r");
        let shown = format!(
            "{config:?} {:?}",
            IntrospectionVerifier::new(config.clone())
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable_not_a_panic() {
        assert_eq!(
            verifier().introspect("abc").await.unwrap_err(),
            AuthError::Unavailable
        );
    }
}
