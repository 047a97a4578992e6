//! RFC 7662 token introspection, for authorization servers that issue opaque tokens.
//!
//! Answers are cached (keyed by a SHA-256 of the token, never the token itself) until the
//! token's `exp` or the configured cache time, whichever comes first, in a bounded map.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::{AuthError, TokenVerifier, VerifyFuture, principal_from_claims};
use crate::principal::Principal;

/// Settings of an [`IntrospectionVerifier`].
#[derive(Debug, Clone)]
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
        }
    }
}

type TokenHash = [u8; 32];

/// Verifies opaque tokens by asking the authorization server (RFC 7662).
pub struct IntrospectionVerifier {
    config: IntrospectionConfig,
    /// `None` when the HTTP client could not be built (logged): every token is then refused.
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
            .ok();
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
        let response = client
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
        let bytes = response.bytes().await.map_err(|_| AuthError::Unavailable)?;
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
        if exp.is_some_and(|exp| exp + leeway <= now) {
            return Err(AuthError::Expired);
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
            return Err(AuthError::NotYetValid);
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
        Ok((principal_from_claims(answer)?, exp))
    }
}

impl TokenVerifier for IntrospectionVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.introspect(token))
    }
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.config.endpoint)
            .finish_non_exhaustive()
    }
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
        ];
        for (a, expected) in cases {
            assert_eq!(v.check(answer(a.clone())).unwrap_err(), expected, "{a}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable_not_a_panic() {
        assert_eq!(
            verifier().introspect("abc").await.unwrap_err(),
            AuthError::Unavailable
        );
    }
}
