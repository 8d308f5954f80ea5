//! Storage for OAuth sign-in: states, identities, one-time authorization codes, refresh tokens.

use super::StoreResult;
use async_trait::async_trait;

/// A sign-in in progress, bound to one browser.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OAuthState {
    pub state_hash: String,
    pub provider: String,
    pub browser_hash: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub redirect_to: Option<String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshToken {
    pub token_hash: String,
    pub session_id: String,
    pub user_id: i64,
    /// The extra access-token claims (provider, picture, custom), as JSON.
    pub claims: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait OAuthStore {
    async fn save_oauth_state(&self, s: &OAuthState) -> StoreResult<()>;
    /// Removes and returns a live state: each can be used once.
    async fn take_oauth_state(&self, state_hash: &str, now: i64)
        -> StoreResult<Option<OAuthState>>;
    async fn identity_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<i64>>;
    /// The subject `user_id` is linked under at `issuer` (the first, should there be several).
    async fn identity_subject(&self, issuer: &str, user_id: i64) -> StoreResult<Option<String>>;
    /// `(user, subject)` of the users linked under `issuer` that hold a live session or API
    /// key at `now`: whom a directory refresh reads again.
    async fn linked_users_with_sessions(
        &self,
        issuer: &str,
        now: i64,
    ) -> StoreResult<Vec<(i64, String)>>;
    /// `audit` appended when the link is new.
    async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        provider: &str,
        now: i64,
        audit: &[super::NewEvent],
    ) -> StoreResult<()>;
    /// A one-time code for `user_id`, redeemable only by the browser whose state cookie
    /// hashes to `browser_hash`.
    async fn save_auth_code(
        &self,
        code_hash: &str,
        user_id: i64,
        claims: &str,
        expires_at: i64,
        browser_hash: &str,
    ) -> StoreResult<()>;
    /// Consumes a live code once, presented by the browser it was issued to; its user and
    /// claims.
    async fn consume_auth_code(
        &self,
        code_hash: &str,
        browser_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(i64, String)>>;
    /// Deletes expired sign-in states and codes; how many.
    async fn purge_oauth(&self, now: i64) -> StoreResult<u64>;
    async fn save_refresh_token(&self, t: &RefreshToken) -> StoreResult<()>;
    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// Marks `old` rotated and stores `new`, only if `old` was live and not yet rotated; false
    /// when another request rotated it first.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        now: i64,
    ) -> StoreResult<bool>;
    /// Revokes every refresh token of a session; how many.
    async fn revoke_refresh_family(&self, session_id: &str, now: i64) -> StoreResult<u64>;
}
