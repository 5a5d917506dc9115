//! Which reverse proxies may tell us the client's address (`AUTH_TRUSTED_PROXIES`), and
//! the client address of a request. RFC 9700 §4.13: a client must not be able to forge
//! the headers a TLS-terminating proxy adds, so `X-Forwarded-For` counts only when the
//! TCP peer is a configured proxy; otherwise the peer itself is the client. The address
//! keys the per-IP rate limiter and the audit log.

use ipnet::IpNet;
use std::net::IpAddr;

/// A list of CIDR ranges; empty (the default) trusts no proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parse a comma-separated list of CIDRs or single addresses
    /// (`10.0.0.0/8, 192.168.1.7, ::1`).
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("\"{item}\" is not an IP address or CIDR range"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `ip` is one of the trusted proxies (IPv4-mapped IPv6 peers count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` carrying the `X-Forwarded-For`
    /// values `forwarded_for` (all header lines, in order). From a trusted peer the
    /// chain is read right to left, skipping trusted proxies; the first other address
    /// is the client. A malformed entry stops the walk at the last address we trust to
    /// have seen it, so garbage cannot pick the key.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn x7_forwarded_for_is_ignored_from_an_untrusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
        let some = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            some.client_ip(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_chain_is_read_from_the_right() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7").unwrap();
        // The client prepended a forged hop; the first proxy appended the real client.
        let h = ["6.6.6.6, 198.51.100.20", "10.1.1.1"];
        assert_eq!(t.client_ip(ip("192.168.1.7"), h), ip("198.51.100.20"));
        // No header: the proxy itself.
        assert_eq!(t.client_ip(ip("10.0.0.5"), []), ip("10.0.0.5"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(t.client_ip(ip("10.0.0.5"), ["nonsense"]), ip("10.0.0.5"));
        // IPv4-mapped IPv6 peers match IPv4 ranges.
        assert_eq!(
            t.client_ip(ip("::ffff:10.0.0.5"), ["198.51.100.1"]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn bad_ranges_are_refused_with_the_offending_item() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("::1, 127.0.0.1/32").is_ok());
        assert!(
            TrustedProxies::parse("10.0.0.0/33")
                .unwrap_err()
                .contains("10.0.0.0/33")
        );
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
