//! What the API shows of a user: never the password hash.

use crate::store::User;
use serde::Serialize;

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
}

pub fn rfc3339(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

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
            pending_email: u.pending_email.clone(),
        }
    }
}

/// `{ "user": ... }`, the envelope every Nuxt Users user answer comes in.
pub fn user_envelope(u: &User) -> serde_json::Value {
    serde_json::json!({ "user": NuxtUser::from(u) })
}
