//! Forgotten passwords for browsers: `/forgot-password` asks for the email (same answer either
//! way); the emailed link opens the reset page, whose form sets the password once.

use super::{csrf_ok, render};
use crate::accounts::login::rate_limit;
use crate::auth::one_time::{self, Purpose};
use crate::auth::policy;
use crate::control::web::extract::Client;
use crate::state::State;
use crate::store::now;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

pub const FORGOT_PATH: &str = "/forgot-password";

fn login(state: &State) -> String {
    state
        .config()
        .pages
        .login_path
        .clone()
        .unwrap_or_else(|| "/".into())
}

fn forgot_page(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    sent: bool,
    error: Option<&str>,
) -> Response {
    render(
        &state.config(),
        headers,
        "forgot.html",
        status,
        context! { sent, error, action => FORGOT_PATH, login => login(state) },
    )
}

pub async fn forgot(S(state): S<Arc<State>>, headers: HeaderMap) -> Response {
    forgot_page(&state, &headers, StatusCode::OK, false, None)
}

pub async fn forgot_submit(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: HashMap<String, String> = super::form_fields(&body);
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return forgot_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            false,
            Some("This page expired; please try again."),
        );
    }
    if let Err(r) = rate_limit(&state, &client) {
        return forgot_page(
            &state,
            &headers,
            r.status(),
            false,
            Some("Too many attempts; wait a moment and try again."),
        );
    }
    let Some(email) = f
        .get("email")
        .and_then(|e| crate::auth::policy::normalize_email(e))
    else {
        return forgot_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            false,
            Some("Enter your email address."),
        );
    };
    // As in the API: the work happens after the answer, which is the same for everyone.
    let st = state.clone();
    let event = crate::accounts::recovery::requested(&email);
    tokio::spawn(async move {
        if let Err(e) = crate::accounts::recovery::send_reset(&st, &email, event).await {
            tracing::error!(error = %e, "password reset mail not prepared");
        }
    });
    forgot_page(&state, &headers, StatusCode::OK, true, None)
}

fn reset_page(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    render(
        &state.config(),
        headers,
        "reset.html",
        status,
        context! { token, email, error, action => state.config().mail.reset_path.clone() },
    )
}

/// The emailed link. Showing the form consumes nothing.
pub async fn reset(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    reset_page(
        &state,
        &headers,
        StatusCode::OK,
        get("token"),
        get("email"),
        None,
    )
}

pub async fn reset_submit(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let f: HashMap<String, String> = super::form_fields(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let (token, email) = (get("token"), get("email"));
    let again = |status, why: &str| reset_page(&state, &headers, status, token, email, Some(why));
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return again(
            StatusCode::FORBIDDEN,
            "This page expired; please try again.",
        );
    }
    let password = get("password");
    if let Err(why) = policy::check(password, state.config().passwords.min_length) {
        return again(StatusCode::BAD_REQUEST, &format!("The new password {why}."));
    }
    if password != get("password_confirmation") {
        return again(StatusCode::BAD_REQUEST, "The two passwords differ.");
    }
    let email = crate::auth::policy::normalize_email(email).unwrap_or_default();
    let consumed = state
        .store
        .consume_one_time_token(
            &one_time::hash(token),
            Purpose::PasswordReset.as_str(),
            Some(&email),
            now(),
        )
        .await;
    let Ok(Some(user_id)) = consumed else {
        return again(
            StatusCode::BAD_REQUEST,
            "This link is invalid or has expired; ask for a new one.",
        );
    };
    match crate::accounts::password::set_password(
        &state,
        user_id,
        password.to_string(),
        None,
        crate::audit::kinds::PASSWORD_RESET_COMPLETED,
    )
    .await
    {
        Ok(()) => (StatusCode::SEE_OTHER, [(header::LOCATION, login(&state))]).into_response(),
        Err(r) => r.into_response(),
    }
}
