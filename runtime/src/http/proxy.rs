//! Behind a load balancer: which address a request really comes from.
//!
//! A server behind a reverse proxy sees the proxy as every request's peer. The proxy writes the
//! address it took the request from into a header (`X-Forwarded-For`, or RFC 7239 `Forwarded`),
//! appending to what earlier hops wrote. Anyone can send such a header, so it is believed only
//! as far as the proxies that are trusted wrote it: the peer must be a trusted proxy, and the
//! client is the right-most address that is not one (everything left of it was written by a
//! party we do not trust). The default trusts no proxy: the peer is the client.
//!
//! A range that holds every address (`0.0.0.0/0`, `::/0`) is refused: every peer would be a
//! trusted proxy, and anyone could choose the address its requests are limited and audited by.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::{Extensions, HeaderMap, HeaderName};

/// Most list elements examined, right to left: a chain of trusted proxies longer than this is
/// not a deployment but a header stuffed to make every request costly.
const MAX_HOPS: usize = 32;

/// The header the trusted proxies write the client's address to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's `$proxy_add_x_forwarded_for`, most
    /// cloud balancers). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => HeaderName::from_static("forwarded"),
        }
    }
}

/// Why a trusted-proxy range was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// Neither an IP address nor `address/prefix`.
    #[error("trusted proxy `{0}` is not an IP address or a CIDR range (e.g. 10.0.0.0/8, fd00::/8)")]
    Malformed(String),
    /// The prefix length is longer than the address.
    #[error(
        "trusted proxy `{0}`: the prefix length is longer than the address (at most 32 for IPv4, 128 for IPv6)"
    )]
    Prefix(String),
    /// A `/0` range: every address a trusted proxy, so anyone could write the client address.
    #[error(
        "trusted proxy `{0}` holds every address: anyone could then set the client address in the forwarded header; list the proxies' own addresses or ranges"
    )]
    Everyone(String),
    /// Bits are set past the prefix, which usually means a typo in the range.
    #[error("trusted proxy `{given}` has bits set past its prefix: write `{network}`")]
    HostBits {
        /// The range as given.
        given: String,
        /// The network it probably means.
        network: String,
    },
}

/// An IP network: an address and how many of its leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Result<Self, ProxyError> {
        let text = text.trim();
        let malformed = || ProxyError::Malformed(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => {
                // Digits only: `u8::from_str` would also take `+8`.
                if prefix.is_empty()
                    || prefix.len() > 3
                    || !prefix.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(malformed());
                }
                let prefix: u8 = prefix.parse().map_err(|_| malformed())?;
                (
                    address.parse::<IpAddr>().map_err(|_| malformed())?,
                    Some(prefix),
                )
            }
            None => (text.parse::<IpAddr>().map_err(|_| malformed())?, None),
        };
        let bits = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return Err(ProxyError::Prefix(text.to_owned()));
        }
        // An IPv4 range written in IPv6's mapped form (`::ffff:10.0.0.0/104`) is that IPv4
        // range: peers are compared in their canonical form.
        let (address, prefix) = match address {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (address, prefix),
            },
            _ => (address, prefix),
        };
        if prefix == 0 {
            return Err(ProxyError::Everyone(text.to_owned()));
        }
        let cidr = Self {
            network: mask(address, prefix),
            prefix,
        };
        if cidr.network != address {
            return Err(ProxyError::HostBits {
                given: text.to_owned(),
                network: format!("{}/{prefix}", cidr.network),
            });
        }
        Ok(cidr)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        matches!(
            (self.network, ip),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        ) && mask(ip, self.prefix) == self.network
    }
}

/// `ip` with every bit past the first `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

/// The reverse proxies (load balancers) in front of the server, and the header they write the
/// client's address to. See [`crate::http::HttpConfig::trusted_proxies`].
///
/// ```
/// use scopegate_runtime::http::{ForwardedHeader, TrustedProxies};
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"])?; // X-Forwarded-For
/// let rfc7239 = TrustedProxies::new(["192.0.2.10"])?.header(ForwardedHeader::Forwarded);
/// assert!(TrustedProxies::new(["10.0.0.1/8"]).is_err()); // a typo, not a range
/// # Ok::<(), scopegate_runtime::http::ProxyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trusts the proxies in `ranges` (CIDR ranges like `10.0.0.0/8` or `fd00::/8`, or single
    /// addresses), which write `X-Forwarded-For`. Each range is checked now: a malformed one,
    /// one with bits set past its prefix (`10.0.0.1/8`), or one holding every address
    /// (`0.0.0.0/0`, `::/0`: anyone could spoof the header) is an error.
    pub fn new<I, S>(ranges: I) -> Result<Self, ProxyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let ranges = ranges
            .into_iter()
            .map(|range| Cidr::parse(range.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ranges,
            header: ForwardedHeader::default(),
        })
    }

    /// The header the proxies write (default `X-Forwarded-For`). Trust one header only: the
    /// proxies must overwrite or append to it, and the other is left as the client sent it.
    #[must_use]
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is one of the trusted proxies (an IPv4 address mapped into IPv6 counts as
    /// the IPv4 address).
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// The address of the client a request from `peer` with `headers` came from.
    ///
    /// `peer` itself unless it is a trusted proxy. Then the proxies' header, every line of it
    /// read as one comma-separated list, is walked from the right (the last hop) past the
    /// trusted proxies; the first address that is not one is the client. When every address is
    /// a trusted proxy, the client is the left-most one: the farthest hop the header can be
    /// believed about. A malformed or `unknown` (or obfuscated, RFC 7239 §6.3) element there,
    /// an address no client has (multicast, unspecified, broadcast), no address at all, or a
    /// list longer than 32 elements, gives `peer`: the header cannot be believed further.
    #[must_use]
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops = 0;
        // The left-most trusted proxy seen so far.
        let mut farthest = None;
        for line in headers.get_all(self.header.name()).iter().rev() {
            for element in line.as_bytes().rsplit(|&b| b == b',') {
                hops += 1;
                if hops > MAX_HOPS {
                    return peer;
                }
                let Some(text) = std::str::from_utf8(element).ok().map(trim_ows) else {
                    return peer;
                };
                // RFC 9110 §5.6.1: a recipient accepts empty list elements and skips them.
                if text.is_empty() {
                    continue;
                }
                let address = match self.header {
                    ForwardedHeader::XForwardedFor => node(text),
                    ForwardedHeader::Forwarded => forwarded_for(text).and_then(node),
                };
                match address {
                    Some(address) if self.trusts(address) => farthest = Some(address),
                    Some(address) => return address,
                    None => return peer,
                }
            }
        }
        farthest.unwrap_or(peer)
    }
}

/// The address of a request's peer, from its `ConnectInfo` (which a router's requests carry:
/// [`super::serve_with`] and axum's `serve` with connect info set it); `None` when not known.
pub(crate) fn peer_of(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The client address of a request from `peer`, resolved through `proxies` when there are
/// some; `None` when the peer is not known.
pub(crate) fn client_of(
    proxies: Option<&TrustedProxies>,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = peer?;
    Some(match proxies {
        Some(proxies) => proxies.client_address(peer, headers),
        None => peer,
    })
}

/// Optional whitespace (`OWS`: spaces and tabs) off both ends.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// The `for` parameter of one `Forwarded` element (RFC 7239 §4: `pair *( ";" pair )`), unquoted;
/// `None` when there is none, more than one, or the element is malformed.
fn forwarded_for(element: &str) -> Option<&str> {
    let mut found = None;
    for pair in element.split(';') {
        let (name, value) = pair.split_once('=')?;
        let (name, value) = (trim_ows(name), trim_ows(value));
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return None;
        }
        if !name.eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            return None;
        }
        let value = match value.strip_prefix('"') {
            // No quoted-pairs: no proxy escapes an address, and an unescaped `"` or `\` inside
            // means the element is not what it seems.
            Some(quoted) => quoted
                .strip_suffix('"')
                .filter(|inner| !inner.contains(['"', '\\']))?,
            None => value,
        };
        found = Some(value);
    }
    found
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An address, as proxies write one: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711` (RFC 7239 §6 `node`, the port numeric or obfuscated).
/// `unknown` and obfuscated identifiers (`_hidden`) name no address: `None`; so does an address
/// that no request comes from (multicast, unspecified, IPv4 broadcast): a proxy never writes one.
fn node(text: &str) -> Option<IpAddr> {
    node_address(text).filter(|ip| {
        !ip.is_multicast()
            && !ip.is_unspecified()
            && !matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
    })
}

/// The address `text` names, whatever it is.
fn node_address(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_port) {
            return None;
        }
        return Some(IpAddr::V6(ip).to_canonical());
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (host, port) = text.split_once(':')?;
    let ip: Ipv4Addr = host.parse().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

/// `node-port = port / obfport` (RFC 7239 §6): a port number, or `_` and obfuscation chars.
fn is_port(text: &str) -> bool {
    let digits = (1..=5).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok();
    let obfuscated = text.len() > 1
        && text.starts_with('_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    digits || obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(name, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    #[test]
    fn ranges_are_checked_when_configured() {
        assert!(TrustedProxies::new(["10.0.0.0/8", "fd00::/8", "192.0.2.7", "::1"]).is_ok());
        assert!(TrustedProxies::new(Vec::<String>::new()).is_ok());
        for (bad, expected) in [
            ("10.0.0.0/33", ProxyError::Prefix("10.0.0.0/33".into())),
            ("fd00::/129", ProxyError::Prefix("fd00::/129".into())),
            ("10.0.0/8", ProxyError::Malformed("10.0.0/8".into())),
            ("10.0.0.0/", ProxyError::Malformed("10.0.0.0/".into())),
            ("10.0.0.0/+8", ProxyError::Malformed("10.0.0.0/+8".into())),
            (
                "proxy.internal",
                ProxyError::Malformed("proxy.internal".into()),
            ),
            ("", ProxyError::Malformed(String::new())),
            // Every address a trusted proxy: anyone could spoof the header.
            ("0.0.0.0/0", ProxyError::Everyone("0.0.0.0/0".into())),
            ("::/0", ProxyError::Everyone("::/0".into())),
            (
                "::ffff:0.0.0.0/96",
                ProxyError::Everyone("::ffff:0.0.0.0/96".into()),
            ),
            ("10.0.0.0/0", ProxyError::Everyone("10.0.0.0/0".into())),
            (
                "10.0.0.1/8",
                ProxyError::HostBits {
                    given: "10.0.0.1/8".into(),
                    network: "10.0.0.0/8".into(),
                },
            ),
        ] {
            assert_eq!(TrustedProxies::new([bad]).unwrap_err(), expected, "{bad}");
        }
        let message = TrustedProxies::new(["10.0.0.1/8"]).unwrap_err().to_string();
        assert!(message.contains("10.0.0.0/8"), "{message}");
    }

    #[test]
    fn ranges_match_by_prefix_and_mapped_ipv4_as_ipv4() {
        let proxies =
            TrustedProxies::new(["10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.0/120"]).unwrap();
        assert!(proxies.trusts(ip("10.255.0.1")));
        assert!(!proxies.trusts(ip("11.0.0.1")));
        assert!(
            proxies.trusts(ip("::ffff:10.1.2.3")),
            "a dual-stack socket's peer"
        );
        assert!(proxies.trusts(ip("2001:db8:ffff::1")));
        assert!(!proxies.trusts(ip("2001:db9::1")));
        assert!(proxies.trusts(ip("192.0.2.200")), "a range written mapped");
        assert!(!proxies.trusts(ip("192.0.3.1")));
        let half = TrustedProxies::new(["0.0.0.0/1"]).unwrap();
        assert!(half.trusts(ip("10.0.0.1")) && !half.trusts(ip("203.0.113.9")));
        assert!(
            !TrustedProxies::default().trusts(ip("127.0.0.1")),
            "none by default"
        );
    }

    #[test]
    fn x_forwarded_for_gives_the_right_most_untrusted_address() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let peer = ip("10.0.0.1");
        let client =
            |lines: &[&str]| proxies.client_address(peer, &headers("x-forwarded-for", lines));
        assert_eq!(client(&["203.0.113.9"]), ip("203.0.113.9"));
        // What the client wrote itself is left of the address the proxy saw.
        assert_eq!(client(&["1.1.1.1, 203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(
            client(&["1.1.1.1, 203.0.113.9, 10.0.0.5"]),
            ip("203.0.113.9"),
            "past an inner proxy"
        );
        assert_eq!(
            client(&["1.1.1.1", "203.0.113.9, 10.0.0.5"]),
            ip("203.0.113.9"),
            "lines are one list"
        );
        assert_eq!(client(&["203.0.113.9", "10.0.0.5"]), ip("203.0.113.9"));
        assert_eq!(
            client(&["203.0.113.9:4711"]),
            ip("203.0.113.9"),
            "with a port"
        );
        assert_eq!(client(&["2001:db8::9"]), ip("2001:db8::9"));
        assert_eq!(client(&["[2001:db8::9]:4711"]), ip("2001:db8::9"));
        assert_eq!(
            client(&["::ffff:203.0.113.9"]),
            ip("203.0.113.9"),
            "mapped, canonical"
        );
        assert_eq!(
            client(&["203.0.113.9,,  ,10.0.0.5"]),
            ip("203.0.113.9"),
            "empty elements"
        );
        // No believable address: the peer.
        for bad in [
            &["unknown"][..],
            &["UNKNOWN, 10.0.0.5"],
            &["203.0.113.9, garbage"],
            &["203.0.113.9, 203.0.113.9.1"],
            &["203.0.113.9, [2001:db8::9"],
            &["203.0.113.9, 2001:db8::9:4711:"],
            &["203.0.113.9, 203.0.113.8:99999"],
            &["_hidden"],
            &["224.0.0.1"],
            &["203.0.113.9, ff02::1"],
            &["0.0.0.0"],
            &["[::]:4711"],
            &["255.255.255.255"],
            &["::ffff:0.0.0.0"],
            &[""],
            &[],
        ] {
            assert_eq!(client(bad), peer, "{bad:?}");
        }
        // Trusted proxies only: the left-most, the farthest hop the header can be believed
        // about (the peer is only the nearest).
        assert_eq!(client(&["10.0.0.5, 10.0.0.6"]), ip("10.0.0.5"));
        assert_eq!(client(&["10.0.0.7", "10.0.0.5, 10.0.0.6"]), ip("10.0.0.7"));
        assert_eq!(
            client(&["unknown, 10.0.0.5"]),
            peer,
            "unless it is malformed"
        );
        // Garbage left of the client's address is never read.
        assert_eq!(
            client(&["garbage, unknown, 203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_header_counts_only_when_the_peer_is_a_trusted_proxy() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let spoofed = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(
            proxies.client_address(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
        assert_eq!(
            proxies.client_address(ip("::ffff:10.0.0.1"), &spoofed),
            ip("203.0.113.9"),
            "a trusted proxy seen through a dual-stack socket"
        );
        // The other header is the client's own: not read.
        let other = headers("forwarded", &["for=203.0.113.9"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &other),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_walk_is_bounded_on_a_huge_header() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let peer = ip("10.0.0.1");
        let mut chain = vec!["203.0.113.9"];
        chain.extend(std::iter::repeat_n("10.0.0.5", MAX_HOPS - 1));
        let within = headers("x-forwarded-for", &[&chain.join(",")]);
        assert_eq!(proxies.client_address(peer, &within), ip("203.0.113.9"));
        chain.insert(1, "10.0.0.5");
        let past = headers("x-forwarded-for", &[&chain.join(",")]);
        assert_eq!(
            proxies.client_address(peer, &past),
            peer,
            "past the bound: the peer"
        );
        // A long run of commas costs a bounded walk too.
        let commas = headers(
            "x-forwarded-for",
            &[&format!("203.0.113.9{}", ",".repeat(100_000))],
        );
        assert_eq!(proxies.client_address(peer, &commas), peer);
    }

    #[test]
    fn forwarded_reads_the_for_parameter_of_rfc_7239() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        let peer = ip("10.0.0.1");
        let client = |lines: &[&str]| proxies.client_address(peer, &headers("forwarded", lines));
        assert_eq!(client(&["for=203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(
            client(&["For=\"203.0.113.9\";proto=https;by=10.0.0.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(&["proto=https; for=203.0.113.9"]),
            ip("203.0.113.9"),
            "any position"
        );
        assert_eq!(
            client(&["for=\"[2001:db8:cafe::17]:4711\""]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client(&["for=\"[2001:db8:cafe::17]\""]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client(&["for=\"203.0.113.9:_port\""]),
            ip("203.0.113.9"),
            "an obfuscated port"
        );
        assert_eq!(
            client(&[
                "for=198.51.100.1, for=203.0.113.9;proto=http",
                "for=10.0.0.7"
            ]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(&["for=\"_gazonk\", for=203.0.113.9"]),
            ip("203.0.113.9")
        );
        for bad in [
            &["for=unknown"][..],
            &["for=\"_gazonk\""],
            &["for=_hidden"],
            &["proto=https"],
            &["for=203.0.113.9;for=198.51.100.1"],
            &["for=\"203.0.113.9"],
            &["for=\"2\\03.0.113.9\""],
            &["for"],
            &["f o r=203.0.113.9"],
            &["for=\"[2001:db8::1]:x\""],
        ] {
            assert_eq!(client(bad), peer, "{bad:?}");
        }
        // The other header is the client's own: not read.
        let xff = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(proxies.client_address(peer, &xff), peer);
    }
}
