//! The second-step page beside the sign-in page: a code, a recovery code or a passkey after
//! the password (carrying the `mfaToken`), or to step a session up when a route demands a
//! second factor; and enrolment for accounts that must have one. Plain forms; the passkey
//! button is the pages' one script.

use super::{csrf_ok, render, return_to, session, signed_in_redirect, to_sign_in};
use crate::accounts::mfa::{self, Challenge, Pending};
use crate::auth::Amr;
use crate::control::web::extract::Client;
use crate::error::Reject;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::User;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

fn path(state: &State) -> String {
    state.config().pages.mfa_path().unwrap_or_default()
}

struct Form<'a> {
    token: &'a str,
    methods: Vec<&'static str>,
    back: &'a str,
}

fn show(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    form: Form<'_>,
    error: Option<&str>,
) -> Response {
    render(
        &state.config(),
        headers,
        "mfa.html",
        status,
        context! {
            action => path(state), mfa_token => form.token, methods => form.methods,
            return_to => form.back, error,
        },
    )
}

/// What the sign-in page shows after a right password when a second step is due.
pub async fn challenge(state: &State, headers: &HeaderMap, c: &Challenge, back: &str) -> Response {
    if !c.enroll {
        let form = Form {
            token: &c.token,
            methods: c.methods.clone(),
            back,
        };
        return show(state, headers, StatusCode::OK, form, None);
    }
    match mfa::pending(state, &c.token).await {
        Ok((_, user)) => enrolment(state, headers, &user, &c.token, back, None).await,
        Err(r) => r.into_response(),
    }
}

/// The enrolment page: a new TOTP secret as a QR code (and a passkey button).
async fn enrolment(
    state: &State,
    headers: &HeaderMap,
    user: &User,
    token: &str,
    back: &str,
    error: Option<&str>,
) -> Response {
    let cfg = state.config();
    let setup = if cfg.mfa.totp {
        let setup = match error {
            Some(_) => mfa::pending_setup(state, user).await,
            None => mfa::setup_totp(state, user).await,
        };
        match setup {
            Ok(s) => Some(s),
            Err(r) => return r.into_response(),
        }
    } else {
        None
    };
    render(
        &cfg,
        headers,
        "mfa_setup.html",
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        context! {
            enroll => true, mfa_token => token, return_to => back, error,
            action => format!("{}/enroll", path(state)),
            qr_svg => setup.as_ref().map(|s| s.qr_svg.clone()),
            secret => setup.as_ref().map(|s| s.secret.clone()),
        },
    )
}

async fn methods_of(state: &State, user_id: i64) -> Result<Vec<&'static str>, Reject> {
    let st = mfa::status(state, user_id).await?;
    Ok(st.methods(state.config().mfa.webauthn.is_some()))
}

/// `GET` — step up: a signed-in user proves a second factor, then goes back.
pub async fn page(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state.config(), q.get("returnTo").map(String::as_str));
    let Some(id) = session(&state, &headers).await else {
        return to_sign_in(&state, &back);
    };
    let methods = match methods_of(&state, id.user.id).await {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    if methods.is_empty() {
        // Nothing to prove with: the account page is where factors are set up.
        let account = state.config().api.account_page.clone().unwrap_or_default();
        return (StatusCode::FOUND, [(header::LOCATION, account)]).into_response();
    }
    let form = Form {
        token: "",
        methods,
        back: &back,
    };
    show(&state, &headers, StatusCode::OK, form, None)
}

/// The second factor a form brings, checked for `user`.
async fn check(state: &State, user: &User, f: &HashMap<String, String>) -> Result<Amr, Reject> {
    let field = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (field("code"), field("recoveryCode")) {
        (Some(c), _) => mfa::check_totp(state, user, c).await.map(|_| Amr::OTP),
        (None, Some(r)) => mfa::check_recovery(state, user, r).await.map(|_| Amr::OTP),
        (None, None) => Err(Reject::BadRequest("Enter a code".into())),
    }
}

fn message(r: &Reject) -> String {
    match r {
        Reject::RateLimited { retry_after_secs } => {
            format!("Too many wrong codes; try again in {retry_after_secs} s.")
        }
        other => other.message(),
    }
}

/// A posted form whose CSRF token holds, and where to go afterwards.
fn form(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(HashMap<String, String>, String), Reject> {
    let f = super::form_fields(body);
    let back = return_to(&state.config(), f.get("returnTo").map(String::as_str));
    if !csrf_ok(headers, f.get("csrf").map(String::as_str)) {
        return Err(Reject::Forbidden("This page expired; sign in again"));
    }
    Ok((f, back))
}

/// `POST` — the code or recovery code of a sign-in (with `mfaToken`) or of a step-up.
pub async fn submit(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (f, back) = match form(&state, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let token = f.get("mfaToken").map(String::as_str).unwrap_or("");
    if token.is_empty() {
        return step_up(&state, &client, &headers, &f, &back).await;
    }
    let (pending, user) = match mfa::pending(&state, token).await {
        Ok(p) => p,
        Err(_) => return to_sign_in(&state, &back),
    };
    let result = async {
        let second = check(&state, &user, &f).await?;
        mfa::complete(&state, token).await?;
        signed_in(&state, &client, &user, &pending, second).await
    };
    match result.await {
        Ok(token) => signed_in_redirect(&state.config(), &token, pending.remember, back),
        Err(r) => {
            let methods = methods_of(&state, user.id).await.unwrap_or_default();
            let form = Form {
                token,
                methods,
                back: &back,
            };
            show(&state, &headers, r.status(), form, Some(&message(&r)))
        }
    }
}

async fn signed_in(
    state: &State,
    client: &ClientInfo,
    user: &User,
    pending: &Pending,
    second: Amr,
) -> Result<String, Reject> {
    let amr = Amr::parse(&pending.first).with(second);
    state
        .start_session(user, pending.remember, client, amr)
        .await
}

async fn step_up(
    state: &State,
    client: &ClientInfo,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
    back: &str,
) -> Response {
    let Some(id) = session(state, headers).await else {
        return to_sign_in(state, back);
    };
    let user = match state.store.user_by_id(id.user.id).await {
        Ok(Some(u)) => u,
        _ => return to_sign_in(state, back),
    };
    let result = async {
        let second = check(state, &user, f).await?;
        let token = state
            .start_session(
                &user,
                id.session.remember,
                client,
                id.session.amr.with(second),
            )
            .await?;
        state.end_session(&id).await?;
        Ok::<_, Reject>(token)
    };
    match result.await {
        Ok(token) => signed_in_redirect(&state.config(), &token, id.session.remember, back.into()),
        Err(r) => {
            let methods = methods_of(state, user.id).await.unwrap_or_default();
            let form = Form {
                token: "",
                methods,
                back,
            };
            show(state, headers, r.status(), form, Some(&message(&r)))
        }
    }
}

/// `POST …/enroll` — the first code of a secret set up during sign-in: the session, and the
/// recovery codes shown once.
pub async fn enroll(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (f, back) = match form(&state, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let token = f.get("mfaToken").map(String::as_str).unwrap_or("");
    let (pending, user) = match mfa::pending(&state, token).await {
        Ok(p) if p.0.enroll => p,
        _ => return to_sign_in(&state, &back),
    };
    let code = f.get("code").map(String::as_str).unwrap_or("");
    let result = async {
        let codes = mfa::enable_totp(&state, &user, code).await?;
        mfa::complete(&state, token).await?;
        let token = signed_in(&state, &client, &user, &pending, Amr::OTP).await?;
        Ok::<_, Reject>((codes, token))
    };
    match result.await {
        Ok((codes, token)) => {
            let mut r = recovery_codes(&state, &headers, &codes, &back);
            let cookie =
                crate::control::web::cookies::session(&state.config(), &token, pending.remember);
            r.headers_mut().append(header::SET_COOKIE, cookie);
            r
        }
        Err(r) => {
            let msg = message(&r);
            // A wrong first code: the same secret stays pending; show it again.
            enrolment(&state, &headers, &user, token, &back, Some(&msg)).await
        }
    }
}

/// The recovery codes, once, with a download and the way on (`render` marks every page
/// `no-store`).
pub fn recovery_codes(
    state: &State,
    headers: &HeaderMap,
    codes: &[String],
    next: &str,
) -> Response {
    render(
        &state.config(),
        headers,
        "recovery_codes.html",
        StatusCode::OK,
        context! { codes, next },
    )
}
