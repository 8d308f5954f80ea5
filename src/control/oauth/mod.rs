//! OAuth 2.0 / OpenID Connect sign-in (the Nuxt Aegis contract): provider flow, one-time
//! authorization codes, rotating refresh tokens, and the built-in mock provider.

pub mod callback;
pub mod flow;
pub mod github;
pub mod identity;
pub mod mock;
pub mod oidc;
pub mod page;
pub mod tokens;

use crate::control::Mount;
use crate::state::State;

/// An HttpOnly cookie scoped to `/auth` (the sign-in state, the refresh token).
pub fn auth_cookie(state: &crate::state::State, name: &str, value: &str, max_age: i64) -> String {
    cookie::Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .secure(state.config().cookie.secure)
        .same_site(cookie::SameSite::Lax)
        .path("/auth")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

/// SHA-256 hex, for values stored only as hashes (state, codes, refresh tokens).
pub fn hash(v: &str) -> String {
    crate::auth::one_time::hash(v)
}

/// The Nuxt Aegis routes (`/auth/…`, `/api/user/me`) and the built-in mock provider.
pub fn mount(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Auth, Body as B, Op};
    use axum::routing::{get, post};
    use http::Method as M;
    let api = &state.config().api;
    let ae = "Nuxt Aegis";
    m.add(
        &api.user_me,
        get(tokens::me),
        &[Op::new(M::GET, ae, "The signed-in user's claims").auth(Auth::Session)],
    );
    if api.aegis {
        use self::{callback, flow};
        let at = |p: &str| Some(p.to_string());
        m.add(
            &at("/auth/token"),
            post(tokens::exchange),
            &[Op::new(M::POST, ae, "Exchange a one-use code for tokens")
                .body(B::Json("Code"))
                .answer(A::Json("TokenPair"))],
        );
        m.add(
            &at("/auth/refresh"),
            post(tokens::refresh),
            &[Op::new(M::POST, ae, "A new access token")
                .auth(Auth::Refresh)
                .answer(A::Json("TokenPair"))],
        );
        m.add(
            &at("/auth/logout"),
            post(tokens::logout),
            &[Op::new(M::POST, ae, "Sign out").auth(Auth::Refresh)],
        );
        m.add(
            &at("/auth/callback"),
            get(callback::page),
            &[Op::new(M::GET, ae, "Callback page")
                .query(&["code", "redirectTo"])
                .answer(A::Html)],
        );
        m.add(
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
        use self::mock;
        let mk = "Mock provider";
        for base in ["/mock", "/auth/mock"] {
            let at = |p: &str| Some(format!("{base}{p}"));
            m.add(
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
            m.add(
                &at("/token"),
                post(mock::token),
                &[Op::new(M::POST, mk, "Token endpoint").body(B::Form)],
            );
            m.add(
                &at("/userinfo"),
                get(mock::userinfo),
                &[Op::new(M::GET, mk, "Userinfo")],
            );
        }
        m.add(
            &Some("/mock/.well-known/openid-configuration".into()),
            get(mock::discovery),
            &[Op::new(M::GET, mk, "Discovery")],
        );
        m.add(
            &Some("/mock/jwks".into()),
            get(mock::jwks),
            &[Op::new(M::GET, mk, "Keys").answer(A::JwkSet)],
        );
    }
}
