//! The console's API keys: every live key with its owner, prefix, scopes, last use and
//! expiry, and revoking one (the same revocation as the API's, effective at once).

use super::{admin, done, form, fresh, notice, page, page_number, refused};
use crate::error::Reject;
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

const PER_PAGE: i64 = 50;

async fn show(
    state: &State,
    headers: &HeaderMap,
    a: &super::Admin,
    q: &HashMap<String, String>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (number, offset) = page_number(q, PER_PAGE);
    let (keys, total) = match state.store.all_api_keys(offset, PER_PAGE).await {
        Ok(k) => k,
        Err(e) => return Reject::from(e).into_response(),
    };
    let rfc = crate::control::web::views::rfc3339;
    let now = crate::store::now();
    page(
        state,
        headers,
        a,
        "admin_keys.html",
        status,
        context! {
            section => "keys", notice => notice(q), error, total, page => number,
            pages => (total + PER_PAGE - 1) / PER_PAGE,
            keys => keys.iter().map(|l| { let k = &l.key; context! {
                id => k.id, name => k.name, prefix => k.prefix,
                scopes => k.scopes.split_whitespace().collect::<Vec<_>>(),
                owner => l.owner_email, owner_id => k.user_id,
                created => rfc(k.created_at), expires => k.expires_at.map(rfc),
                expired => k.expires_at.is_some_and(|e| e <= now),
                last_used => k.last_used_at.map(rfc),
            }}).collect::<Vec<_>>(),
        },
    )
}

pub async fn list(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/keys", super::base(&state));
    match admin(&state, &headers, &here).await {
        Ok(a) => show(&state, &headers, &a, &q, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

/// `POST {console}/keys/revoke` with the key's `id`.
pub async fn revoke(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let here = format!("{}/keys", super::base(&state));
    let (a, f) = match form(&state, &headers, &body, &here).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = fresh(&state, &headers, &a, &here).await {
        return r;
    }
    let id = f.get("id").map(String::as_str).unwrap_or("");
    match crate::accounts::api_keys::revoke(&state, id, None).await {
        Ok(true) => done(&here, "key-revoked"),
        Ok(false) => {
            let (status, msg) = refused(&Reject::NotFound);
            show(&state, &headers, &a, &HashMap::new(), status, Some(msg)).await
        }
        Err(r) => r.into_response(),
    }
}
