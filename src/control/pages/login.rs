//! `GET /login` and its form: password sign-in for browsers, back to where they were going.
//! Someone already signed in is sent straight on (the guest rule).

use super::{csrf_ok, render, return_to};
use crate::accounts::login::{password_login, rate_limit, LoginFailure, Step};
use crate::accounts::mfa::Surface;
use crate::control::web::extract::Client;
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

pub async fn page(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state.config(), q.get("returnTo").map(String::as_str));
    // `prompt=login` (as in OpenID Connect): sign in again though signed in already, for what
    // needs a recent sign-in (the admin console's destructive actions).
    let again = q.get("prompt").is_some_and(|p| p == "login");
    if !again {
        if let Some(on) = super::guest_rule(&state, &headers, &back).await {
            return on;
        }
    }
    show(&state, &headers, StatusCode::OK, &back, "", None)
}

fn show(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    back: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    let cfg = state.config();
    let providers: Vec<&String> = cfg.oauth.providers.keys().collect();
    let action = state.config().pages.login_path.clone().unwrap_or_default();
    render(
        &state.config(),
        headers,
        "login.html",
        status,
        context! { return_to => back, email, error, providers, action, signup => state.config().signup_enabled, magic => state.config().api.magic_page },
    )
}

pub async fn submit(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = super::form_fields(&body);
    let field = |k: &str| form.get(k).map(String::as_str);
    let back = return_to(&state.config(), field("returnTo"));
    let email = field("email").unwrap_or("").trim().to_string();
    if !csrf_ok(&headers, field("csrf")) {
        return show(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &back,
            &email,
            Some("Your session on this page expired; please try again."),
        );
    }
    if let Err(r) = rate_limit(&state, &client) {
        return show(
            &state,
            &headers,
            r.status(),
            &back,
            &email,
            Some("Too many attempts; wait a moment and try again."),
        );
    }
    let (Some(normalized), Some(password)) = (
        crate::auth::policy::normalize_email(&email),
        field("password").filter(|p| !p.is_empty()),
    ) else {
        return show(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &back,
            &email,
            Some("Enter your email and password."),
        );
    };
    let remember = field("remember").is_some();
    let step = password_login(
        &state,
        &client,
        &normalized,
        password.to_string(),
        remember,
        Surface::Page,
        Some(back.clone()),
    );
    match step.await {
        Ok(Step::Session(_, token)) => {
            super::signed_in_redirect(&state.config(), &token, remember, back)
        }
        Ok(Step::Second(c)) => super::mfa::challenge(&state, &headers, &c, &back).await,
        Err(LoginFailure::BadCredentials) => show(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &back,
            &email,
            Some("Incorrect email or password."),
        ),
        Err(LoginFailure::Deactivated) => show(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &back,
            &email,
            Some("This account is not active."),
        ),
        Err(LoginFailure::Failed(r)) => r.into_response(),
    }
}
