//! The client's address: the socket peer, or — only when that peer is a trusted proxy — the
//! nearest untrusted hop in `X-Forwarded-For`.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    // Walk right to left: each trusted hop vouches for the one before it.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut candidate = peer;
    for hop in hops.iter().rev() {
        candidate = *hop;
        if !is_trusted(hop) {
            break;
        }
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_peers_may_forward() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip(Some(ip("1.2.3.4")), &xff("9.9.9.9"), &trusted),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &xff("9.9.9.9, 5.5.5.5"), &trusted),
            Some(ip("5.5.5.5"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &xff("5.5.5.5, 10.0.0.2"), &trusted),
            Some(ip("5.5.5.5"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}
