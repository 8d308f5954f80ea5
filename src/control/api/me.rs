//! `GET /api/nuxt-users/me` and `PATCH /api/nuxt-users/me` (name, and an email change that
//! waits for confirmation; never role).

use super::users::{apply, name_field};
use crate::control::web::extract::{Auth, Fields, JsonObject};
use crate::control::web::views::user_envelope;
use crate::error::Reject;
use crate::state::State;
use crate::store::UserChanges;
use axum::extract::State as S;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;

pub async fn get(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<Value>, Reject> {
    let user = state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::NotFound)?;
    Ok(Json(user_envelope(&user)))
}

pub async fn update(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    if body.contains_key("role") || body.contains_key("active") {
        return Err(Reject::Forbidden(
            "You cannot change your own role or active status",
        ));
    }
    let mut f = Fields::new(&body);
    f.only(&["name", "email"], &["password", "id"]);
    let changes = UserChanges {
        name: name_field(&mut f, "name", false),
        ..Default::default()
    };
    let email = if body.contains_key("email") {
        f.email("email")
    } else {
        None
    };
    f.finish_400()?;
    let mut user = apply(
        &state,
        id.user.id,
        &changes,
        Reject::BadRequest("This email is already taken".into()),
    )
    .await?;
    // A new address applies only once its holder confirms it; the answer shows it pending.
    if let Some(email) = email {
        user = crate::accounts::email_change::request(&state, &user, &email).await?;
    }
    Ok(Json(user_envelope(&user)))
}
