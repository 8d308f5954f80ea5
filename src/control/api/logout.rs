//! Ending and renewing sessions: logout, logout-others, logout-all, renew-token.

use crate::control::web::extract::Auth;
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use std::sync::Arc;

/// `POST /api/logout` → `true`.
pub async fn logout(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<bool>, Reject> {
    state.end_session(&id).await?;
    Ok(Json(true))
}

/// `POST /api/logout-others` → how many other sessions were revoked.
pub async fn logout_others(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<usize>, Reject> {
    let n = state
        .end_user_sessions(id.user.id, Some(id.session_id), "logout_others")
        .await?;
    Ok(Json(n))
}

/// `POST /api/logout-all` → how many sessions were revoked, the current one included.
pub async fn logout_all(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<usize>, Reject> {
    let n = state
        .end_user_sessions(id.user.id, None, "logout_all")
        .await?;
    Ok(Json(n))
}

/// `POST /api/renew-token` → a new token; the presented one is refused from now on.
pub async fn renew_token(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<String>, Reject> {
    Ok(Json(state.renew_session(&id).await?))
}
