//! The console's backoffs: the addresses (and second-step users, `mfa:<id>`) that must wait
//! before their next sign-in attempt on this instance, and clearing one, which is recorded as
//! `authn.backoff.cleared`.

use super::{admin, done, form, notice, page};
use crate::audit::{kinds, Event};
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

const SHOWN: usize = 200;

pub async fn list(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/backoffs", super::base(&state));
    let a = match admin(&state, &headers, &here).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let waiting = state.backoff.waiting_now(crate::clock::now_ms(), SHOWN);
    page(
        &state,
        &headers,
        &a,
        "admin_backoffs.html",
        StatusCode::OK,
        context! {
            section => "backoffs", notice => notice(&q),
            tracked => state.backoff.tracked(),
            waiting => waiting.iter().map(|(key, failures, secs)| context! {
                key, failures, secs,
                user => key.strip_prefix("mfa:"),
            }).collect::<Vec<_>>(),
        },
    )
}

/// `POST {console}/backoffs` with the `key` to clear.
pub async fn clear(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let here = format!("{}/backoffs", super::base(&state));
    let (_, f) = match form(&state, &headers, &body, &here).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = f.get("key").map(String::as_str).unwrap_or("");
    if !state.backoff.clear(key) {
        // Gone already (it ran out, or another admin cleared it): nothing to record.
        return done(&here, "backoff-cleared");
    }
    let mut event = Event::new(kinds::BACKOFF_CLEARED).change("key", Some(key), None::<&str>);
    let user = match key.strip_prefix("mfa:") {
        Some(id) => id.parse::<i64>().ok(),
        None => match state.store.user_by_email(key).await {
            Ok(u) => u.map(|u| u.id),
            Err(e) => return crate::error::Reject::from(e).into_response(),
        },
    };
    if let Some(uid) = user {
        event = event.target_user(uid);
    }
    // An admin's action: written now, not through the request path's queue.
    match state.store.append_audit(&[event.here().build()]).await {
        Ok(_) => done(&here, "backoff-cleared"),
        Err(e) => crate::error::Reject::from(e).into_response(),
    }
}
