//! The events of a change, from what was before and after it: the store calls these inside
//! the change's transaction, so the recorded `from` is what the row really held.

use super::event::Event;
use super::kinds;
use crate::store::{NewEvent, User};

/// A user's change: `user.updated` for name, address and picture; `user.role.changed`;
/// `user.deactivated` / `user.reactivated`. Nothing when nothing changed.
pub fn user(base: &Event, old: &User, new: &User) -> Vec<NewEvent> {
    let mut out = Vec::new();
    let mut updated = base.clone().with_kind(kinds::USER_UPDATED);
    let mut any = false;
    if old.name != new.name {
        updated = updated.change("name", &old.name, &new.name);
        any = true;
    }
    if old.email != new.email {
        updated = updated.change("email", &old.email, &new.email);
        any = true;
    }
    if old.picture != new.picture {
        // Whether there is one, not the picture's address (it may be a signed URL).
        updated = updated.change("picture", old.picture.is_some(), new.picture.is_some());
        any = true;
    }
    if any {
        out.push(updated.build());
    }
    if old.role != new.role {
        out.push(
            base.clone()
                .with_kind(kinds::ROLE_CHANGED)
                .change("role", &old.role, &new.role)
                .build(),
        );
    }
    if old.active != new.active {
        let kind = if new.active {
            kinds::USER_REACTIVATED
        } else {
            kinds::USER_DEACTIVATED
        };
        out.push(
            base.clone()
                .with_kind(kind)
                .change("active", old.active, new.active)
                .build(),
        );
    }
    out
}

/// The closure [`crate::store::Store::update_user`] takes, for changes to user `id`.
pub fn of_user(id: i64) -> impl Fn(&User, &User) -> Vec<NewEvent> + Send + Sync {
    let base = Event::new(kinds::USER_UPDATED).target_user(id);
    move |old, new| user(&base, old, new)
}

/// Like [`of_user`], for a change the system makes (`by`: the directory's refresh).
pub fn of_user_by(id: i64, by: &str) -> impl Fn(&User, &User) -> Vec<NewEvent> + Send + Sync {
    let base = Event::new(kinds::USER_UPDATED)
        .target_user(id)
        .by_system(by);
    move |old, new| user(&base, old, new)
}

/// A change of one source's groups of user `id`: `user.groups.changed` with the source as
/// reason.
pub fn of_groups(
    id: i64,
    source: &str,
    by: Option<&str>,
) -> impl Fn(&[String], &[String]) -> Vec<NewEvent> + Send + Sync {
    let mut base = Event::new(kinds::GROUPS_CHANGED)
        .target_user(id)
        .reason(format!("source {source}"));
    if let Some(by) = by {
        base = base.by_system(by);
    }
    move |old, new| {
        if old == new {
            Vec::new()
        } else {
            vec![base.clone().change("groups", old, new).build()]
        }
    }
}

/// `user.created` for the user about to be made (the store gives it its id), `how`: signup,
/// admin, cli, bootstrap, oauth:<provider>, directory.
pub fn user_created(how: &str, u: &crate::store::NewUser) -> Event {
    Event::new(kinds::USER_CREATED)
        .new_user_target()
        .reason(how)
        .change("email", None::<&str>, &u.email)
        .change("role", None::<&str>, &u.role)
        .change("active", None::<bool>, u.active)
}
