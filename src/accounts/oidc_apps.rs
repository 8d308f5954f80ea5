//! The apps a user signed in to through the OpenID provider: listed on the account page and
//! in the console, revoked one at a time (its tokens end, its back-channel logout is queued
//! and the remembered consent forgotten, so the next sign-in asks again).

use crate::audit::{kinds, Event};
use crate::clock::rfc3339;
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, oidc::Grant};

/// One app with access, as the pages show it.
#[derive(Debug, serde::Serialize)]
pub struct AppAccess {
    pub grant: String,
    pub client: String,
    /// The client's display name (its id where the config no longer has it).
    pub name: String,
    pub scopes: String,
    /// Access that outlives the session (`offline_access`).
    pub offline: bool,
    pub created: String,
    pub last_used: String,
}

fn shown(state: &State, g: &Grant) -> AppAccess {
    let name = state
        .config()
        .oidc_provider
        .as_ref()
        .and_then(|op| op.clients.get(&g.client_id).map(|c| c.name.clone()))
        .unwrap_or_else(|| g.client_id.clone());
    AppAccess {
        grant: g.id.clone(),
        client: g.client_id.clone(),
        name,
        scopes: g.scopes.clone(),
        offline: g.offline,
        created: rfc3339(g.created_at),
        last_used: rfc3339(g.last_used_at),
    }
}

/// The user's live grants, newest first.
pub async fn of_user(state: &State, user_id: i64) -> Result<Vec<AppAccess>, Reject> {
    let grants = state.store.user_grants(user_id, now()).await?;
    Ok(grants.iter().map(|g| shown(state, g)).collect())
}

/// A client's live grants, newest first, at most `limit`, with the user each is for.
pub async fn of_client(
    state: &State,
    client_id: &str,
    limit: i64,
) -> Result<Vec<(AppAccess, i64)>, Reject> {
    let grants = state.store.client_grants(client_id, now(), limit).await?;
    Ok(grants
        .iter()
        .map(|g| (shown(state, g), g.user_id))
        .collect())
}

/// Revokes grant `id` (only `owner`'s, when given): false when there is no such live grant.
pub async fn revoke(state: &State, id: &str, owner: Option<i64>) -> Result<bool, Reject> {
    let g = match state.store.grant(id).await? {
        Some(g) if g.live(now()) && owner.is_none_or(|o| o == g.user_id) => g,
        _ => return Ok(false),
    };
    let event = Event::new(kinds::OIDC_CONSENT_REVOKED)
        .target_user(g.user_id)
        .change("client", Some(&g.client_id), None::<&str>)
        .change("scope", Some(&g.scopes), None::<&str>)
        .build();
    if !state.store.revoke_grant(&g.id, now(), &[event]).await? {
        return Ok(false);
    }
    state.store.delete_consent(g.user_id, &g.client_id).await?;
    Ok(true)
}
