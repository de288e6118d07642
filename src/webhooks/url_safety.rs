//! Which webhook URLs Herald will call, and the one address it calls.
//!
//! A URL's host is resolved once; every address it resolves to must be
//! public (not loopback, private, link-local, unspecified, multicast,
//! shared or documentation space) unless `[webhooks] allow_private = true`.
//! The delivery then connects to that checked address itself, so a DNS
//! answer that changes between the check and the connection (DNS
//! rebinding) cannot point a delivery at an internal service. Redirects are
//! never followed: a 3xx counts as a failed attempt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::Uri;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the webhook URL is not a valid absolute URL")]
    Invalid,
    #[error("the webhook URL must use http:// (https:// delivery is not built yet)")]
    Scheme,
    #[error("the webhook URL must not carry credentials")]
    Credentials,
    #[error("the webhook host {0} did not resolve")]
    Unresolved(String),
    #[error(
        "the webhook host {host} resolves to {addr}, a loopback, private or link-local \
         address (allowed only with [webhooks] allow_private = true)"
    )]
    Private { host: String, addr: IpAddr },
}

/// A checked URL: where to connect, and what to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The pinned address the delivery connects to.
    pub addr: SocketAddr,
    /// The `Host` header (host, and port when not the default).
    pub authority: String,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

/// Checks the URL's form without resolving it (at `POST /v1/webhooks`,
/// before the resolution that also runs at each connection).
pub fn parse(url: &str) -> Result<(String, u16, String, String), UrlError> {
    let uri: Uri = url.parse().map_err(|_| UrlError::Invalid)?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => return Err(UrlError::Scheme),
        None => return Err(UrlError::Invalid),
    }
    let authority = uri.authority().ok_or(UrlError::Invalid)?;
    if authority.as_str().contains('@') {
        return Err(UrlError::Credentials);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(UrlError::Invalid);
    }
    let port = authority.port_u16().unwrap_or(80);
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    Ok((
        host.to_string(),
        port,
        authority.as_str().to_string(),
        path.to_string(),
    ))
}

/// Resolves the URL once and picks the address to pin, refusing private
/// addresses unless `allow_private`. Every resolved address must pass: a
/// name that answers one public and one private address is refused.
pub async fn resolve(url: &str, allow_private: bool) -> Result<Target, UrlError> {
    let (host, port, authority, path_and_query) = parse(url)?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| UrlError::Unresolved(host.clone()))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| UrlError::Unresolved(host.clone()))?;
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(UrlError::Private {
            host,
            addr: bad.ip(),
        });
    }
    Ok(Target {
        addr: first,
        authority,
        path_and_query,
    })
}

/// Whether an address is reachable on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (often internal).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32 documentation.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn parses_the_form() {
        assert_eq!(
            parse("http://example.com/hook?a=1").unwrap(),
            (
                "example.com".into(),
                80,
                "example.com".into(),
                "/hook?a=1".into()
            )
        );
        assert_eq!(parse("http://[::1]:8080").unwrap().0, "::1");
        assert_eq!(parse("http://[::1]:8080").unwrap().3, "/");
        assert_eq!(parse("ftp://example.com/").unwrap_err(), UrlError::Scheme);
        assert_eq!(parse("https://example.com/").unwrap_err(), UrlError::Scheme);
        assert_eq!(
            parse("http://u:p@example.com/").unwrap_err(),
            UrlError::Credentials
        );
        assert_eq!(parse("/relative").unwrap_err(), UrlError::Invalid);
    }

    #[tokio::test]
    async fn refuses_loopback_unless_allowed() {
        let refused = resolve("http://127.0.0.1:9/hook", false).await.unwrap_err();
        assert!(matches!(refused, UrlError::Private { .. }), "{refused:?}");
        let refused = resolve("http://localhost:9/hook", false).await.unwrap_err();
        assert!(matches!(refused, UrlError::Private { .. }), "{refused:?}");
        let target = resolve("http://127.0.0.1:9/hook", true).await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:9".parse().unwrap());
        assert_eq!(target.authority, "127.0.0.1:9");
        assert_eq!(target.path_and_query, "/hook");
    }
}
