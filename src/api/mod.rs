//! The control plane: the terminated auth API as an axum `Router`, called in-process by the
//! proxy. Each route's path comes from config and may be renamed or disabled.

mod altogic;
pub mod avatar;
mod cookies;
pub mod csrf;
pub mod email_change;
pub mod extract;
mod jwks;
mod links;
pub mod login;
mod logout;
pub mod magic;
mod me;
mod nuxt_session;
pub mod openapi;
pub mod password;
mod profile;
pub mod recovery;
mod schemas;
pub mod sessions;
pub mod signup;
mod users;
pub mod views;

pub use cookies::session as session_cookie;
pub use extract::normalize_email;

use crate::error::Reject;
use crate::state::State;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, MethodRouter};
use axum::Router;
use http::Method;
use std::sync::Arc;

pub fn router(state: Arc<State>) -> Router {
    routes(state).0
}

/// The OpenAPI document of what this config serves.
pub fn openapi(state: Arc<State>) -> utoipa::openapi::OpenApi {
    let cfg = state.config();
    routes(state.clone()).1.openapi(
        &cfg.server.public_url,
        &cfg.cookie.name,
        &cfg.oauth.refresh.cookie,
    )
}

/// The router and, declared beside each route, its operations for the OpenAPI document.
pub fn routes(state: Arc<State>) -> (Router, openapi::Doc) {
    use openapi::{Answer as A, Auth, Body as B, Op};
    use Method as M;
    let api = &state.config().api;
    let mut r: Router<Arc<State>> = Router::new();
    let mut doc = openapi::Doc::default();
    let mut add = |path: &Option<String>, m: MethodRouter<Arc<State>>, ops: &[Op]| {
        if let Some(p) = path {
            doc.record(p, ops);
            r = std::mem::take(&mut r).route(p, m.fallback(|| async { Reject::MethodNotAllowed }));
        }
    };
    let pv = "Pruvious";
    add(
        &api.login,
        post(login::login),
        &[Op::new(M::POST, pv, "Sign in: the token")
            .body(B::Json("Login"))
            .answer(A::Token)],
    );
    add(
        &Some(crate::config::JWKS_PATH.into()),
        get(jwks::get),
        &[Op::new(M::GET, "Gateway", "Keys that sign identity assertions").answer(A::JwkSet)],
    );
    let signed = |m: Method, summary| Op::new(m, pv, summary).auth(Auth::Session);
    add(
        &api.logout,
        post(logout::logout),
        &[signed(M::POST, "End this session").answer(A::Scalar)],
    );
    add(
        &api.logout_others,
        post(logout::logout_others),
        &[signed(M::POST, "End the other sessions: their number").answer(A::Scalar)],
    );
    add(
        &api.logout_all,
        post(logout::logout_all),
        &[signed(M::POST, "End every session: their number").answer(A::Scalar)],
    );
    add(
        &api.renew_token,
        post(logout::renew_token),
        &[signed(M::POST, "A new token for this session").answer(A::Token)],
    );
    add(
        &api.profile,
        get(profile::get_profile).patch(profile::patch_profile),
        &[
            signed(M::GET, "The signed-in user").answer(A::Json("User")),
            signed(M::PATCH, "Change name or password")
                .body(B::Json("ProfilePatch"))
                .answer(A::Json("User")),
        ],
    );
    if let Some(p) = &api.nuxt_users {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        let nu = "Nuxt Users";
        let user = A::Json("UserEnvelope");
        let signed = |m: Method, summary| Op::new(m, nu, summary).auth(Auth::Session);
        let msg = A::Json("Message");
        add(
            &at("/session"),
            post(nuxt_session::login).delete(nuxt_session::logout),
            &[
                Op::new(M::POST, nu, "Sign in with a session cookie")
                    .body(B::Json("CookieLogin"))
                    .answer(user),
                Op::new(M::DELETE, nu, "Sign out and clear the cookie").answer(msg),
            ],
        );
        add(
            &at(""),
            post(users::create).get(users::list),
            &[
                signed(M::POST, "Create a user (admin)")
                    .body(B::Json("NewUser"))
                    .answer(user),
                signed(M::GET, "List active users (admin)")
                    .query(&["page", "limit"])
                    .answer(A::Json("UserPage")),
            ],
        );
        add(
            &at("/inactive"),
            get(users::inactive),
            &[signed(M::GET, "List inactive users (admin)")
                .query(&["page", "limit"])
                .answer(A::Json("UserPage"))],
        );
        add(
            &at("/me"),
            get(me::get).patch(me::update),
            &[
                signed(M::GET, "The signed-in user").answer(user),
                signed(M::PATCH, "Change own name or email")
                    .body(B::Json("MePatch"))
                    .answer(user),
            ],
        );
        add(
            &at("/password"),
            patch(password::change),
            &[signed(M::PATCH, "Change own password")
                .body(B::Json("PasswordChange"))
                .answer(msg)],
        );
        add(
            &at("/password/forgot"),
            post(recovery::forgot),
            &[Op::new(M::POST, nu, "Mail a reset link")
                .body(B::Json("Email"))
                .answer(msg)],
        );
        add(
            &at("/password/reset"),
            post(recovery::reset),
            &[Op::new(M::POST, nu, "Set a new password with a reset link")
                .body(B::Json("Reset"))
                .answer(msg)],
        );
        add(
            &at("/register"),
            post(signup::register),
            &[Op::new(M::POST, nu, "Sign up (mail confirmation)")
                .body(B::Json("Register"))
                .answer(msg)],
        );
        add(
            &at("/confirm"),
            get(signup::confirm),
            &[Op::new(M::GET, nu, "Confirm an email address")
                .query(&["token"])
                .answer(msg)],
        );
        add(
            &at("/email/confirm"),
            get(email_change::confirm),
            &[
                Op::new(M::GET, nu, "Confirm a new email address (from PATCH /me)")
                    .query(&["token"])
                    .answer(user),
            ],
        );
        add(
            &at("/{id}"),
            get(users::get).patch(users::update).delete(users::delete),
            &[
                signed(M::GET, "One user (self or admin)").answer(user),
                signed(M::PATCH, "Change a user (admin)")
                    .body(B::Json("UserPatch"))
                    .answer(user),
                signed(M::DELETE, "Delete a user (admin)").answer(A::AnyJson),
            ],
        );
    }
    if let Some(p) = &api.auth {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        let al = "Altogic";
        let signed = |m: Method, summary| Op::new(m, al, summary).auth(Auth::Session);
        add(
            &at("/sessions"),
            get(sessions::list),
            &[signed(M::GET, "The user's sessions").answer(A::AnyJson)],
        );
        add(
            &at("/magic-link"),
            post(magic::request),
            &[Op::new(M::POST, al, "Mail a sign-in link")
                .body(B::Json("MagicRequest"))
                .answer(A::Json("Message"))],
        );
        add(
            &at("/avatar"),
            post(avatar::upload).layer(DefaultBodyLimit::max(
                state.config().body_limit(&format!("{p}/avatar")),
            )),
            &[signed(M::POST, "Upload an avatar")
                .body(B::Multipart)
                .answer(A::AnyJson)],
        );
        add(
            &at("/avatar/{file}"),
            get(avatar::serve),
            &[Op::new(M::GET, al, "An avatar image").answer(A::Image)],
        );
        add(
            &at("/register"),
            post(altogic::register),
            &[Op::new(M::POST, al, "Sign up")
                .body(B::Json("Register"))
                .answer(A::Json("SignedIn"))],
        );
        add(
            &at("/verify-user"),
            get(altogic::verify_user),
            &[Op::new(M::GET, al, "The emailed verification link")
                .query(&["access_token"])
                .answer(A::Json("SignedIn"))],
        );
        add(
            &at("/login"),
            post(altogic::login),
            &[Op::new(M::POST, al, "Sign in")
                .body(B::Json("Credentials"))
                .answer(A::Json("SignedIn"))],
        );
        add(
            &at("/logout"),
            get(altogic::logout).post(altogic::logout),
            &[
                Op::new(M::GET, al, "Sign out (from this site)").answer(A::Redirect),
                Op::new(M::POST, al, "Sign out").answer(A::Redirect),
            ],
        );
        add(
            &at("/sessions/{id}"),
            axum::routing::delete(sessions::revoke),
            &[signed(M::DELETE, "End one of the user's sessions").answer(A::AnyJson)],
        );
    }
    let page = |m: Method, summary| {
        let get = m == M::GET;
        let op = Op::new(m, "Pages", summary);
        if get {
            op.answer(A::Html).query(&["returnTo"])
        } else {
            op.body(B::Form).answer(A::Redirect)
        }
    };
    if let Some(login) = &api.login_page {
        add(
            &Some(login.clone()),
            get(crate::pages::login::page).post(crate::pages::login::submit),
            &[page(M::GET, "Sign-in page"), page(M::POST, "Sign in")],
        );
    }
    if let Some(p) = &api.account_page {
        use crate::pages::account;
        let limit = state.config().body_limit(&format!("{p}/avatar"));
        add(
            &Some(p.clone()),
            get(account::page).post(account::rename),
            &[page(M::GET, "Account page"), page(M::POST, "Rename")],
        );
        add(
            &Some(format!("{p}/avatar")),
            post(account::avatar).layer(DefaultBodyLimit::max(limit)),
            &[page(M::POST, "Upload an avatar").body(B::Multipart)],
        );
        add(
            &Some(format!("{p}/sessions")),
            post(account::end_session),
            &[page(M::POST, "End a session")],
        );
    }
    if !api.other_pages.is_empty() {
        use crate::pages::recover;
        add(
            &Some(recover::FORGOT_PATH.into()),
            get(recover::forgot).post(recover::forgot_submit),
            &[
                page(M::GET, "Forgot-password page"),
                page(M::POST, "Mail a reset link"),
            ],
        );
        let reset = state.config().mail.reset_path.clone();
        add(
            &Some(reset),
            get(recover::reset).post(recover::reset_submit),
            &[
                page(M::GET, "Reset-password page").query(&["token", "email"]),
                page(M::POST, "Set a new password"),
            ],
        );
    }
    if state.config().signup_enabled && !api.other_pages.is_empty() {
        use crate::pages::signup;
        add(
            &Some(signup::SIGNUP_PATH.into()),
            get(signup::page).post(signup::submit),
            &[page(M::GET, "Sign-up page"), page(M::POST, "Sign up")],
        );
        add(
            &Some(signup::VERIFY_PATH.into()),
            get(signup::verify).post(signup::verify_submit),
            &[
                page(M::GET, "Confirm-email page").query(&["token", "returnTo"]),
                page(M::POST, "Confirm an email"),
            ],
        );
    }
    if let Some(p) = &api.magic_page {
        add(
            &Some(p.clone()),
            get(crate::pages::magic::page).post(crate::pages::magic::submit),
            &[
                page(M::GET, "Magic-link page").query(&["token", "returnTo"]),
                page(M::POST, "Ask for or use a magic link"),
            ],
        );
    }
    let ae = "Nuxt Aegis";
    add(
        &api.user_me,
        get(crate::oauth::tokens::me),
        &[Op::new(M::GET, ae, "The signed-in user's claims").auth(Auth::Session)],
    );
    if api.aegis {
        use crate::oauth::{callback, flow, tokens};
        let at = |p: &str| Some(p.to_string());
        add(
            &at("/auth/token"),
            post(tokens::exchange),
            &[Op::new(M::POST, ae, "Exchange a one-use code for tokens")
                .body(B::Json("Code"))
                .answer(A::Json("TokenPair"))],
        );
        add(
            &at("/auth/refresh"),
            post(tokens::refresh),
            &[Op::new(M::POST, ae, "A new access token")
                .auth(Auth::Refresh)
                .answer(A::Json("TokenPair"))],
        );
        add(
            &at("/auth/logout"),
            post(tokens::logout),
            &[Op::new(M::POST, ae, "Sign out").auth(Auth::Refresh)],
        );
        add(
            &at("/auth/callback"),
            get(callback::page),
            &[Op::new(M::GET, ae, "Callback page")
                .query(&["code", "redirectTo"])
                .answer(A::Html)],
        );
        add(
            &at("/auth/{provider}"),
            get(flow::provider),
            &[
                Op::new(M::GET, ae, "Start or finish sign-in with a provider")
                    .query(&["redirectTo", "code", "state", "error"])
                    .answer(A::Redirect),
            ],
        );
    }
    if api.mock {
        use crate::oauth::mock;
        let mk = "Mock provider";
        for base in ["/mock", "/auth/mock"] {
            let at = |p: &str| Some(format!("{base}{p}"));
            add(
                &at("/authorize"),
                get(mock::authorize),
                &[Op::new(M::GET, mk, "Authorize").answer(A::Html).query(&[
                    "client_id",
                    "redirect_uri",
                    "state",
                    "nonce",
                    "code_challenge",
                    "code_challenge_method",
                    "persona",
                ])],
            );
            add(
                &at("/token"),
                post(mock::token),
                &[Op::new(M::POST, mk, "Token endpoint").body(B::Form)],
            );
            add(
                &at("/userinfo"),
                get(mock::userinfo),
                &[Op::new(M::GET, mk, "Userinfo")],
            );
        }
        add(
            &Some("/mock/.well-known/openid-configuration".into()),
            get(mock::discovery),
            &[Op::new(M::GET, mk, "Discovery")],
        );
        add(
            &Some("/mock/jwks".into()),
            get(mock::jwks),
            &[Op::new(M::GET, mk, "Keys").answer(A::JwkSet)],
        );
    }
    let r = r
        .route_layer(axum::middleware::from_fn(count_request))
        .fallback(|| async { Reject::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(DefaultBodyLimit::max(state.config().server.max_body_size))
        .layer(axum::middleware::from_fn(no_store))
        .with_state(state);
    (r, doc)
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
