//! Sign-up mail: the confirmation link, the note to an address that already has an account,
//! and confirming (which activates the account).

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use crate::store::{now, Guarded, StoreError, User, UserChanges};

/// Mails a confirmation link to `{path}?{param}=…` (each API family has its own landing path),
/// carrying `back` — where the person was going — when there is one.
pub async fn send_confirmation_to(
    state: &State,
    user: &User,
    path: &str,
    param: &str,
    back: Option<&str>,
) -> Result<(), StoreError> {
    let ttl = state.config().confirm_ttl;
    let token = one_time::issue(
        state.store.as_ref(),
        user.id,
        Purpose::EmailConfirmation,
        ttl,
    )
    .await?;
    let mut query = vec![(param, token.as_str())];
    if let Some(b) = back.filter(|b| *b != "/") {
        query.push(("returnTo", b));
    }
    let url = link(&state.config(), path, &query);
    state
        .mailer
        .send(Kind::ConfirmEmail, &user.email, &user.name, &url, ttl);
    Ok(())
}

pub async fn notify_existing(state: &State, email: &str) -> Result<(), StoreError> {
    if let Some(user) = state.store.user_by_email(email).await? {
        // Not for an account made from an address nobody proved: it is not this person's.
        if user.deleted_at.is_none() && user.email_verified {
            let url = link(&state.config(), &state.config().mail.reset_path, &[]);
            state.mailer.send(
                Kind::AccountExists,
                &user.email,
                &user.name,
                &url,
                state.config().passwords.reset_ttl,
            );
        }
    }
    Ok(())
}

/// Uses an email-confirmation token once and activates its account.
pub async fn confirm_email(state: &State, token: &str) -> Result<User, Reject> {
    let invalid = || Reject::BadRequest("Invalid or expired confirmation link".into());
    if token.is_empty() {
        return Err(invalid());
    }
    let user_id = state
        .store
        .consume_one_time_token(
            &one_time::hash(token),
            Purpose::EmailConfirmation.as_str(),
            None,
            now(),
        )
        .await?
        .ok_or_else(invalid)?;
    let activate = UserChanges {
        active: Some(true),
        ..Default::default()
    };
    match state
        .store
        .update_user(
            user_id,
            &activate,
            now(),
            Some(&crate::audit::changes::of_user(user_id)),
        )
        .await?
    {
        Guarded::Done(user) => {
            state.user_changed(&user);
            Ok(user)
        }
        Guarded::NotFound | Guarded::LastAdmin => Err(invalid()),
    }
}
