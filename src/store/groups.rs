//! Storage for groups, kept by source: `local` (the admin's), `oauth:<provider>` (an identity
//! provider's claim at each sign-in), later a directory's. Each source replaces only its own
//! rows; a user's groups (`User::groups`) are the union of all.

use super::{StoreResult, User};
use async_trait::async_trait;

/// One group of a user and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRow {
    pub source: String,
    pub name: String,
}

#[async_trait]
pub trait GroupStore {
    /// A user's groups with their sources, by name then source.
    async fn user_groups(&self, user_id: i64) -> StoreResult<Vec<GroupRow>>;
    /// Replaces the groups `source` gives the user with `names` (a sorted set); true when that
    /// changed them. A change moves the user's `updated_at` in the same transaction, which is
    /// what other instances follow (the change feed, or the poll of [`Self::users_changed_since`]).
    async fn set_groups(
        &self,
        user_id: i64,
        source: &str,
        names: &[String],
        now: i64,
        audit: Option<&super::GroupEvents>,
    ) -> StoreResult<bool>;
    /// Users whose row changed at or after `since` (an instance without a change feed polls
    /// this so that changes another process made reach its cache).
    async fn users_changed_since(&self, since: i64) -> StoreResult<Vec<User>>;
}
