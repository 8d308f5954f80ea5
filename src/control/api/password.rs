//! `PATCH /api/nuxt-users/password`: change one's own password, knowing the current one.
//! Every other session of the user ends; the current one stays.

use crate::accounts::password::set_password;
use crate::control::web::extract::{Auth, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn change(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let mut f = Fields::new(&body);
    let current = f.string("currentPassword");
    let new = f.new_password("newPassword", state.config().passwords.min_length);
    let confirmation = f.string("newPasswordConfirmation");
    if let (Some(n), Some(c)) = (&new, &confirmation) {
        if n != c {
            f.error("newPasswordConfirmation", "does not match the new password");
        }
    }
    f.finish_400()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(Reject::Internal);
    };
    let user = state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::NotFound)?;
    if !crate::accounts::login::check_current_password(&state, &user, current).await? {
        return Err(Reject::invalid("currentPassword", "is incorrect"));
    }
    set_password(
        &state,
        user.id,
        new,
        Some(id.session_id),
        crate::audit::kinds::PASSWORD_CHANGED,
    )
    .await?;
    Ok(Json(json!({ "message": "Password updated successfully" })))
}
