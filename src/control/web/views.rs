//! What the API shows of a user: never the password hash.

use crate::error::Reject;
use crate::state::State;
use crate::store::now;
use crate::store::User;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// From every source, sorted.
    pub groups: Vec<String>,
}

pub use crate::clock::rfc3339;

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            active: u.active,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            groups: u.groups.0.clone(),
        }
    }
}

/// A user as the Nuxt Users contract shows it (snake_case timestamps), plus `pendingEmail`
/// while an email change waits for its confirmation.
#[derive(Debug, Serialize)]
pub struct NuxtUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// From every source, sorted.
    pub groups: Vec<String>,
    #[serde(rename = "pendingEmail", skip_serializing_if = "Option::is_none")]
    pub pending_email: Option<String>,
}

impl From<&User> for NuxtUser {
    fn from(u: &User) -> Self {
        NuxtUser {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            active: u.active,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            groups: u.groups.0.clone(),
            pending_email: u.pending_email.clone(),
        }
    }
}

/// `{ "user": ... }`, the envelope every Nuxt Users user answer comes in.
pub fn user_envelope(u: &User) -> serde_json::Value {
    serde_json::json!({ "user": NuxtUser::from(u) })
}

/// The caller's live sessions as shown to people: device, times, which one is this.
pub async fn describe(state: &State, id: &crate::auth::Identity) -> Result<Vec<Value>, Reject> {
    sessions_of(state, id.user.id, Some(id.session_id)).await
}

/// A user agent as people say it: (browser, system, device kind), each when known.
pub fn device(ua: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    let parsed = ua.and_then(|u| woothee::parser::Parser::new().parse(u));
    let with_version = |name: &str, version: &str| match (name, version) {
        ("UNKNOWN", _) => None,
        (n, "UNKNOWN") | (n, "") => Some(n.to_string()),
        (n, v) => Some(format!("{n} {v}")),
    };
    match parsed {
        Some(u) => (
            with_version(u.name, u.version),
            with_version(u.os, &u.os_version),
            Some(u.category.to_string()).filter(|c| c != "UNKNOWN"),
        ),
        None => (None, None, None),
    }
}

/// User `uid`'s live sessions as shown to people; `current` is marked as this device.
pub async fn sessions_of(
    state: &State,
    uid: i64,
    current: Option<Uuid>,
) -> Result<Vec<Value>, Reject> {
    let rows = state.store.list_sessions(uid, now()).await?;
    Ok(rows
        .iter()
        .map(|s| {
            let uuid = Uuid::parse_str(&s.id).unwrap_or_default();
            // The store lags by up to a batch; memory knows the latest.
            let last_seen = state
                .auth
                .cache
                .last_seen(&uuid)
                .unwrap_or(0)
                .max(s.last_seen_at);
            let (browser, os, device) = device(s.user_agent.as_deref());
            json!({
                "id": s.id,
                "createdAt": rfc3339(s.created_at),
                "lastSeenAt": rfc3339(last_seen),
                "expiresAt": rfc3339(s.expires_at),
                "ip": s.ip,
                "userAgent": s.user_agent,
                "browser": browser,
                "os": os,
                "device": device,
                "isCurrent": Some(uuid) == current,
            })
        })
        .collect())
}
