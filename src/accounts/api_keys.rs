//! API keys over the store: create (the key shown once), list, revoke (refused at once here,
//! within a second on every other instance: see `tasks::Revocations`).

use crate::audit::{kinds, Event};
use crate::auth::api_keys;
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, ApiKeyRow, StoreError, User};

pub const MAX_NAME: usize = 100;

/// Checks a key's name and scopes as given (the API's and the CLI's rules).
pub fn check(name: &str, scopes: &[String]) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("name must be 1 to {MAX_NAME} characters"));
    }
    if scopes.iter().any(|s| {
        s.is_empty() || s.len() > 100 || s.contains(|c: char| c.is_whitespace() || c.is_control())
    }) {
        return Err("each scope must be one word of at most 100 characters".into());
    }
    Ok(())
}

/// A new key for `owner`: its row and the whole key, which is not stored anywhere.
pub async fn create(
    state: &State,
    owner: &User,
    name: &str,
    scopes: &[String],
    expires_in: Option<std::time::Duration>,
) -> Result<(ApiKeyRow, String), Reject> {
    let made = create_in(&*state.store, owner, name, scopes, expires_in, None).await?;
    state.auth.api_keys.created(&made.0.prefix);
    Ok(made)
}

/// [`create`] on a store alone (the CLI has no running gateway); `by`: the system that
/// makes it (else the request's caller).
pub async fn create_in(
    store: &dyn crate::store::Store,
    owner: &User,
    name: &str,
    scopes: &[String],
    expires_in: Option<std::time::Duration>,
    by: Option<&str>,
) -> Result<(ApiKeyRow, String), Reject> {
    check(name, scopes).map_err(Reject::BadRequest)?;
    let mut scopes: Vec<String> = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let t = now();
    // A prefix is 62⁸ to one against a clash; draw again if it happens.
    for _ in 0..3 {
        let (key, prefix, hash) = api_keys::generate();
        let row = ApiKeyRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: owner.id,
            name: name.trim().to_string(),
            prefix,
            secret_hash: hash,
            scopes: scopes.join(" "),
            created_at: t,
            expires_at: expires_in.map(|d| t + d.as_secs() as i64),
            last_used_at: None,
            revoked_at: None,
        };
        let mut event = Event::new(kinds::API_KEY_CREATED)
            .target_user(owner.id)
            .change("key", None::<&str>, &row.id)
            .change("name", None::<&str>, &row.name)
            .change("scopes", None::<&str>, &row.scopes);
        if let Some(by) = by {
            event = event.by_system(by);
        }
        match store.create_api_key(&row, &[event.build()]).await {
            Ok(()) => return Ok((row, key)),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Reject::Internal)
}

/// Revokes key `id` (of `owner`, unless `None`: an admin's or the CLI's); false when there
/// was no such live key.
pub async fn revoke(state: &State, id: &str, owner: Option<i64>) -> Result<bool, Reject> {
    let key = match state.store.api_key(id).await? {
        Some(k) if owner.is_none_or(|o| o == k.user_id) => k,
        _ => return Ok(false),
    };
    let event = revoked_event(&key).build();
    match state.store.revoke_api_key(id, now(), &[event]).await? {
        Some(prefix) => {
            state.auth.key_revoked(&prefix, id);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `credential.api_key.revoked` for `key`.
pub fn revoked_event(key: &ApiKeyRow) -> Event {
    Event::new(kinds::API_KEY_REVOKED)
        .target_user(key.user_id)
        .change("key", Some(&key.id), None::<&str>)
}

/// Revokes every live key of a user (the directory no longer has them); how many.
pub async fn revoke_all(state: &State, owner: i64) -> Result<usize, Reject> {
    let mut n = 0;
    for k in state.store.api_keys(owner).await? {
        if revoke(state, &k.id, Some(owner)).await? {
            n += 1;
        }
    }
    Ok(n)
}
