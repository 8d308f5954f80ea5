//! Setting a new password: hashed off the reactor, and every other session ends.

use crate::error::Reject;
use crate::state::State;
use crate::store::now;
use secrecy::SecretString;

/// Hashes and stores a new password, then ends the user's sessions but `keep`. `kind`: the
/// audit event, a change (`credential.password.changed`) or a reset's end.
pub async fn set_password(
    state: &State,
    user_id: i64,
    password: String,
    keep: Option<uuid::Uuid>,
    kind: &'static str,
) -> Result<(), Reject> {
    // The directory owns a directory user's password: a change here would be a second one.
    if state
        .store
        .user_by_id(user_id)
        .await?
        .is_some_and(|u| u.is_directory())
    {
        return Err(super::directory::managed());
    }
    let hash = state.passwords.hash(&SecretString::from(password)).await?;
    let event = crate::audit::Event::new(kind).target_user(user_id).build();
    state
        .store
        .set_password(user_id, &hash, now(), &[event])
        .await?;
    state
        .end_user_sessions(user_id, keep, "password_change")
        .await?;
    Ok(())
}
