//! Changing one's own email (`PATCH /api/nuxt-users/me`): the new address gets a link and
//! becomes the account's only when that link is used (`GET /api/nuxt-users/email/confirm`);
//! the current address is told. A stolen session therefore cannot move an account to the
//! thief's address and then reset its password from there.

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use crate::store::{now, StoreError, User};
use axum::extract::{Query, State as S};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Asks for `new_email` to become `user`'s address; returns the user with it pending. Asking
/// for the current address withdraws a pending change.
pub async fn request(state: &State, user: &User, new_email: &str) -> Result<User, Reject> {
    let store = &state.store;
    if new_email == user.email {
        store.set_pending_email(user.id, None, now()).await?;
        return store.user_by_id(user.id).await?.ok_or(Reject::NotFound);
    }
    if store.user_by_email(new_email).await?.is_some() {
        return Err(Reject::BadRequest("This email is already taken".into()));
    }
    store
        .set_pending_email(user.id, Some(new_email), now())
        .await?;
    let cfg = state.config();
    let ttl = cfg.confirm_ttl;
    let token = one_time::issue(store.as_ref(), user.id, Purpose::EmailChange, ttl).await?;
    let prefix = cfg.api.nuxt_users.clone().unwrap_or_default();
    let url = link(
        &cfg,
        &format!("{prefix}/email/confirm"),
        &[("token", &token)],
    );
    state
        .mailer
        .send(Kind::ConfirmEmailChange, new_email, &user.name, &url, ttl);
    let account = link(&cfg, cfg.pages.login_path.as_deref().unwrap_or("/"), &[]);
    state
        .mailer
        .send(Kind::EmailChanging, &user.email, &user.name, &account, ttl);
    store.user_by_id(user.id).await?.ok_or(Reject::NotFound)
}

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
    match store.apply_pending_email(uid, &pending, now()).await {
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
        "user": super::views::NuxtUser::from(&user),
    })))
}
