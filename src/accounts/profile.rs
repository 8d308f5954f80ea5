//! A user's own profile changes that need no proof (the name): stored with their audit event,
//! and published to the cache.

use crate::error::Reject;
use crate::state::State;
use crate::store::{now, Guarded, User, UserChanges};

/// Renames user `uid`; `None` when they are gone.
pub async fn rename(state: &State, uid: i64, name: String) -> Result<Option<User>, Reject> {
    let changes = UserChanges {
        name: Some(name),
        ..Default::default()
    };
    let audit = crate::audit::changes::of_user(uid);
    match state
        .store
        .update_user(uid, &changes, now(), Some(&audit))
        .await?
    {
        Guarded::Done(u) => {
            state.user_changed(&u);
            Ok(Some(u))
        }
        Guarded::NotFound | Guarded::LastAdmin => Ok(None),
    }
}
