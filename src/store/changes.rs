//! The change feed: what other instances sharing the store changed, for this instance's cache
//! to follow. Only a shared store (PostgreSQL) has one.

/// One change, as recorded by the database in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChangeRow {
    pub id: i64,
    /// `session` or `user`.
    pub kind: String,
    pub session_id: Option<String>,
    pub user_id: i64,
    pub token_id: Option<String>,
    pub expires_at: Option<i64>,
    pub remember: Option<bool>,
    pub revoked: Option<bool>,
    /// When the database recorded it, Unix milliseconds (for the lag histogram).
    pub at_ms: i64,
}

/// What the follower hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A change to apply. `fresh` is false for rows re-read after a reconnect, which may have
    /// been applied already (applying is idempotent) and whose lag says nothing.
    Change { row: ChangeRow, fresh: bool },
    /// The feed lost its connection at this Unix second: cached sessions are only trusted for
    /// the configured grace from now on.
    Lost { since: i64 },
    /// The feed is back and has caught up.
    Restored,
}
