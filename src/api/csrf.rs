//! Cross-site request refusal for the control plane. A browser sends the session cookie with
//! cross-site requests; a state-changing request that would be authenticated by it (or that
//! logs in with it) must come from our own origin. Requests with a Bearer token, or from
//! non-browser clients that send neither `Origin` nor `Sec-Fetch-Site`, are not affected.

use crate::error::Reject;
use crate::state::State;
use axum::extract::{Request, State as S};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, Method};
use std::sync::Arc;

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

pub async fn guard(S(state): S<Arc<State>>, req: Request, next: Next) -> Response {
    let cfg = &state.config();
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cookie_login = cfg
        .api
        .nuxt_users
        .as_deref()
        .is_some_and(|p| req.uri().path().strip_prefix(p) == Some("/session"));
    if state_changing
        && (cookie_login
            || cfg.api.login_page.as_deref() == Some(req.uri().path())
            || cfg.api.magic_page.as_deref() == Some(req.uri().path())
            || cfg.api.other_pages.iter().any(|p| p == req.uri().path())
            || uses_cookie(req.headers(), &cfg.cookie.name)
            || carries_cookie(req.headers(), &cfg.oauth.refresh.cookie))
        && cross_site(req.headers(), &cfg.server.public_origin)
    {
        return Reject::Forbidden("Cross-site request refused").into_response();
    }
    next.run(req).await
}

/// The session cookie is present and no Bearer token takes precedence over it.
pub fn uses_cookie(h: &HeaderMap, name: &str) -> bool {
    !h.contains_key(header::AUTHORIZATION)
        && matches!(
            crate::auth::credentials::extract(h, name),
            crate::auth::Credentials::Token(_)
        )
}

/// The refresh cookie authenticates `/auth/refresh` and `/auth/logout` by itself.
fn carries_cookie(h: &HeaderMap, name: &str) -> bool {
    crate::auth::credentials::cookie(h, name).is_some()
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
