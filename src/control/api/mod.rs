//! The JSON auth APIs of the seed contracts, one family per file group: the Pruvious API
//! (`/api/login`, …), the Nuxt Users API (`/api/nuxt-users/…`) and the Altogic tutorial's
//! routes (`/api/auth/…`). Each family mounts its own routes, at the paths the config gives.

pub mod altogic;
pub mod api_keys;
pub mod audit;
pub mod avatar;
pub mod email_change;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod magic;
pub mod me;
pub mod mfa;
pub mod nuxt_session;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod sessions;
pub mod signed_in;
pub mod signup;
pub mod users;
pub mod webauthn;

use super::Mount;
use crate::state::State;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use http::Method;

/// The Pruvious API: login, logout (this, others, all), renew, profile.
pub fn pruvious(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use http::Method as M;
    let api = &state.config().api;
    let pv = "Pruvious";
    m.add(
        &api.login,
        post(login::login),
        &[Op::new(M::POST, pv, "Sign in: the token")
            .body(B::Json("Login"))
            .answer(A::Token)],
    );
    let signed = |m: Method, summary| Op::new(m, pv, summary).auth(Auth::Session);
    m.add(
        &api.logout,
        post(logout::logout),
        &[signed(M::POST, "End this session").answer(A::Scalar)],
    );
    m.add(
        &api.logout_others,
        post(logout::logout_others),
        &[signed(M::POST, "End the other sessions: their number").answer(A::Scalar)],
    );
    m.add(
        &api.logout_all,
        post(logout::logout_all),
        &[signed(M::POST, "End every session: their number").answer(A::Scalar)],
    );
    m.add(
        &api.renew_token,
        post(logout::renew_token),
        &[signed(M::POST, "A new token for this session").answer(A::Token)],
    );
    m.add(
        &api.profile,
        get(profile::get_profile).patch(profile::patch_profile),
        &[
            signed(M::GET, "The signed-in user").answer(A::Json("User")),
            signed(M::PATCH, "Change name or password")
                .body(B::Json("ProfilePatch"))
                .answer(A::Json("User")),
        ],
    );
}

/// The Nuxt Users API under its prefix.
pub fn nuxt_users(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use http::Method as M;
    let api = &state.config().api;
    if let Some(p) = &api.nuxt_users {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        let nu = "Nuxt Users";
        let user = A::Json("UserEnvelope");
        let signed = |m: Method, summary| Op::new(m, nu, summary).auth(Auth::Session);
        let msg = A::Json("Message");
        m.add(
            &at("/session"),
            post(nuxt_session::login).delete(nuxt_session::logout),
            &[
                Op::new(M::POST, nu, "Sign in with a session cookie")
                    .body(B::Json("CookieLogin"))
                    .answer(user),
                Op::new(M::DELETE, nu, "Sign out and clear the cookie").answer(msg),
            ],
        );
        m.add(
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
        m.add(
            &at("/inactive"),
            get(users::inactive),
            &[signed(M::GET, "List inactive users (admin)")
                .query(&["page", "limit"])
                .answer(A::Json("UserPage"))],
        );
        m.add(
            &at("/me"),
            get(me::get).patch(me::update),
            &[
                signed(M::GET, "The signed-in user").answer(user),
                signed(M::PATCH, "Change own name or email")
                    .body(B::Json("MePatch"))
                    .answer(user),
            ],
        );
        m.add(
            &at("/password"),
            patch(password::change),
            &[signed(M::PATCH, "Change own password")
                .body(B::Json("PasswordChange"))
                .answer(msg)],
        );
        m.add(
            &at("/password/forgot"),
            post(recovery::forgot),
            &[Op::new(M::POST, nu, "Mail a reset link")
                .body(B::Json("Email"))
                .answer(msg)],
        );
        m.add(
            &at("/password/reset"),
            post(recovery::reset),
            &[Op::new(M::POST, nu, "Set a new password with a reset link")
                .body(B::Json("Reset"))
                .answer(msg)],
        );
        m.add(
            &at("/register"),
            post(signup::register),
            &[Op::new(M::POST, nu, "Sign up (mail confirmation)")
                .body(B::Json("Register"))
                .answer(msg)],
        );
        m.add(
            &at("/confirm"),
            get(signup::confirm),
            &[Op::new(M::GET, nu, "Confirm an email address")
                .query(&["token"])
                .answer(msg)],
        );
        m.add(
            &at("/email/confirm"),
            get(email_change::confirm),
            &[
                Op::new(M::GET, nu, "Confirm a new email address (from PATCH /me)")
                    .query(&["token"])
                    .answer(user),
            ],
        );
        m.add(
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
}

/// Second factors and passkeys, under the `/api/auth` prefix.
pub fn mfa(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use axum::routing::delete;
    use http::Method as M;
    let api = &state.config().api;
    let Some(p) = &api.auth else {
        return;
    };
    let at = |suffix: &str| Some(format!("{p}{suffix}"));
    let t = "Second factors";
    let signed = |m: Method, summary| Op::new(m, t, summary).auth(Auth::Session);
    let open = |m: Method, summary| Op::new(m, t, summary);
    let json = |op: Op, body: &'static str| op.body(B::Json(body)).answer(A::AnyJson);
    m.add(
        &at("/mfa"),
        get(mfa::status),
        &[signed(M::GET, "The user's second factors").answer(A::AnyJson)],
    );
    m.add(
        &at("/mfa/totp/setup"),
        post(mfa::totp_setup),
        &[json(
            signed(M::POST, "A new TOTP secret (not active until enabled)"),
            "MfaTokenOpt",
        )],
    );
    m.add(
        &at("/mfa/totp/enable"),
        post(mfa::totp_enable),
        &[json(
            signed(M::POST, "Turn TOTP on with a first code: recovery codes"),
            "MfaCode",
        )],
    );
    m.add(
        &at("/mfa/totp/disable"),
        post(mfa::totp_disable),
        &[json(signed(M::POST, "Turn TOTP off"), "MfaCode")],
    );
    m.add(
        &at("/mfa/recovery-codes"),
        post(mfa::recovery_codes),
        &[json(
            signed(M::POST, "A new set of recovery codes"),
            "MfaCode",
        )],
    );
    m.add(
        &at("/mfa/verify"),
        post(mfa::verify),
        &[json(
            open(M::POST, "The second step of a sign-in, or a step-up"),
            "MfaVerify",
        )],
    );
    m.add(
        &at("/mfa/webauthn/start"),
        post(mfa::webauthn_start),
        &[json(
            open(M::POST, "Start a passkey second step"),
            "MfaTokenOpt",
        )],
    );
    m.add(
        &at("/webauthn/register/start"),
        post(webauthn::register_start),
        &[json(
            signed(M::POST, "Start registering a passkey"),
            "PasskeyName",
        )],
    );
    m.add(
        &at("/webauthn/register/finish"),
        post(webauthn::register_finish),
        &[json(
            signed(M::POST, "Finish registering a passkey"),
            "AnyObject",
        )],
    );
    m.add(
        &at("/webauthn/login/start"),
        post(webauthn::login_start),
        &[json(open(M::POST, "Start a passkey sign-in"), "AnyObject")],
    );
    m.add(
        &at("/webauthn/login/finish"),
        post(webauthn::login_finish),
        &[json(
            open(M::POST, "Finish a passkey sign-in"),
            "PasskeyLogin",
        )],
    );
    m.add(
        &at("/webauthn/{id}"),
        delete(webauthn::remove),
        &[signed(M::DELETE, "Remove a passkey").answer(A::AnyJson)],
    );
}

/// API keys, under the `/api/auth` prefix.
pub fn keys(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use axum::routing::delete;
    use http::Method as M;
    let Some(p) = &state.config().api.auth else {
        return;
    };
    let t = "API keys";
    let signed = |m: Method, summary| Op::new(m, t, summary).auth(Auth::Session);
    m.add(
        &Some(format!("{p}/api-keys")),
        post(api_keys::create).get(api_keys::list),
        &[
            signed(M::POST, "Create a key (shown once)")
                .body(B::Json("NewApiKey"))
                .answer(A::AnyJson),
            signed(M::GET, "The caller's keys").answer(A::AnyJson),
        ],
    );
    m.add(
        &Some(format!("{p}/api-keys/{{id}}")),
        delete(api_keys::revoke),
        &[signed(M::DELETE, "Revoke a key").answer(A::AnyJson)],
    );
    let a = "Audit trail";
    let query = &[
        "type", "actor", "target", "ip", "since", "until", "cursor", "limit",
    ];
    m.add(
        &Some(format!("{p}/audit")),
        get(audit::list),
        &[Op::new(M::GET, a, "Security events, newest first (admins)")
            .auth(Auth::Session)
            .query(query)
            .answer(A::AnyJson)],
    );
    m.add(
        &Some(format!("{p}/audit/me")),
        get(audit::me),
        &[Op::new(M::GET, a, "The caller's own security events")
            .auth(Auth::Session)
            .query(&["cursor", "limit"])
            .answer(A::AnyJson)],
    );
}

/// The Altogic tutorial's routes under their prefix.
pub fn altogic(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use http::Method as M;
    let api = &state.config().api;
    if let Some(p) = &api.auth {
        let at = |suffix: &str| Some(format!("{p}{suffix}"));
        let al = "Altogic";
        let signed = |m: Method, summary| Op::new(m, al, summary).auth(Auth::Session);
        m.add(
            &at("/sessions"),
            get(sessions::list),
            &[signed(M::GET, "The user's sessions").answer(A::AnyJson)],
        );
        m.add(
            &at("/magic-link"),
            post(magic::request),
            &[Op::new(M::POST, al, "Mail a sign-in link")
                .body(B::Json("MagicRequest"))
                .answer(A::Json("Message"))],
        );
        m.add(
            &at("/avatar"),
            post(avatar::upload).layer(DefaultBodyLimit::max(
                state.config().body_limit(&format!("{p}/avatar")),
            )),
            &[signed(M::POST, "Upload an avatar")
                .body(B::Multipart)
                .answer(A::AnyJson)],
        );
        m.add(
            &at("/avatar/{file}"),
            get(avatar::serve),
            &[Op::new(M::GET, al, "An avatar image").answer(A::Image)],
        );
        m.add(
            &at("/register"),
            post(altogic::register),
            &[Op::new(M::POST, al, "Sign up")
                .body(B::Json("Register"))
                .answer(A::Json("SignedIn"))],
        );
        m.add(
            &at("/verify-user"),
            get(altogic::verify_user),
            &[Op::new(M::GET, al, "The emailed verification link")
                .query(&["access_token"])
                .answer(A::Json("SignedIn"))],
        );
        m.add(
            &at("/login"),
            post(altogic::login),
            &[Op::new(M::POST, al, "Sign in")
                .body(B::Json("Credentials"))
                .answer(A::Json("SignedIn"))],
        );
        m.add(
            &at("/logout"),
            get(altogic::logout).post(altogic::logout),
            &[
                Op::new(M::GET, al, "Sign out (from this site)").answer(A::Redirect),
                Op::new(M::POST, al, "Sign out").answer(A::Redirect),
            ],
        );
        m.add(
            &at("/sessions/{id}"),
            axum::routing::delete(sessions::revoke),
            &[signed(M::DELETE, "End one of the user's sessions").answer(A::AnyJson)],
        );
    }
}
