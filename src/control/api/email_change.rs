//! Changing one's own email (`PATCH /api/nuxt-users/me`): the new address gets a link and
//! becomes the account's only when that link is used (`GET /api/nuxt-users/email/confirm`);
//! the current address is told. A stolen session therefore cannot move an account to the
//! thief's address and then reset its password from there.

use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, StoreError};
use axum::extract::{Query, State as S};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The link from the confirmation mail: the pending address becomes the account's.
pub async fn confirm(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    let invalid = || Reject::BadRequest("Invalid or expired confirmation link".into());
    let token = q.get("token").map(String::as_str).unwrap_or("");
    if token.is_empty() {
        return Err(invalid());
    }
    let store = &state.store;
    let uid = store
        .consume_one_time_token(
            &one_time::hash(token),
            Purpose::EmailChange.as_str(),
            None,
            now(),
        )
        .await?
        .ok_or_else(invalid)?;
    let user = store.user_by_id(uid).await?.ok_or_else(invalid)?;
    let pending = user.pending_email.clone().ok_or_else(invalid)?;
    let event = crate::audit::Event::new(crate::audit::kinds::EMAIL_CHANGED)
        .by_user(uid, &user.email)
        .target_user(uid)
        .change("email", &user.email, &pending)
        .build();
    match store
        .apply_pending_email(uid, &pending, now(), &[event])
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(invalid()),
        Err(StoreError::Conflict) => {
            return Err(Reject::Conflict("This email is already taken".into()))
        }
        Err(e) => return Err(e.into()),
    }
    let user = store.user_by_id(uid).await?.ok_or_else(invalid)?;
    state.user_changed(&user);
    Ok(Json(json!({
        "message": "Your new email is confirmed",
        "user": crate::control::web::views::NuxtUser::from(&user),
    })))
}
