//! `GET /api/profile` and `PATCH /api/profile` (name and password only). A new password
//! needs `currentPassword`, or a sign-in within `tokens.fresh_for`: a session picked up later
//! (a stolen token, a shared machine) cannot lock its owner out.

use crate::auth::policy;
use crate::control::web::extract::{Auth, Fields, JsonObject};
use crate::control::web::views::UserView;
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use std::sync::Arc;

pub async fn get_profile(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
) -> Result<Json<UserView>, Reject> {
    let user = state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::NotFound)?;
    Ok(Json(UserView::from(&user)))
}

/// A new password is set only by someone who knows the current one or signed in within
/// `tokens.fresh_for`; 403 otherwise.
async fn may_change_password(
    state: &State,
    id: &crate::auth::Identity,
    current: Option<String>,
) -> Result<(), Reject> {
    let user = state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::NotFound)?;
    if let Some(current) = current {
        return if crate::accounts::login::check_current_password(state, &user, current).await? {
            Ok(())
        } else {
            Err(Reject::Forbidden("The current password is incorrect"))
        };
    }
    if crate::accounts::sessions::signed_in_lately(state, id).await? {
        Ok(())
    } else {
        Err(Reject::Forbidden(
            "Changing the password needs currentPassword, or a sign-in in the last few minutes",
        ))
    }
}

pub async fn patch_profile(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<UserView>, Reject> {
    let mut f = Fields::new(&body);
    f.only(
        &["name", "password", "currentPassword"],
        &["email", "role", "active", "id", "createdAt", "updatedAt"],
    );
    let name = super::users::name_field(&mut f, "name", false);
    let password = f.opt_string("password");
    let current = f.opt_string("currentPassword");
    if let Some(p) = &password {
        if let Err(why) = policy::check(p, state.config().passwords.min_length) {
            f.error("password", why.to_string());
        }
    }
    f.finish()?;

    if let Some(p) = password {
        may_change_password(&state, &id, current).await?;
        // A new password ends every other session: whoever knew the old one is out.
        crate::accounts::password::set_password(
            &state,
            id.user.id,
            p,
            Some(id.session_id),
            crate::audit::kinds::PASSWORD_CHANGED,
        )
        .await?;
    }
    let user = match name {
        Some(n) => crate::accounts::profile::rename(&state, id.user.id, n).await?,
        None => state.store.user_by_id(id.user.id).await?,
    }
    .ok_or(Reject::NotFound)?;
    state.user_changed(&user);
    Ok(Json(UserView::from(&user)))
}
