//! `GET /api/auth/sessions` (the caller's live sessions, devices parsed from the user agent)
//! and `DELETE /api/auth/sessions/{id}` (sign one of them out, on the proxy path at once).

use crate::accounts::sessions::end_own;
use crate::control::web::extract::Auth;
use crate::control::web::views::describe;
use crate::error::Reject;
use crate::state::State;
use axum::extract::{Path, State as S};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn list(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<Value>, Reject> {
    Ok(Json(json!({ "sessions": describe(&state, &id).await? })))
}

/// Another user's session, or an unknown one, is simply not found.
pub async fn revoke(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, Reject> {
    if end_own(&state, &id, &raw).await? {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(Reject::NotFound)
    }
}
