//! Password reset: a one-hour, one-use link mailed to an address that may be reached by email.

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::mail::Kind;
use crate::state::State;

/// `credential.password.reset_requested` asked for `email` by someone not signed in, with this
/// request's context (it is recorded after the answer, in a task of its own).
pub fn requested(email: &str) -> crate::audit::Event {
    crate::audit::Event::new(crate::audit::kinds::PASSWORD_RESET_REQUESTED)
        .by_anonymous(Some(email))
        .here()
}

/// Mails a reset link to `email` if an account there may be reached by mail; `event` (taken
/// in the request, see [`crate::audit::Event::here`]) is recorded either way.
pub async fn send_reset(
    state: &State,
    email: &str,
    event: crate::audit::Event,
) -> Result<(), crate::store::StoreError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        state.audit.record(event.failed("unknown_user"));
        return Ok(());
    };
    if !user.reachable_by_email() {
        state
            .audit
            .record(event.target_user(user.id).failed("not_reachable_by_email"));
        return Ok(());
    }
    state.audit.record(event.target_user(user.id));
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
