//! Facts about one HTTP request that any plane may need, read from its head alone: where its
//! credentials are, whether it is a browser's page load, whether it comes from another site,
//! and how big its head is. No routes, no state.

pub mod credentials;
pub mod cross_site;

use http::{HeaderMap, HeaderName, Method};

/// The request headers a decision reads besides `Host` and the target: the credentials, the
/// page-load and cross-site facts, and the client's address and scheme from a trusted proxy.
/// An edge that sends its check only the headers it is told to (Envoy's `allowed_headers`)
/// is told these.
pub const READ_BY_THE_DECISION: [&str; 10] = [
    "authorization",
    "cookie",
    "x-api-key",
    "accept",
    "sec-fetch-mode",
    "sec-fetch-site",
    "origin",
    "x-requested-with",
    "x-forwarded-for",
    "x-forwarded-proto",
];

/// Headers by which frameworks let a request name another URL or method than its own
/// (Symfony, Zend and IIS rewrite modules read `X-Original-URL`/`X-Rewrite-URL`; Express's
/// method-override, Rails, Laravel and Spring read the method overrides). The gateway decided
/// on the request line, so no peer may send them, and the edge configs remove them too.
pub const OVERRIDES: [&str; 5] = [
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Who is logging in from where, for the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// A top-level page load by a browser — GET or HEAD that wants HTML and is not a script's
/// fetch — which should be sent to sign in rather than answered with 401 JSON.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    // Parsed names: a lookup by `&str` parses and lower-cases the name every time.
    const FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
    const REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
    let h = |k: HeaderName| headers.get(k).and_then(|v| v.to_str().ok());
    if let Some(mode) = h(FETCH_MODE) {
        return mode == "navigate";
    }
    h(REQUESTED_WITH).is_none() && h(http::header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// Bytes of the request head as sent: target plus each `name: value\r\n`.
pub fn head_size(target: &[u8], headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + target.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigations_are_top_level_html_loads() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            m
        };
        let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
        assert!(is_navigation(&Method::GET, &h(&html)));
        assert!(is_navigation(
            &Method::GET,
            &h(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("sec-fetch-mode", "cors"), html[0]])
        ));
        assert!(!is_navigation(&Method::POST, &h(&html)));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("accept", "application/json")])
        ));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("x-requested-with", "XMLHttpRequest"), html[0]])
        ));
    }
}
