//! What keeps the development server on the developer's machine: loopback checks.

pub(super) fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:3000/x",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "https://example.com",
            "http://localhost.example.com",
            "nonsense",
        ] {
            assert!(!is_loopback_url(bad), "{bad}");
        }
    }
}
