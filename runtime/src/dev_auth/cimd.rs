//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the MCP
//! authorization specification's "Client ID Metadata Documents", SEP-991): a `client_id` that
//! is an `https` URL names a JSON document, served by the client itself, that stands for its
//! registration. No `/register` call is made.
//!
//! The URL must be a *Client Identifier URL* (draft §3: `https`, a path other than `/`, no
//! userinfo, no fragment, no dot segments); plain `http` is accepted to a loopback host only,
//! the rule of the rest of scopegate ([`crate::transport_security`]). The document is fetched
//! through [`crate::fetch::Fetcher`]: no redirects (draft §5), a timeout, at most
//! [`MAX_DOCUMENT_BYTES`] read (the draft's recommended 5 kB), and only from public addresses
//! (draft §7.6, SSRF): special-use addresses (RFC 6890) are refused, both as literal hosts and
//! as what a name resolves to, except loopback when the issuer itself is on loopback (the
//! draft's exception for development). At most [`MAX_CONCURRENT_FETCHES`] fetches run at once.
//!
//! The document must name the URL as its `client_id` (simple string comparison, draft §4),
//! list `redirect_uris` (https or loopback http, as registration asks), and describe a public
//! client: `token_endpoint_auth_method` `none` or absent, no `client_secret` (draft §4.1), no
//! private key in `jwks`. The request's `redirect_uri` must be one of them.
//!
//! Valid documents are cached for their `Cache-Control: max-age`, between zero (`no-store`,
//! `no-cache`, `max-age=0`: not kept) and [`MAX_TTL`], [`DEFAULT_TTL`] without one; errors and
//! invalid documents never are (draft §5.2). A cached document that does not list the
//! requested redirect URI is fetched again once, so an edited document takes effect at once.
//! The cache holds at most [`MAX_CACHED`] documents.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fetch::{Fetcher, Resolver};
use crate::transport_security::is_loopback;

use super::config::DevAuthError;

/// Most bytes of a document read (the draft's recommended maximum, §7.7).
pub(super) const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long one fetch may take, connection included.
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest client ID URL, in bytes.
pub(super) const MAX_URL_LEN: usize = 2048;
/// Most documents cached at once.
pub(super) const MAX_CACHED: usize = 1000;
/// How long a document without `max-age` is cached.
pub(super) const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest a document is cached, whatever its `max-age`.
pub(super) const MAX_TTL: Duration = Duration::from_secs(3600);
/// Most fetches under way at once; more are refused (`temporarily_unavailable`).
pub(super) const MAX_CONCURRENT_FETCHES: usize = 8;
/// Most redirect URIs a document may list (as registration allows).
const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI, in bytes (as registration allows).
const MAX_REDIRECT_URI_LEN: usize = 2048;
/// Longest `client_name`, in bytes (as registration allows).
const MAX_CLIENT_NAME_LEN: usize = 200;

/// Whether `url` parses and its host is loopback.
fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| is_loopback(&u))
}

/// Whether `client_id` is a URL, to be read as a Client ID Metadata Document. The server's own
/// client ids are random base64url strings: never a URL (draft §6.1).
pub(super) fn is_url(client_id: &str) -> bool {
    let lower = |n: usize| client_id.get(..n).map(str::to_ascii_lowercase);
    lower(8).as_deref() == Some("https://") || lower(7).as_deref() == Some("http://")
}

/// What the server takes from a valid document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientDocument {
    pub(super) redirect_uris: Vec<String>,
    /// `client_name`, shown on the consent page.
    pub(super) name: Option<String>,
    /// Whether `grant_types` lists `refresh_token`.
    pub(super) refresh: bool,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2).
    pub(super) dpop_bound: bool,
}

/// Why a client ID URL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DocumentError {
    /// The URL, its fetch or its document is unusable (`invalid_client`).
    #[error("the client ID metadata document at `{url}` cannot be used: {why}")]
    Invalid {
        /// The client ID.
        url: String,
        /// Why.
        why: String,
    },
    /// The requested redirect URI is not in the document (`invalid_request`).
    #[error(
        "redirect_uri `{redirect_uri}` is not listed in the client ID metadata document at `{url}`"
    )]
    RedirectUri {
        /// The client ID.
        url: String,
        /// The redirect URI asked for.
        redirect_uri: String,
    },
    /// Too many fetches under way (`temporarily_unavailable`).
    #[error("too many client ID metadata documents are being fetched: try again shortly")]
    Busy,
}

impl DocumentError {
    /// The OAuth error code (RFC 6749 §4.1.2.1, §5.2).
    pub(super) fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_client",
            Self::RedirectUri { .. } => "invalid_request",
            Self::Busy => "temporarily_unavailable",
        }
    }
}

fn invalid(url: &str, why: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        url: url.to_owned(),
        why: why.into(),
    }
}

/// Checks that `id` is a Client Identifier URL (draft §3) the server may fetch: `https`, or
/// `http` to loopback; no userinfo, a path other than `/` without dot segments, no fragment;
/// a host that is not a special-use address (loopback only when `allow_loopback`).
pub(super) fn check_url(id: &str, allow_loopback: bool) -> Result<url::Url, String> {
    if id.len() > MAX_URL_LEN {
        return Err(format!(
            "a client ID URL may be at most {MAX_URL_LEN} bytes"
        ));
    }
    let url = url::Url::parse(id).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => {
            return Err(
                "a client ID URL must be https (plain http only to a loopback host)".to_owned(),
            );
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a client ID URL must not contain userinfo".to_owned());
    }
    if id.contains('#') {
        return Err("a client ID URL must not contain a fragment".to_owned());
    }
    // The parser removes dot segments: look at the URL as written.
    let after_scheme = &id[id.find("://").map_or(0, |i| i + 3)..];
    let path = after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .split('?')
        .next()
        .unwrap_or("");
    let dot = |segment: &str| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if path.split('/').any(dot) {
        return Err("a client ID URL must not contain . or .. path segments".to_owned());
    }
    if path.is_empty() || path == "/" {
        return Err("a client ID URL must have a path other than /".to_owned());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("a client ID URL must have a host".to_owned()),
    };
    if let Some(ip) = ip
        && !fetchable(ip, allow_loopback)
    {
        return Err(format!(
            "{ip} is a special-use address (RFC 6890): client ID metadata documents are fetched from public addresses only{}",
            if allow_loopback {
                " (and loopback)"
            } else {
                ""
            }
        ));
    }
    Ok(url)
}

/// Whether the server may fetch from `ip`: a public address, or loopback when allowed (the
/// draft's exception for an authorization server that itself runs on loopback, §7.6).
pub(super) fn fetchable(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                return allow_loopback;
            }
            !special_v4(v4)
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return allow_loopback;
            }
            !special_v6(v6)
        }
    }
}

/// RFC 6890's special-purpose IPv4 blocks (and multicast, and the reserved 240/4).
fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
}

/// RFC 6890's special-purpose IPv6 blocks (and multicast).
fn special_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x2002 // 6to4
}

/// Resolves host names for document fetches, keeping only the addresses [`fetchable`] allows,
/// so that a name pointing at a private address is refused as a literal one is.
struct PublicResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| fetchable(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "`{host}` resolves to no address a client ID metadata document may be fetched from (special-use addresses are refused)"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Validates a fetched document for the client ID `url` (draft §4, §4.1, and what this server
/// needs of a client).
pub(super) fn validate(url: &str, body: &Value) -> Result<ClientDocument, String> {
    let Value::Object(doc) = body else {
        return Err("the document is not a JSON object".to_owned());
    };
    match doc.get("client_id") {
        Some(Value::String(id)) if id == url => {}
        Some(Value::String(id)) => {
            return Err(format!(
                "its client_id `{id}` is not the URL it was fetched from"
            ));
        }
        _ => return Err("it has no client_id".to_owned()),
    }
    let redirect_uris: Vec<String> = match doc.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => uris
            .iter()
            .map(|u| u.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("redirect_uris must be strings")?,
        _ => return Err("it lists no redirect_uris".to_owned()),
    };
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "it lists more than {MAX_REDIRECT_URIS} redirect_uris"
        ));
    }
    for uri in &redirect_uris {
        // As registration asks: loopback http (native and CLI clients) or https; never a
        // fragment (OAuth 2.1 §2.3).
        let ok = uri.len() <= MAX_REDIRECT_URI_LEN
            && url::Url::parse(uri).is_ok_and(|u| {
                u.fragment().is_none()
                    && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback_url(uri)))
            });
        if !ok {
            return Err(format!(
                "redirect URI `{uri}` must be https or http on a loopback host, without a fragment, of at most {MAX_REDIRECT_URI_LEN} bytes"
            ));
        }
    }
    // Draft §4.1: no shared secret can be established through a document. An absent method is
    // read as `none` (RFC 7591's default, `client_secret_basic`, cannot apply here).
    match doc.get("token_endpoint_auth_method") {
        None => {}
        Some(Value::String(m)) if m == "none" => {}
        Some(Value::String(m)) if m == "private_key_jwt" => {
            return Err(
                "token_endpoint_auth_method private_key_jwt is not supported by the development server: use none".to_owned(),
            );
        }
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other} is not allowed: a client ID metadata document describes a public client (none)"
            ));
        }
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if doc.contains_key(secret) {
            return Err(format!("it must not contain {secret}"));
        }
    }
    // Draft §4.1: public keys only. `d` is the private part of EC, RSA and OKP keys; `k` is a
    // symmetric key.
    if let Some(keys) = doc
        .get("jwks")
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
        && keys
            .iter()
            .any(|k| k.get("d").is_some() || k.get("k").is_some())
    {
        return Err("its jwks holds private or symmetric key material".to_owned());
    }
    let strings = |key: &str| -> Result<Option<Vec<&str>>, String> {
        match doc.get(key) {
            None => Ok(None),
            Some(Value::Array(v)) => v
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("{key} must be an array of strings")),
            Some(_) => Err(format!("{key} must be an array of strings")),
        }
    };
    // RFC 7591 §2: `grant_types` defaults to the authorization code grant alone.
    let grants = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code"]);
    if !grants.contains(&"authorization_code") {
        return Err("grant_types does not list authorization_code".to_owned());
    }
    if let Some(types) = strings("response_types")?
        && !types.contains(&"code")
    {
        return Err("response_types does not list code".to_owned());
    }
    let name = match doc.get("client_name") {
        None => None,
        Some(Value::String(name)) if name.len() <= MAX_CLIENT_NAME_LEN => Some(name.clone()),
        Some(_) => {
            return Err(format!(
                "client_name must be a string of at most {MAX_CLIENT_NAME_LEN} bytes"
            ));
        }
    };
    let dpop_bound = match doc.get("dpop_bound_access_tokens") {
        None => false,
        Some(Value::Bool(bound)) => *bound,
        Some(_) => return Err("dpop_bound_access_tokens must be a boolean".to_owned()),
    };
    Ok(ClientDocument {
        redirect_uris,
        name,
        refresh: grants.contains(&"refresh_token"),
        dpop_bound,
    })
}

/// How long a document is cached: its `max-age` up to [`MAX_TTL`], [`DEFAULT_TTL`] without
/// one; zero means not at all.
pub(super) fn ttl(max_age: Option<Duration>) -> Duration {
    max_age.unwrap_or(DEFAULT_TTL).min(MAX_TTL)
}

/// The cached documents, bounded to [`MAX_CACHED`].
#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<String, (ClientDocument, Instant)>,
}

impl Cache {
    /// The document of `url`, unless it expired.
    pub(super) fn get(&mut self, url: &str, now: Instant) -> Option<ClientDocument> {
        match self.entries.get(url) {
            Some((doc, expires)) if now < *expires => Some(doc.clone()),
            Some(_) => {
                self.entries.remove(url);
                None
            }
            None => None,
        }
    }

    /// Keeps `doc` for `ttl` (not at all for zero). A full cache first drops the expired
    /// documents, then the one closest to expiry.
    pub(super) fn insert(&mut self, url: &str, doc: ClientDocument, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            self.entries.remove(url);
            return;
        }
        if !self.entries.contains_key(url) && self.entries.len() >= MAX_CACHED {
            self.entries.retain(|_, (_, expires)| now < *expires);
            if self.entries.len() >= MAX_CACHED
                && let Some(first) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, expires))| *expires)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&first);
            }
        }
        self.entries.insert(url.to_owned(), (doc, now + ttl));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Fetches, validates and caches Client ID Metadata Documents.
pub(super) struct Documents {
    fetcher: Fetcher,
    allow_loopback: bool,
    cache: Mutex<Cache>,
    fetches: tokio::sync::Semaphore,
}

impl Documents {
    /// Fetching from loopback only when `issuer` is on loopback; trusting the PEM certificates
    /// of `extra_ca` besides the system's roots.
    pub(super) fn new(issuer: &str, extra_ca: Option<&str>) -> Result<Self, DevAuthError> {
        let allow_loopback = is_loopback_url(issuer);
        let roots = match extra_ca {
            None => Vec::new(),
            Some(pem) => {
                let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                    .map_err(|e| DevAuthError::MetadataDocumentCa(e.to_string()))?;
                if roots.is_empty() {
                    return Err(DevAuthError::MetadataDocumentCa(
                        "no PEM certificate found".to_owned(),
                    ));
                }
                roots
            }
        };
        let fetcher = Fetcher::new(FETCH_TIMEOUT, MAX_DOCUMENT_BYTES)
            .extra_roots(roots)
            .resolver(Resolver(Arc::new(PublicResolver { allow_loopback })));
        Ok(Self {
            fetcher,
            allow_loopback,
            cache: Mutex::new(Cache::default()),
            fetches: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The document of the client ID `url`, from the cache or fetched. With `redirect_uri`,
    /// it must list it: a cached document that does not is fetched again once.
    pub(super) async fn get(
        &self,
        url: &str,
        redirect_uri: Option<&str>,
    ) -> Result<ClientDocument, DocumentError> {
        check_url(url, self.allow_loopback).map_err(|why| invalid(url, why))?;
        let lists = |doc: &ClientDocument| {
            redirect_uri.is_none_or(|uri| doc.redirect_uris.iter().any(|u| u == uri))
        };
        let cached = self.cache().get(url, Instant::now());
        let doc = match cached {
            Some(doc) if lists(&doc) => return Ok(doc),
            _ => self.fetch(url).await?,
        };
        if !lists(&doc) {
            return Err(DocumentError::RedirectUri {
                url: url.to_owned(),
                redirect_uri: redirect_uri.unwrap_or_default().to_owned(),
            });
        }
        Ok(doc)
    }

    async fn fetch(&self, url: &str) -> Result<ClientDocument, DocumentError> {
        let _permit = self
            .fetches
            .try_acquire()
            .map_err(|_| DocumentError::Busy)?;
        let fetched = self.fetcher.get_json(url).await.map_err(|e| {
            tracing::debug!(
                target: "scopegate::dev_auth",
                event = "client_metadata_document_refused",
                client_id = url,
                error = %e,
                "client ID metadata document not fetched"
            );
            invalid(url, format!("fetching it failed: {e}"))
        })?;
        let doc = validate(url, &fetched.body).map_err(|why| invalid(url, why))?;
        self.cache()
            .insert(url, doc.clone(), ttl(fetched.max_age), Instant::now());
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://client.example/oauth/metadata.json";

    fn doc() -> Value {
        json!({
            "client_id": URL,
            "client_name": "Example",
            "redirect_uris": ["http://127.0.0.1:3000/callback", "https://client.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    }

    fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut d = doc();
        change(d.as_object_mut().unwrap());
        d
    }

    #[test]
    fn only_urls_are_read_as_documents() {
        for url in [URL, "HTTPS://x/y", "http://127.0.0.1/c"] {
            assert!(is_url(url), "{url}");
        }
        for id in ["abc123_-", "https:/x", "", "ftp://x/y", "h"] {
            assert!(!is_url(id), "{id}");
        }
    }

    #[test]
    fn a_client_id_url_follows_the_draft() {
        for ok in [
            URL,
            "https://client.example:8443/c",
            "https://client.example/c?v=1",
            "http://127.0.0.1:9/client.json",
            "http://localhost/c",
            "https://93.184.215.14/c",
        ] {
            assert!(
                check_url(ok, true).is_ok(),
                "{ok}: {:?}",
                check_url(ok, true)
            );
        }
        for (bad, why) in [
            ("http://client.example/c", "must be https"),
            ("ftp://client.example/c", "must be https"),
            ("https://client.example", "path other than /"),
            ("https://client.example/", "path other than /"),
            ("https://user:pw@client.example/c", "userinfo"),
            ("https://user@client.example/c", "userinfo"),
            ("https://client.example/c#top", "fragment"),
            ("https://client.example/a/../c", ". or .."),
            ("https://client.example/./c", ". or .."),
            ("https://client.example/a/%2E%2E/c", ". or .."),
            ("not a url", "not a URL"),
            ("https://10.0.0.7/c", "special-use"),
            ("https://192.168.1.1/c", "special-use"),
            ("https://169.254.169.254/latest/meta-data", "special-use"),
            ("https://[fd00::1]/c", "special-use"),
            ("https://[::ffff:10.0.0.1]/c", "special-use"),
            ("https://0.0.0.0/c", "special-use"),
        ] {
            let error = check_url(bad, true).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(check_url(&format!("https://x/{}", "a".repeat(MAX_URL_LEN)), true).is_err());
        // Loopback only when the issuer is on loopback.
        let error = check_url("https://127.0.0.1:8443/c", false).unwrap_err();
        assert!(error.contains("special-use"), "{error}");
        assert!(check_url("https://[::1]/c", false).is_err());
    }

    #[test]
    fn special_use_addresses_are_not_fetched() {
        for public in ["93.184.215.14", "1.1.1.1", "2606:4700::1111"] {
            assert!(fetchable(public.parse().unwrap(), false), "{public}");
        }
        for special in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "::",
            "fc00::1",
            "fe80::1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "2002::1",
            "ff02::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!fetchable(special.parse().unwrap(), true), "{special}");
        }
        for loopback in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(fetchable(loopback.parse().unwrap(), true), "{loopback}");
            assert!(!fetchable(loopback.parse().unwrap(), false), "{loopback}");
        }
    }

    #[test]
    fn a_valid_document_gives_its_redirect_uris_name_and_grants() {
        let d = validate(URL, &doc()).unwrap();
        assert_eq!(
            d,
            ClientDocument {
                redirect_uris: vec![
                    "http://127.0.0.1:3000/callback".into(),
                    "https://client.example/cb".into()
                ],
                name: Some("Example".into()),
                refresh: true,
                dpop_bound: false,
            }
        );
        // The minimal document: the code grant alone, no name, the method read as none.
        let minimal = json!({"client_id": URL, "redirect_uris": ["https://client.example/cb"]});
        let d = validate(URL, &minimal).unwrap();
        assert_eq!((d.name, d.refresh), (None, false));
    }

    #[test]
    fn an_invalid_document_is_refused_with_the_reason() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([1, 2]), "not a JSON object"),
            (with(|d| drop(d.remove("client_id"))), "no client_id"),
            (
                with(|d| {
                    drop(d.insert(
                        "client_id".into(),
                        json!("https://client.example/oauth/metadata.json/"),
                    ))
                }),
                "is not the URL",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "client_id".into(),
                        json!("https://CLIENT.example/oauth/metadata.json"),
                    ))
                }),
                "is not the URL",
            ),
            (
                with(|d| drop(d.remove("redirect_uris"))),
                "no redirect_uris",
            ),
            (
                with(|d| drop(d.insert("redirect_uris".into(), json!([])))),
                "no redirect_uris",
            ),
            (
                with(|d| drop(d.insert("redirect_uris".into(), json!([7])))),
                "must be strings",
            ),
            (
                with(|d| {
                    drop(d.insert("redirect_uris".into(), json!(["http://client.example/cb"])))
                }),
                "https or http on a loopback host",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "redirect_uris".into(),
                        json!(["https://client.example/cb#x"]),
                    ))
                }),
                "without a fragment",
            ),
            (
                with(|d| drop(d.insert("redirect_uris".into(), json!(["javascript:alert(1)"])))),
                "https or http",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "redirect_uris".into(),
                        json!(vec!["https://c.example/"; 11]),
                    ))
                }),
                "more than 10",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("client_secret_basic"),
                    ))
                }),
                "public client",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("client_secret_post"),
                    ))
                }),
                "public client",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("private_key_jwt"),
                    ))
                }),
                "not supported",
            ),
            (
                with(|d| drop(d.insert("client_secret".into(), json!("s3cret")))),
                "client_secret",
            ),
            (
                with(|d| drop(d.insert("client_secret_expires_at".into(), json!(0)))),
                "client_secret_expires_at",
            ),
            (
                with(|d| {
                    drop(d.insert(
                        "jwks".into(),
                        json!({"keys": [{"kty": "EC", "d": "private"}]}),
                    ))
                }),
                "private or symmetric",
            ),
            (
                with(|d| drop(d.insert("grant_types".into(), json!(["client_credentials"])))),
                "authorization_code",
            ),
            (
                with(|d| drop(d.insert("grant_types".into(), json!("authorization_code")))),
                "array of strings",
            ),
            (
                with(|d| drop(d.insert("response_types".into(), json!(["token"])))),
                "code",
            ),
            (
                with(|d| drop(d.insert("client_name".into(), json!("n".repeat(201))))),
                "client_name",
            ),
            (
                with(|d| drop(d.insert("client_name".into(), json!(42)))),
                "client_name",
            ),
        ];
        for (body, why) in cases {
            let error = validate(URL, &body).unwrap_err();
            assert!(error.contains(why), "{body}: {error} (expected {why})");
        }
    }

    #[test]
    fn max_age_is_respected_within_bounds() {
        assert_eq!(ttl(None), DEFAULT_TTL);
        assert_eq!(ttl(Some(Duration::from_secs(60))), Duration::from_secs(60));
        assert_eq!(ttl(Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(ttl(Some(Duration::from_secs(86_400))), MAX_TTL);
    }

    #[test]
    fn the_cache_expires_skips_zero_ttls_and_stays_bounded() {
        let d = validate(URL, &doc()).unwrap();
        let now = Instant::now();
        let mut cache = Cache::default();
        cache.insert(URL, d.clone(), Duration::from_secs(60), now);
        assert_eq!(
            cache.get(URL, now + Duration::from_secs(59)),
            Some(d.clone())
        );
        assert_eq!(cache.get(URL, now + Duration::from_secs(60)), None);
        assert_eq!(cache.len(), 0, "an expired document is dropped");
        cache.insert(URL, d.clone(), Duration::ZERO, now);
        assert_eq!(cache.get(URL, now), None, "no-store is not kept");

        for i in 0..MAX_CACHED {
            let ttl = Duration::from_secs(100 + i as u64);
            cache.insert(&format!("https://c.example/{i}"), d.clone(), ttl, now);
        }
        assert_eq!(cache.len(), MAX_CACHED);
        cache.insert(URL, d.clone(), Duration::from_secs(1000), now);
        assert_eq!(cache.len(), MAX_CACHED, "full: one is evicted");
        assert_eq!(
            cache.get("https://c.example/0", now),
            None,
            "the closest to expiry"
        );
        assert!(cache.get("https://c.example/1", now).is_some());
        assert!(cache.get(URL, now).is_some());
        // Expired documents go first.
        let later = now + Duration::from_secs(150);
        cache.insert(
            "https://new.example/c",
            d.clone(),
            Duration::from_secs(10),
            later,
        );
        assert!(cache.len() < MAX_CACHED, "the expired ones were dropped");
    }

    #[test]
    fn errors_carry_their_oauth_codes() {
        assert_eq!(invalid(URL, "x").code(), "invalid_client");
        let e = DocumentError::RedirectUri {
            url: URL.into(),
            redirect_uri: "https://evil.example/cb".into(),
        };
        assert_eq!(e.code(), "invalid_request");
        assert!(e.to_string().contains("https://evil.example/cb"));
        assert_eq!(DocumentError::Busy.code(), "temporarily_unavailable");
    }
}
