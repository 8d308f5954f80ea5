//! The page a magic link opens. Opening it (GET) only asks to continue — mail scanners that
//! prefetch links cannot burn the token; the form's POST consumes it and signs in.

use super::{csrf_ok, render, return_to};
use crate::auth::one_time::{self, Purpose};
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
    let action = state.config.api.magic_page.clone().unwrap_or_default();
    let login = state.config.pages.login_path.clone().unwrap_or_default();
    render(
        &state.config,
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
    let back = return_to(q.get("returnTo").map(String::as_str));
    match q.get("token").filter(|t| !t.is_empty()) {
        Some(token) => show(&state, &headers, StatusCode::OK, token, &back, None),
        None => show(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "",
            &back,
            Some("This sign-in link is incomplete."),
        ),
    }
}

pub async fn submit(
    S(state): S<Arc<State>>,
    crate::api::extract::Client(client): crate::api::extract::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = super::form_fields(&body);
    let field = |k: &str| form.get(k).map(String::as_str);
    let back = return_to(field("returnTo"));
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
    match state.start_session(&user, false, &client).await {
        Ok(token) => super::signed_in_redirect(&state.config, &token, false, back),
        Err(r) => r.into_response(),
    }
}
