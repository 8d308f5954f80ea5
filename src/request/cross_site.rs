//! Whether a request comes from another site, as the browser says (`Sec-Fetch-Site`, then
//! `Origin`), and whether it would be authenticated by the session cookie. A state-changing
//! request that is both is refused on the data and the control plane alike. Requests with a
//! Bearer token, or from non-browser clients that send neither header, are not affected.

use super::credentials::{self, Credentials};
use http::{header, HeaderMap, Method};

/// A state-changing request authenticated by the session cookie that the browser says comes
/// from another site: the data plane refuses it like the control plane does, so an app behind
/// the gateway cannot be driven by another site's form.
pub fn refused_cross_site(
    method: &Method,
    h: &HeaderMap,
    cookie: &str,
    public_origin: &str,
) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && uses_cookie(h, cookie)
        && cross_site(h, public_origin)
}

/// The session cookie is present and no Bearer token takes precedence over it.
pub fn uses_cookie(h: &HeaderMap, name: &str) -> bool {
    !h.contains_key(header::AUTHORIZATION)
        && matches!(credentials::extract(h, name), Credentials::Token(_))
}

/// The refresh cookie authenticates `/auth/refresh` and `/auth/logout` by itself.
pub fn carries_cookie(h: &HeaderMap, name: &str) -> bool {
    credentials::cookie(h, name).is_some()
}

/// What the browser says about where the request comes from.
pub fn cross_site(h: &HeaderMap, public_origin: &str) -> bool {
    match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") => return false,
        Some("cross-site") => return true,
        _ => {}
    }
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => !origin.eq_ignore_ascii_case(public_origin),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn origin_and_fetch_metadata() {
        let me = "https://id.example.com";
        assert!(!cross_site(&h(&[]), me));
        assert!(!cross_site(&h(&[("origin", "https://id.example.com")]), me));
        assert!(cross_site(&h(&[("origin", "https://evil.example")]), me));
        assert!(cross_site(&h(&[("origin", "null")]), me));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")]), me));
        assert!(!cross_site(
            &h(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://id.example.com")
            ]),
            me
        ));
        assert!(cross_site(
            &h(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://app.example.com")
            ]),
            me
        ));
    }
}
