//! Rows as the rest of the gateway sees them.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set by a soft delete; such a user is gone for every purpose but the audit trail.
    pub deleted_at: Option<i64>,
    pub picture: Option<String>,
    /// False for an address nobody has proven (an OAuth sign-in whose provider did not vouch
    /// for it): then no email flow (reset, magic link, linking) reaches the account.
    pub email_verified: bool,
    /// A new address waiting for its confirmation link.
    pub pending_email: Option<String>,
    /// `user`, or `service`: an account only its API keys act for (no password, no links).
    pub kind: String,
    /// Its groups from every source (see [`crate::store::GroupStore`]), sorted, no repeats.
    #[sqlx(rename = "group_names", try_from = "Option<String>")]
    pub groups: Groups,
}

/// A user's group names, sorted and without repeats, as the store aggregates them
/// (comma-joined: a group name has no comma).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups(pub Vec<String>);

impl From<Option<String>> for Groups {
    fn from(joined: Option<String>) -> Self {
        let mut names: Vec<String> = joined
            .iter()
            .flat_map(|j| j.split(','))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        Groups(names)
    }
}

impl User {
    /// Whether a mail to the user's address may sign them in or set their password: an
    /// active account whose address someone has proven. An account an OAuth sign-in created
    /// for an address its provider did not vouch for is not, so whoever really holds that
    /// address cannot be led into it (and nobody can take it over through the address).
    pub fn reachable_by_email(&self) -> bool {
        self.active
            && self.deleted_at.is_none()
            && self.email_verified
            && !self.is_service()
            && !self.is_directory()
    }

    /// A service account: it cannot sign in, only its keys act for it.
    pub fn is_service(&self) -> bool {
        self.kind == "service"
    }

    /// A user of the directory: its password and address are the directory's.
    pub fn is_directory(&self) -> bool {
        self.kind == "directory"
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
    pub picture: Option<String>,
}

/// The outcome of a change that must never leave the gateway without an active admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded<T> {
    Done(T),
    NotFound,
    /// Refused: it would demote, deactivate or remove the last active admin.
    LastAdmin,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    /// False for a self sign-up until its email is confirmed.
    pub active: bool,
    /// False when nobody has proven the address (see [`User::email_verified`]).
    pub email_verified: bool,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub token_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub remember: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub revoked_at: Option<i64>,
    /// How the sign-in was made: RFC 8176 method names, comma-separated (`pwd,otp`).
    pub amr: String,
    pub auth_time: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: i64,
    pub token_id: String,
    pub now: i64,
    pub expires_at: i64,
    pub remember: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// See [`Session::amr`].
    pub amr: String,
}
