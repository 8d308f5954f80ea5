//! The gateway's own HTML pages, rendered on the server from `templates/pages/` with the theme
//! from config. Every page carries the same security headers; every form a CSRF token.

pub mod account;
pub mod activity;
pub mod login;
pub mod magic;
pub mod mfa;
pub mod recover;
pub mod signup;

use crate::control::Mount;
use crate::state::State;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use http::Method;

// The shared page machinery (render, CSRF, the caller, the way to sign in) lives in
// `control::web::page`, for every family with pages.
pub use crate::control::web::page::*;

/// The sign-in, account, recovery, sign-up and magic-link pages, at their configured paths.
pub fn mount(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Body as B, Op};
    use axum::routing::get;
    use http::Method as M;
    let api = &state.config().api;
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
        m.add(
            &Some(login.clone()),
            get(login::page).post(login::submit),
            &[page(M::GET, "Sign-in page"), page(M::POST, "Sign in")],
        );
    }
    if let Some(p) = state.config().pages.mfa_path() {
        m.add(
            &Some(p.clone()),
            get(mfa::page).post(mfa::submit),
            &[
                page(M::GET, "Second-step page (step up)"),
                page(M::POST, "Verify a code or recovery code"),
            ],
        );
        m.add(
            &Some(format!("{p}/enroll")),
            post(mfa::enroll),
            &[page(M::POST, "Turn on an authenticator app during sign-in")],
        );
    }
    if let Some(p) = &api.account_page {
        use self::account;
        let limit = state.config().body_limit(&format!("{p}/avatar"));
        m.add(
            &Some(p.clone()),
            get(account::page).post(account::rename),
            &[page(M::GET, "Account page"), page(M::POST, "Rename")],
        );
        m.add(
            &Some(format!("{p}/avatar")),
            post(account::avatar).layer(DefaultBodyLimit::max(limit)),
            &[page(M::POST, "Upload an avatar").body(B::Multipart)],
        );
        m.add(
            &Some(format!("{p}/sessions")),
            post(account::end_session),
            &[page(M::POST, "End a session")],
        );
        for (suffix, handler, summary) in [
            (
                "/mfa/totp",
                post(account::totp_setup),
                "Set up an authenticator app",
            ),
            (
                "/mfa/totp/enable",
                post(account::totp_enable),
                "Turn the authenticator app on",
            ),
            (
                "/mfa/totp/disable",
                post(account::totp_disable),
                "Turn the authenticator app off",
            ),
            (
                "/mfa/recovery-codes",
                post(account::recovery_codes),
                "New recovery codes",
            ),
            (
                "/passkeys/delete",
                post(account::passkey_remove),
                "Remove a passkey",
            ),
            ("/api-keys", post(account::key_create), "Create an API key"),
            (
                "/api-keys/revoke",
                post(account::key_revoke),
                "Revoke an API key",
            ),
            (
                "/apps/revoke",
                post(account::app_revoke),
                "Revoke an app's access",
            ),
        ] {
            m.add(
                &Some(format!("{p}{suffix}")),
                handler,
                &[page(M::POST, summary)],
            );
        }
    }
    if !api.other_pages.is_empty() {
        use self::recover;
        m.add(
            &Some(recover::FORGOT_PATH.into()),
            get(recover::forgot).post(recover::forgot_submit),
            &[
                page(M::GET, "Forgot-password page"),
                page(M::POST, "Mail a reset link"),
            ],
        );
        let reset = state.config().mail.reset_path.clone();
        m.add(
            &Some(reset),
            get(recover::reset).post(recover::reset_submit),
            &[
                page(M::GET, "Reset-password page").query(&["token", "email"]),
                page(M::POST, "Set a new password"),
            ],
        );
    }
    if state.config().signup_enabled && !api.other_pages.is_empty() {
        use self::signup;
        m.add(
            &Some(signup::SIGNUP_PATH.into()),
            get(signup::page).post(signup::submit),
            &[page(M::GET, "Sign-up page"), page(M::POST, "Sign up")],
        );
        m.add(
            &Some(signup::VERIFY_PATH.into()),
            get(signup::verify).post(signup::verify_submit),
            &[
                page(M::GET, "Confirm-email page").query(&["token", "returnTo"]),
                page(M::POST, "Confirm an email"),
            ],
        );
    }
    if let Some(p) = &api.magic_page {
        m.add(
            &Some(p.clone()),
            get(magic::page).post(magic::submit),
            &[
                page(M::GET, "Magic-link page").query(&["token", "returnTo"]),
                page(M::POST, "Ask for or use a magic link"),
            ],
        );
    }
}
