//! Storage for API keys: rows found by their public prefix; only the secret's SHA-256 kept.

use super::StoreResult;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// Space-separated.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait ApiKeyStore {
    /// `Conflict` on a prefix taken already (a one in 62⁸ chance: the caller draws again).
    async fn create_api_key(&self, row: &ApiKeyRow, audit: &[super::NewEvent]) -> StoreResult<()>;
    async fn api_key_by_prefix(&self, prefix: &str) -> StoreResult<Option<ApiKeyRow>>;
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>>;
    /// A user's keys not revoked, newest first.
    async fn api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRow>>;
    /// Revokes a live key; its prefix, or `None` when there was none to revoke.
    async fn revoke_api_key(
        &self,
        id: &str,
        now: i64,
        audit: &[super::NewEvent],
    ) -> StoreResult<Option<String>>;
    /// `(prefix, id)` of keys revoked at or after `since` (every instance polls this).
    async fn revoked_api_keys_since(&self, since: i64) -> StoreResult<Vec<(String, String)>>;
    /// Records last-use times in one batch (never earlier than what is stored).
    async fn touch_api_keys(&self, used: &[(String, i64)]) -> StoreResult<()>;
    async fn set_user_kind(&self, user_id: i64, kind: &str) -> StoreResult<()>;
}
