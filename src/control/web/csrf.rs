//! Cross-site request refusal for the control plane. A browser sends the session cookie with
//! cross-site requests; a state-changing request that would be authenticated by it (or that
//! logs in with it) must come from our own origin. Requests with a Bearer token, or from
//! non-browser clients that send neither `Origin` nor `Sec-Fetch-Site`, are not affected.

use crate::error::Reject;
use crate::request::cross_site::{carries_cookie, cross_site, uses_cookie};
use crate::state::State;
use axum::extract::{Request, State as S};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use std::sync::Arc;

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
