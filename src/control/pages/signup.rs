//! Sign-up for browsers (when `signup.enabled`): `/signup` creates the account; with email
//! verification (the default) it is inactive until the emailed link's page is confirmed.
//! `/verify` shows a button first, so a mail scanner's prefetch consumes nothing.

use super::{csrf_ok, render, return_to, signed_in_redirect};
use crate::accounts::login::rate_limit;
use crate::accounts::signup::{confirm_email, notify_existing, send_confirmation_to};
use crate::auth::policy;
use crate::control::web::extract::Client;
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, NewUser, StoreError};
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;

pub const SIGNUP_PATH: &str = "/signup";
pub const VERIFY_PATH: &str = "/verify";

struct Form<'a> {
    back: &'a str,
    name: &'a str,
    email: &'a str,
}

fn show(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    f: &Form,
    sent: bool,
    error: Option<&str>,
) -> Response {
    let login = state.config().pages.login_path.clone().unwrap_or_default();
    render(
        &state.config(),
        headers,
        "signup.html",
        status,
        context! { sent, error, action => SIGNUP_PATH, login, return_to => f.back, name => f.name, email => f.email },
    )
}

pub async fn page(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state.config(), q.get("returnTo").map(String::as_str));
    if let Some(on) = super::guest_rule(&state, &headers, &back).await {
        return on;
    }
    show(
        &state,
        &headers,
        StatusCode::OK,
        &Form {
            back: &back,
            name: "",
            email: "",
        },
        false,
        None,
    )
}

pub async fn submit(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: HashMap<String, String> = super::form_fields(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let back = return_to(&state.config(), Some(get("returnTo")));
    let form = Form {
        back: &back,
        name: get("name").trim(),
        email: get("email").trim(),
    };
    let again = |status, why: &str| show(&state, &headers, status, &form, false, Some(why));
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return again(
            StatusCode::FORBIDDEN,
            "This page expired; please try again.",
        );
    }
    if let Err(r) = rate_limit(&state, &client) {
        return again(
            r.status(),
            "Too many attempts; wait a moment and try again.",
        );
    }
    let Some(email) = crate::auth::policy::normalize_email(form.email) else {
        return again(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    if policy::check_name(form.name).is_err() {
        return again(
            StatusCode::BAD_REQUEST,
            "Enter your name (at most 200 characters).",
        );
    }
    if let Err(why) = policy::check(get("password"), state.config().passwords.min_length) {
        return again(StatusCode::BAD_REQUEST, &format!("The password {why}."));
    }
    let hash = match state
        .passwords
        .hash(&SecretString::from(get("password").to_string()))
        .await
    {
        Ok(h) => h,
        Err(e) => return Reject::from(e).into_response(),
    };
    let verify = state.config().verify_email;
    let new = NewUser {
        email: email.clone(),
        name: form.name.to_string(),
        role: "user".into(),
        password_hash: Some(hash),
        active: !verify,
        email_verified: true,
        now: now(),
    };
    let st = state.clone();
    let event = crate::audit::changes::user_created("signup", &new).build();
    match state.store.create_user(new, &[event]).await {
        Ok(user) if !verify => match state
            .start_session(&user, false, &client, crate::auth::Amr::PWD)
            .await
        {
            Ok(token) => signed_in_redirect(&state.config(), &token, false, back.clone()),
            Err(r) => r.into_response(),
        },
        Ok(user) => {
            let back = back.clone();
            tokio::spawn(async move {
                if let Err(e) =
                    send_confirmation_to(&st, &user, VERIFY_PATH, "token", Some(&back)).await
                {
                    tracing::error!(error = %e, "verification mail not prepared");
                }
            });
            show(&state, &headers, StatusCode::OK, &form, true, None)
        }
        // With verification on, a taken address looks like a free one; its owner is told.
        Err(StoreError::Conflict) if verify => {
            tokio::spawn(async move {
                let _ = notify_existing(&st, &email).await;
            });
            show(&state, &headers, StatusCode::OK, &form, true, None)
        }
        Err(StoreError::Conflict) => again(
            StatusCode::CONFLICT,
            "An account with this email already exists.",
        ),
        Err(e) => Reject::from(e).into_response(),
    }
}

fn verify_page(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    back: &str,
    error: Option<&str>,
) -> Response {
    let login = state.config().pages.login_path.clone().unwrap_or_default();
    render(
        &state.config(),
        headers,
        "verify.html",
        status,
        context! { token, error, login, action => VERIFY_PATH, return_to => back },
    )
}

pub async fn verify(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    verify_page(
        &state,
        &headers,
        StatusCode::OK,
        q.get("token").map(String::as_str).unwrap_or(""),
        &return_to(&state.config(), q.get("returnTo").map(String::as_str)),
        None,
    )
}

pub async fn verify_submit(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: HashMap<String, String> = super::form_fields(&body);
    let token = f.get("token").map(String::as_str).unwrap_or("");
    let back = return_to(&state.config(), f.get("returnTo").map(String::as_str));
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return verify_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            token,
            &back,
            Some("This page expired; open the link again."),
        );
    }
    let user = match confirm_email(&state, token).await {
        Ok(u) => u,
        Err(_) => {
            return verify_page(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                "",
                &back,
                Some("This link is invalid or has expired."),
            )
        }
    };
    match state
        .start_session(&user, false, &client, crate::auth::Amr::EMAIL)
        .await
    {
        Ok(t) => signed_in_redirect(&state.config(), &t, false, back),
        Err(r) => r.into_response(),
    }
}
