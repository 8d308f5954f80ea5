//! `/magic-link`: without a token, the form that asks for a sign-in link by email; with one
//! (the page the emailed link opens), a button to continue. Opening the link (GET) consumes
//! nothing — mail scanners that prefetch links cannot burn the token; the button's POST does.

use super::{csrf_ok, render, return_to};
use crate::accounts::login::rate_limit;
use crate::accounts::magic::request_link;
use crate::auth::one_time::{self, Purpose};
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::now;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

fn show(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    back: &str,
    error: Option<&str>,
) -> Response {
    let action = state.config().api.magic_page.clone().unwrap_or_default();
    let login = state.config().pages.login_path.clone().unwrap_or_default();
    render(
        &state.config(),
        headers,
        "magic.html",
        status,
        context! { token, return_to => back, error, action, login },
    )
}

pub async fn page(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state.config(), q.get("returnTo").map(String::as_str));
    match q.get("token").filter(|t| !t.is_empty()) {
        Some(token) => show(&state, &headers, StatusCode::OK, token, &back, None),
        None => match super::guest_rule(&state, &headers, &back).await {
            Some(on) => on,
            None => ask(&state, &headers, StatusCode::OK, &back, "", false, None),
        },
    }
}

/// The request form, or (`sent`) the "check your email" answer.
fn ask(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    back: &str,
    email: &str,
    sent: bool,
    error: Option<&str>,
) -> Response {
    let action = state.config().api.magic_page.clone().unwrap_or_default();
    let login = state.config().pages.login_path.clone().unwrap_or_default();
    render(
        &state.config(),
        headers,
        "magic_request.html",
        status,
        context! { return_to => back, email, sent, error, action, login },
    )
}

/// The request form's POST: the same "check your email" whether the address has an account.
async fn request(
    state: &Arc<State>,
    client: &ClientInfo,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str);
    let back = return_to(&state.config(), field("returnTo"));
    let typed = field("email").unwrap_or("").trim();
    let again = |status, why: &str| ask(state, headers, status, &back, typed, false, Some(why));
    if !csrf_ok(headers, field("csrf")) {
        return again(
            StatusCode::FORBIDDEN,
            "This page expired; please try again.",
        );
    }
    let Some(email) = crate::auth::policy::normalize_email(typed) else {
        return again(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    let limited =
        rate_limit(state, client).and_then(|()| request_link(state, email, Some(back.clone())));
    match limited {
        Ok(()) => ask(state, headers, StatusCode::OK, &back, typed, true, None),
        Err(r) => again(
            r.status(),
            "Too many requests; wait a few minutes and try again.",
        ),
    }
}

pub async fn submit(
    S(state): S<Arc<State>>,
    crate::control::web::extract::Client(client): crate::control::web::extract::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = super::form_fields(&body);
    if !form.contains_key("token") {
        return request(&state, &client, &headers, &form).await;
    }
    let field = |k: &str| form.get(k).map(String::as_str);
    let back = return_to(&state.config(), field("returnTo"));
    let token = field("token").unwrap_or("");
    if !csrf_ok(&headers, field("csrf")) {
        return show(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            token,
            &back,
            Some("Your session on this page expired; open the link again."),
        );
    }
    let invalid = |state: &State| {
        show(
            state,
            &headers,
            StatusCode::BAD_REQUEST,
            "",
            &back,
            Some("This sign-in link is invalid or has expired."),
        )
    };
    let consumed = state
        .store
        .consume_one_time_token(
            &one_time::hash(token),
            Purpose::MagicLink.as_str(),
            None,
            now(),
        )
        .await;
    let Ok(Some(user_id)) = consumed else {
        return invalid(&state);
    };
    let user = match state.store.user_by_id(user_id).await {
        Ok(Some(u)) if u.active && u.deleted_at.is_none() => u,
        _ => return invalid(&state),
    };
    // A link is one factor, like a password: a user with a second one is asked for it.
    let second = crate::accounts::mfa::after_first_factor(
        &state,
        &user,
        crate::accounts::mfa::Surface::Page,
        false,
        Some(back.clone()),
        crate::auth::Amr::EMAIL,
    )
    .await;
    match second {
        Ok(Some(c)) => return super::mfa::challenge(&state, &headers, &c, &back).await,
        Ok(None) => {}
        Err(r) => return r.into_response(),
    }
    match state
        .start_session(&user, false, &client, crate::auth::Amr::EMAIL)
        .await
    {
        Ok(token) => super::signed_in_redirect(&state.config(), &token, false, back),
        Err(r) => r.into_response(),
    }
}
