//! Changing an account's email: the new address gets a link and becomes the account's only
//! when that link is used; the current address is told. A stolen session therefore cannot
//! move an account to the thief's address and then reset its password from there.

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use crate::store::{now, User};

/// Asks for `new_email` to become `user`'s address; returns the user with it pending. Asking
/// for the current address withdraws a pending change.
pub async fn request(state: &State, user: &User, new_email: &str) -> Result<User, Reject> {
    if user.is_directory() {
        return Err(super::directory::managed());
    }
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
