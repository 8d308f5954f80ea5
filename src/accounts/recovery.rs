//! Password reset: a one-hour, one-use link mailed to an address that may be reached by email.

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::mail::Kind;
use crate::state::State;

pub async fn send_reset(state: &State, email: &str) -> Result<(), crate::store::StoreError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(());
    };
    if !user.reachable_by_email() {
        return Ok(());
    }
    let ttl = state.config().passwords.reset_ttl;
    let token = one_time::issue(state.store.as_ref(), user.id, Purpose::PasswordReset, ttl).await?;
    let url = link(
        &state.config(),
        &state.config().mail.reset_path,
        &[("token", &token), ("email", &user.email)],
    );
    state
        .mailer
        .send(Kind::PasswordReset, &user.email, &user.name, &url, ttl);
    Ok(())
}
