//! The control plane: the terminated auth API as an axum `Router`, called in-process by the
//! proxy. Each route's path comes from config and may be renamed or disabled.

mod altogic;
pub mod avatar;
mod cookies;
pub mod csrf;
pub mod extract;
mod jwks;
mod links;
pub mod login;
mod logout;
pub mod magic;
mod me;
mod nuxt_session;
pub mod password;
mod profile;
pub mod recovery;
pub mod sessions;
pub mod signup;
mod users;
pub mod views;

pub use cookies::session as session_cookie;
pub use extract::normalize_email;
pub use links::escape_query;

use crate::error::Reject;
use crate::state::State;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, MethodRouter};
use axum::Router;
use std::sync::Arc;

pub fn router(state: Arc<State>) -> Router {
    let api = &state.config().api;
    let mut r: Router<Arc<State>> = Router::new();
    let mut add = |path: &Option<String>, m: MethodRouter<Arc<State>>| {
        if let Some(p) = path {
            r = std::mem::take(&mut r).route(p, m.fallback(|| async { Reject::MethodNotAllowed }));
        }
    };
    add(&api.login, post(login::login));
    add(
        &Some(crate::auth::assertion::JWKS_PATH.into()),
        get(jwks::get),
    );
    add(&api.logout, post(logout::logout));
    add(&api.logout_others, post(logout::logout_others));
    add(&api.logout_all, post(logout::logout_all));
    add(&api.renew_token, post(logout::renew_token));
    add(
        &api.profile,
        get(profile::get_profile).patch(profile::patch_profile),
    );
    if let Some(p) = &api.nuxt_users {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        add(
            &at("/session"),
            post(nuxt_session::login).delete(nuxt_session::logout),
        );
        add(&at(""), post(users::create).get(users::list));
        add(&at("/inactive"), get(users::inactive));
        add(&at("/me"), get(me::get).patch(me::update));
        add(&at("/password"), patch(password::change));
        add(&at("/password/forgot"), post(recovery::forgot));
        add(&at("/password/reset"), post(recovery::reset));
        add(&at("/register"), post(signup::register));
        add(&at("/confirm"), get(signup::confirm));
        add(
            &at("/{id}"),
            get(users::get).patch(users::update).delete(users::delete),
        );
    }
    if let Some(p) = &api.auth {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        add(&at("/sessions"), get(sessions::list));
        add(&at("/magic-link"), post(magic::request));
        add(
            &at("/avatar"),
            post(avatar::upload).layer(DefaultBodyLimit::max(
                state.config().body_limit(&format!("{p}/avatar")),
            )),
        );
        add(&at("/avatar/{file}"), get(avatar::serve));
        add(&at("/register"), post(altogic::register));
        add(&at("/verify-user"), get(altogic::verify_user));
        add(&at("/login"), post(altogic::login));
        add(&at("/logout"), get(altogic::logout).post(altogic::logout));
        add(
            &at("/sessions/{id}"),
            axum::routing::delete(sessions::revoke),
        );
    }
    if let Some(login) = &api.login_page {
        add(
            &Some(login.clone()),
            get(crate::pages::login::page).post(crate::pages::login::submit),
        );
    }
    if let Some(page) = &api.account_page {
        use crate::pages::account;
        let limit = state.config().body_limit(&format!("{page}/avatar"));
        add(
            &Some(page.clone()),
            get(account::page).post(account::rename),
        );
        add(
            &Some(format!("{page}/avatar")),
            post(account::avatar).layer(DefaultBodyLimit::max(limit)),
        );
        add(
            &Some(format!("{page}/sessions")),
            post(account::end_session),
        );
    }
    if !api.other_pages.is_empty() {
        use crate::pages::recover;
        add(
            &Some(recover::FORGOT_PATH.into()),
            get(recover::forgot).post(recover::forgot_submit),
        );
        let reset = state.config().mail.reset_path.clone();
        add(
            &Some(reset),
            get(recover::reset).post(recover::reset_submit),
        );
    }
    if state.config().signup_enabled && !api.other_pages.is_empty() {
        use crate::pages::signup;
        add(
            &Some(signup::SIGNUP_PATH.into()),
            get(signup::page).post(signup::submit),
        );
        add(
            &Some(signup::VERIFY_PATH.into()),
            get(signup::verify).post(signup::verify_submit),
        );
    }
    if let Some(page) = &api.magic_page {
        add(
            &Some(page.clone()),
            get(crate::pages::magic::page).post(crate::pages::magic::submit),
        );
    }
    add(&api.user_me, get(crate::oauth::tokens::me));
    if api.aegis {
        use crate::oauth::{callback, flow, tokens};
        let at = |p: &str| Some(p.to_string());
        add(&at("/auth/token"), post(tokens::exchange));
        add(&at("/auth/refresh"), post(tokens::refresh));
        add(&at("/auth/logout"), post(tokens::logout));
        add(&at("/auth/callback"), get(callback::page));
        add(&at("/auth/{provider}"), get(flow::provider));
    }
    if api.mock {
        use crate::oauth::mock;
        for base in ["/mock", "/auth/mock"] {
            let at = |p: &str| Some(format!("{base}{p}"));
            add(&at("/authorize"), get(mock::authorize));
            add(&at("/token"), post(mock::token));
            add(&at("/userinfo"), get(mock::userinfo));
        }
        add(
            &Some("/mock/.well-known/openid-configuration".into()),
            get(mock::discovery),
        );
        add(&Some("/mock/jwks".into()), get(mock::jwks));
    }
    r.route_layer(axum::middleware::from_fn(count_request))
        .fallback(|| async { Reject::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(DefaultBodyLimit::max(state.config().server.max_body_size))
        .layer(axum::middleware::from_fn(no_store))
        .with_state(state)
}

/// Auth answers carry tokens, user data and one-time links: no cache may keep them. A
/// handler that set its own policy (an avatar image) keeps it.
async fn no_store(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .entry(http::header::CACHE_CONTROL)
        .or_insert(http::HeaderValue::from_static("no-store"));
    resp
}

/// Counts each call of one of our endpoints by its route template (bounded: the router's own
/// routes, never the client's path) and outcome.
async fn count_request(
    path: axum::extract::MatchedPath,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let resp = next.run(req).await;
    crate::metrics::METRICS
        .api_requests
        .with_label_values(&[
            path.as_str(),
            crate::metrics::outcome(resp.status().as_u16()),
        ])
        .inc();
    resp
}
