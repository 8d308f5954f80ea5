//! The client's address: the socket peer, or — only when that peer is a trusted proxy — the
//! nearest untrusted hop in `X-Forwarded-For`.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

const XFF: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");

pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    // Walk right to left: each trusted hop vouches for the one before it.
    let hops: Vec<IpAddr> = headers
        .get_all(XFF)
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

/// Headers by which a proxy in front speaks for the client. Only a trusted peer may send them.
const FORWARDING: [&str; 9] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-real-ip",
];

/// Whether a (lower-case) header name is `canonical` with any `-` written as `_`.
fn dashed_eq(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len()
        && name
            .bytes()
            .zip(canonical.bytes())
            .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
}

/// Removes, in every spelling (any case, `_` for `-`), the URL and method overrides from
/// every peer, and the forwarding headers from a peer that is not a trusted proxy. A trusted
/// proxy's forwarding headers are kept in their proper spelling only.
pub fn strip_untrusted(req: &mut pingora::http::RequestHeader, peer_trusted: bool) {
    super::headers::remove_where(req, |name| {
        crate::request::OVERRIDES.iter().any(|o| dashed_eq(name, o))
            || FORWARDING
                .iter()
                .any(|f| dashed_eq(name, f) && (!peer_trusted || name != *f))
    });
}

/// Whether the socket peer is one of `server.trusted_proxies`.
pub fn peer_trusted(peer: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    peer.is_some_and(|p| trusted.iter().any(|n| n.contains(&p)))
}

/// What the upstream is told of the client: a trusted peer's `X-Forwarded-For` chain gets the
/// peer appended; from anyone else every forwarding header is dropped and `X-Forwarded-For`
/// is the socket peer alone, so an app reading its first entry cannot be fooled.
pub fn forwarding_headers(
    req: &mut pingora::http::RequestHeader,
    peer: Option<IpAddr>,
    trusted: &[IpNet],
) -> pingora::Result<()> {
    let Some(peer) = peer else { return Ok(()) };
    let text = crate::ipfmt::IpText::new(peer);
    let value = if peer_trusted(Some(peer), trusted) {
        let chain: Vec<&str> = req
            .headers
            .get_all(XFF)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if chain.is_empty() {
            http::HeaderValue::from_str(text.as_str())
        } else {
            http::HeaderValue::from_str(&format!("{}, {}", chain.join(", "), text.as_str()))
        }
    } else {
        // Already gone since `strip_untrusted`; kept here so this stays right on its own.
        super::headers::remove_where(req, |name| FORWARDING.contains(&name));
        http::HeaderValue::from_str(text.as_str())
    };
    // An address's text and a header chain that was valid stay valid.
    let value = value.map_err(|_| {
        pingora::Error::explain(pingora::ErrorType::InternalError, "bad X-Forwarded-For")
    })?;
    req.insert_header(XFF, value)?;
    Ok(())
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
    fn untrusted_peers_forwarding_headers_are_replaced() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let req = || {
            let mut r = pingora::http::RequestHeader::build("GET", b"/", None).unwrap();
            r.append_header("X-Forwarded-For", "9.9.9.9").unwrap();
            r.append_header("x-forwarded-for", "8.8.8.8").unwrap();
            r.append_header("Forwarded", "for=9.9.9.9").unwrap();
            r.append_header("X-Real-IP", "9.9.9.9").unwrap();
            r.append_header("X-Forwarded-Host", "evil.test").unwrap();
            r
        };
        let mut r = req();
        forwarding_headers(&mut r, ip("1.2.3.4"), &trusted).unwrap();
        assert_eq!(r.headers.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(r.headers["x-forwarded-for"], "1.2.3.4");
        for h in ["forwarded", "x-real-ip", "x-forwarded-host"] {
            assert!(r.headers.get(h).is_none(), "{h}");
        }
        let mut r = req();
        forwarding_headers(&mut r, ip("10.0.0.1"), &trusted).unwrap();
        assert_eq!(r.headers["x-forwarded-for"], "9.9.9.9, 8.8.8.8, 10.0.0.1");
        assert_eq!(r.headers["x-forwarded-host"], "evil.test");
    }

    #[test]
    fn overrides_go_in_every_spelling_forwarding_from_untrusted_peers() {
        let req = || {
            let mut r = pingora::http::RequestHeader::build("GET", b"/", None).unwrap();
            for (k, v) in [
                ("X-Original-URL", "/admin"),
                ("x_rewrite_url", "/admin"),
                ("X-HTTP-Method-Override", "DELETE"),
                ("X_HTTP_METHOD", "DELETE"),
                ("x-method-override", "DELETE"),
                ("X-Forwarded-Prefix", "/admin"),
                ("X-Forwarded-Uri", "/admin"),
                ("x_forwarded_path", "/admin"),
                ("X-Forwarded-Proto", "https"),
                ("X_Forwarded_For", "1.1.1.1"),
                ("X-Other", "keep"),
            ] {
                r.append_header(k, v).unwrap();
            }
            r
        };
        let mut r = req();
        strip_untrusted(&mut r, false);
        let left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-other"]);
        let mut r = req();
        strip_untrusted(&mut r, true);
        let mut left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(
            left,
            [
                "x-forwarded-prefix",
                "x-forwarded-proto",
                "x-forwarded-uri",
                "x-other"
            ]
        );
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
