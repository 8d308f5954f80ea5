//! Persistence behind one small trait, so SQLite (embedded) and PostgreSQL (shared) are
//! interchangeable. Times are Unix seconds.

pub mod api_keys;
pub mod audit;
mod changes;
pub mod console;
pub mod groups;
pub mod mfa;
mod models;
pub mod oauth;
pub mod oidc;
mod postgres;
mod sql;
mod sql_api_keys;
mod sql_audit;
mod sql_console;
mod sql_groups;
mod sql_mfa;
mod sql_oauth;
mod sql_oidc;
mod sqlite;

pub use api_keys::{ApiKeyRow, ApiKeyStore};
pub use audit::{AuditQuery, AuditRow, AuditStore, NewEvent};
pub use changes::{ChangeRow, FeedEvent};
pub use console::{ConsoleStore, KeyListing, UserSearch};
pub use groups::{GroupRow, GroupStore};
pub use mfa::{FlowRow, MfaStore, PasskeyRow, TotpRow};
pub use models::{Groups, Guarded, NewSession, NewUser, Session, User, UserChanges};
pub use oauth::{OAuthState, OAuthStore, RefreshToken};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    // Transparent: the cause is sqlx's own message, printed once in an error chain.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url: {0}")]
    Unsupported(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Makes the audit events of a user's change from the user before and after it.
pub type UserEvents = dyn Fn(&User, &User) -> Vec<NewEvent> + Send + Sync;
/// Makes the audit events of a change of groups from the names before and after it.
pub type GroupEvents = dyn Fn(&[String], &[String]) -> Vec<NewEvent> + Send + Sync;

impl StoreError {
    /// The database could not be reached (down, restarting, pool exhausted), as opposed to a
    /// query that failed: worth a 503 and a retry, never a logout.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_) => true,
                // SQLSTATE classes 08 (connection exception) and 57 (operator intervention:
                // shutting down, cannot connect now).
                sqlx::Error::Database(d) => d
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
                _ => false,
            },
            _ => false,
        }
    }
}

#[async_trait]
pub trait Store:
    OAuthStore
    + oidc::OidcStore
    + MfaStore
    + ApiKeyStore
    + GroupStore
    + AuditStore
    + ConsoleStore
    + Send
    + Sync
    + 'static
{
    /// `audit`: appended in the same transaction; an event whose target is `user` with no id
    /// gets the new user's.
    async fn create_user(&self, user: NewUser, audit: &[NewEvent]) -> StoreResult<User>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn count_users(&self) -> StoreResult<i64>;
    /// Applies `changes` unless that would leave no active admin. Conflict on a taken email.
    /// `audit` makes the change's events from the user before and after, appended in the
    /// change's transaction.
    async fn update_user(
        &self,
        id: i64,
        changes: &UserChanges,
        now: i64,
        audit: Option<&UserEvents>,
    ) -> StoreResult<Guarded<User>>;
    /// Soft delete (deactivate and mark) or hard delete, unless it removes the last active admin.
    async fn delete_user(
        &self,
        id: i64,
        hard: bool,
        now: i64,
        audit: &[NewEvent],
    ) -> StoreResult<Guarded<()>>;
    /// A page of users not deleted, by id; with `only_inactive`, inactive ones. Also the total.
    async fn list_users_page(
        &self,
        only_inactive: bool,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<User>, i64)>;
    async fn set_password(
        &self,
        id: i64,
        hash: &str,
        now: i64,
        audit: &[NewEvent],
    ) -> StoreResult<()>;
    /// A provider has now vouched for the user's address.
    async fn set_email_verified(&self, id: i64, now: i64) -> StoreResult<()>;
    /// Sets (or with `None` clears) the address waiting for its confirmation.
    async fn set_pending_email(&self, id: i64, email: Option<&str>, now: i64) -> StoreResult<()>;
    /// Makes the pending address the user's, if it is still `email`; `Conflict` when another
    /// account took it meanwhile.
    async fn apply_pending_email(
        &self,
        id: i64,
        email: &str,
        now: i64,
        audit: &[NewEvent],
    ) -> StoreResult<bool>;

    /// `None` when the user is not (or no longer) active.
    async fn create_session(
        &self,
        session: NewSession,
        audit: &[NewEvent],
    ) -> StoreResult<Option<Session>>;
    async fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Points a live session from `old_token_id` at a new token; false when it is revoked,
    /// gone, or no longer on `old_token_id` (another renewal won).
    async fn renew_session(
        &self,
        id: &str,
        old_token_id: &str,
        token_id: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// True when this call revoked it (it was live); `audit` is appended only then.
    async fn revoke_session(&self, id: &str, now: i64, audit: &[NewEvent]) -> StoreResult<bool>;
    /// Ids of sessions revoked at or after `since`: an instance on SQLite (no change feed)
    /// polls this, so a revocation made by another process (the CLI) reaches its cache.
    async fn revoked_sessions_since(&self, since: i64) -> StoreResult<Vec<String>>;
    /// Revokes every live session of a user except `keep`; returns the revoked ids. `audit`:
    /// one copy per session revoked, its target that session.
    async fn revoke_user_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        now: i64,
        audit: Option<&NewEvent>,
    ) -> StoreResult<Vec<String>>;
    /// Stores a one-time token's hash for `user_id` and `purpose`; older unused tokens of the
    /// same user and purpose are voided, so only the newest link works.
    async fn issue_one_time_token(
        &self,
        user_id: i64,
        purpose: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Consumes a live token of `purpose` (and, if given, of the user with `email`) at most once;
    /// returns its user. One statement, so of two concurrent uses exactly one succeeds.
    async fn consume_one_time_token(
        &self,
        token_hash: &str,
        purpose: &str,
        email: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<i64>>;
    /// The user's live sessions (not revoked, not expired), newest first.
    async fn list_sessions(&self, user_id: i64, now: i64) -> StoreResult<Vec<Session>>;
    /// Records last-seen times in one batch (never earlier than what is stored).
    async fn touch_sessions(&self, seen: &[(String, i64)]) -> StoreResult<()>;
    /// Deletes sessions expired before `before`; returns how many.
    async fn purge_expired_sessions(&self, before: i64) -> StoreResult<u64>;

    /// Relays what instances sharing this store change, until `tx` closes. A store no other
    /// instance shares (SQLite) has nothing to relay and returns at once.
    async fn follow_changes(&self, tx: tokio::sync::mpsc::Sender<FeedEvent>) {
        drop(tx);
    }
}

pub use crate::config::{backend, Backend};

/// Opens the store named by a database URL and runs its migrations.
pub async fn open(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    match backend(url) {
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::open(url, max_connections).await?)),
        Some(Backend::Postgres) => Ok(Arc::new(PgStore::open(url, max_connections).await?)),
        None => Err(StoreError::Unsupported(
            url.split(':').next().unwrap_or("").to_string(),
        )),
    }
}

/// Unix time in seconds, by the gateway's clock ([`crate::clock`]).
pub fn now() -> i64 {
    crate::clock::now()
}
