//! Directory users: people the user directory signs in. Their first sign-in makes a local
//! user of kind `directory`, keyed by the entry's stable id (an identity of issuer
//! `directory`), so sessions, second factors, passkeys and API keys work for them as for
//! anyone; their email, name and groups (source `ldap`) are copied at each sign-in and at each
//! refresh. Their password, and their address, are the directory's.

use crate::directory::{DirError, Directory, Entry, SignIn};
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, Guarded, NewUser, StoreError, User, UserChanges};
use secrecy::SecretString;

/// The identity issuer a directory user is linked under.
pub const ISSUER: &str = "directory";
/// The `kind` of a local user the directory made.
pub const KIND: &str = "directory";
/// Where the directory's groups are kept (apart from the admin's and providers').
pub const GROUP_SOURCE: &str = "ldap";

/// What the directory said of a sign-in.
pub enum Found {
    /// Signed in: the local user, as now stored.
    User(Box<User>),
    /// The directory does not know this login.
    NotHere,
    /// It knows them and the password is not theirs (or the account may not be linked).
    Refused,
}

/// The 409 of a credential the directory owns.
pub fn managed() -> Reject {
    Reject::Conflict("This account is managed by the directory: change it there".into())
}

/// Counts the directory as up or down, for `/healthz`, and turns an outage into a 503 (a
/// sign-in that could not be checked is never "incorrect credentials").
fn outage(state: &State, e: DirError) -> Reject {
    state
        .directory_up
        .store(false, std::sync::atomic::Ordering::Relaxed);
    match e {
        DirError::ServiceAccount(why) => {
            tracing::error!("{why}: directory sign-ins fail until directory.ldap.bind_dn can bind")
        }
        e => tracing::warn!(error = %e, "directory sign-in could not be checked"),
    }
    Reject::Unavailable
}

/// Signs `login` in against the directory. `local`: the local account (not a directory one)
/// with that address, which a first sign-in takes over only with `link_by_email`.
pub async fn sign_in(
    state: &State,
    dir: &dyn Directory,
    login: &str,
    password: &SecretString,
    local: Option<&User>,
) -> Result<Found, Reject> {
    let entry = match dir.sign_in(login, password).await {
        Ok(SignIn::Entry(e)) => e,
        Ok(SignIn::Unknown) => return Ok(Found::NotHere),
        Ok(SignIn::WrongPassword) => return Ok(Found::Refused),
        Err(e) => return Err(outage(state, e)),
    };
    state
        .directory_up
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let cfg = state.config();
    let Some(settings) = cfg.directory.as_ref() else {
        return Ok(Found::NotHere);
    };
    let linked = state.store.identity_user(ISSUER, &entry.id).await?;
    let user = match linked {
        Some(uid) => match state.store.user_by_id(uid).await? {
            Some(u) if u.deleted_at.is_none() => u,
            _ => {
                tracing::warn!(entry = %entry.dn, "directory sign-in refused: its local user was deleted");
                return Ok(Found::Refused);
            }
        },
        None => {
            let Some(email) = entry
                .email
                .as_deref()
                .and_then(crate::auth::policy::normalize_email)
            else {
                tracing::warn!(entry = %entry.dn, "directory sign-in refused: the entry has no usable email address");
                return Ok(Found::Refused);
            };
            let existing = match local {
                Some(u) => Some(u.clone()),
                None => state.store.user_by_email(&email).await?,
            };
            match existing {
                Some(u) if settings.link_by_email && !u.is_service() && u.deleted_at.is_none() => {
                    state.store.set_user_kind(u.id, KIND).await?;
                    state
                        .store
                        .link_identity(ISSUER, &entry.id, u.id, "ldap", now(), &[link_event(u.id)])
                        .await?;
                    tracing::info!(user = u.id, entry = %entry.dn, "local account linked to its directory entry (link_by_email)");
                    u
                }
                Some(u) => {
                    tracing::warn!(
                        user = u.id,
                        entry = %entry.dn,
                        "directory sign-in refused: a local account has this entry's address; set directory.ldap.link_by_email: true to link them"
                    );
                    return Ok(Found::Refused);
                }
                None => {
                    let new_user = NewUser {
                        email,
                        name: entry.name.clone().unwrap_or_else(|| login.to_string()),
                        role: settings.role.clone(),
                        password_hash: None,
                        active: true,
                        // The directory vouches for its people's addresses.
                        email_verified: true,
                        now: now(),
                    };
                    let event = crate::audit::changes::user_created("directory", &new_user).build();
                    let created = state.store.create_user(new_user, &[event]).await;
                    let u = match created {
                        Ok(u) => u,
                        Err(StoreError::Conflict) => return Ok(Found::Refused),
                        Err(e) => return Err(e.into()),
                    };
                    state.store.set_user_kind(u.id, KIND).await?;
                    state
                        .store
                        .link_identity(ISSUER, &entry.id, u.id, "ldap", now(), &[link_event(u.id)])
                        .await?;
                    u
                }
            }
        }
    };
    Ok(Found::User(Box::new(follow(state, user.id, &entry).await?)))
}

/// `identity.oauth.linked` for the directory: its entry now signs user `id` in.
fn link_event(id: i64) -> crate::store::NewEvent {
    crate::audit::Event::new(crate::audit::kinds::OAUTH_LINKED)
        .by_system("directory")
        .target_user(id)
        .reason("directory")
        .change("provider", None::<&str>, "ldap")
        .build()
}

/// Copies what the directory says of a user (email, name, groups) into the local user, and
/// publishes the change; the user as now stored.
pub async fn follow(state: &State, uid: i64, entry: &Entry) -> Result<User, Reject> {
    let Some(user) = state.store.user_by_id(uid).await? else {
        return Err(Reject::NotFound);
    };
    let email = entry
        .email
        .as_deref()
        .and_then(crate::auth::policy::normalize_email)
        .filter(|e| *e != user.email);
    let name = entry
        .name
        .clone()
        .filter(|n| *n != user.name && crate::auth::policy::check_name(n).is_ok());
    let mut user = user;
    if email.is_some() || name.is_some() {
        let changes = UserChanges {
            email,
            name,
            ..Default::default()
        };
        match state
            .store
            .update_user(
                uid,
                &changes,
                now(),
                Some(&crate::audit::changes::of_user_by(uid, "directory")),
            )
            .await
        {
            Ok(Guarded::Done(u)) => user = u,
            Err(StoreError::Conflict) => {
                tracing::warn!(user = uid, "the directory's new address for this user is another account's; kept the old one")
            }
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let changed = state
        .store
        .set_groups(
            uid,
            GROUP_SOURCE,
            &entry.groups,
            now(),
            Some(&crate::audit::changes::of_groups(
                uid,
                GROUP_SOURCE,
                Some("directory"),
            )),
        )
        .await?;
    if changed {
        if let Some(u) = state.store.user_by_id(uid).await? {
            user = u;
        }
    }
    state.user_changed(&user);
    Ok(user)
}

/// Reads again every directory user with a live session, in batches: one the directory no
/// longer has (removed, or disabled) has its sessions and API keys ended; the others follow
/// it (address, name, groups). An unreachable directory changes nothing: live sessions keep
/// working. With nobody to read, the service account binds, so health is known before the
/// first sign-in. How many users were ended.
pub async fn refresh(state: &State) -> Result<usize, Reject> {
    let Some(dir) = state.directory.clone() else {
        return Ok(0);
    };
    let known = state
        .store
        .linked_users_with_sessions(ISSUER, now())
        .await?;
    if known.is_empty() {
        // Nobody to read again: one bind of the service account keeps `/healthz` true.
        let up = dir.check().await.is_ok();
        state
            .directory_up
            .store(up, std::sync::atomic::Ordering::Relaxed);
        return if up { Ok(0) } else { Err(Reject::Unavailable) };
    }
    let ids: Vec<String> = known.iter().map(|(_, id)| id.clone()).collect();
    let found = match dir.by_ids(&ids).await {
        Ok(found) => found,
        Err(e) => {
            state
                .directory_up
                .store(false, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "directory refresh skipped: live sessions keep working");
            return Err(Reject::Unavailable);
        }
    };
    state
        .directory_up
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut ended = 0;
    for (uid, id) in &known {
        match found.iter().find(|e| e.id == *id) {
            Some(entry) => {
                follow(state, *uid, entry).await?;
            }
            None => {
                gone(state, *uid).await?;
                ended += 1;
            }
        }
    }
    Ok(ended)
}

/// Ends what a user the directory no longer has (removed, or disabled) still holds here: its
/// sessions and API keys.
async fn gone(state: &State, uid: i64) -> Result<(), Reject> {
    let sessions = state.end_user_sessions(uid, None, "directory").await?;
    let keys = crate::accounts::api_keys::revoke_all(state, uid).await?;
    tracing::info!(
        user = uid,
        sessions,
        keys,
        "directory user gone or disabled in the directory: sessions and API keys ended"
    );
    Ok(())
}

/// Before a directory user signs in without a password the directory just checked (a passkey,
/// a linked provider): asks the directory whether they are still there, so one removed or
/// disabled since the last refresh cannot come back that way. Still there: followed (groups
/// current from the first request): the user as now stored. Unreachable: allowed, as live
/// sessions are.
pub async fn still_there(state: &State, user: &User) -> Result<User, Reject> {
    let Some(dir) = state.directory.clone() else {
        return Ok(user.clone());
    };
    let Some(id) = state.store.identity_subject(ISSUER, user.id).await? else {
        return Ok(user.clone());
    };
    match dir.by_ids(std::slice::from_ref(&id)).await {
        Ok(found) => match found.iter().find(|e| e.id == id) {
            Some(entry) => follow(state, user.id, entry).await,
            None => {
                gone(state, user.id).await?;
                Err(Reject::Forbidden(
                    "This account is no longer in the directory",
                ))
            }
        },
        Err(e) => {
            state
                .directory_up
                .store(false, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(user = user.id, error = %e, "directory unreachable: a sign-in without its password goes ahead unchecked, as live sessions do");
            Ok(user.clone())
        }
    }
}
