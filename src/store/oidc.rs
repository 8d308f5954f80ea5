//! Storage for the OpenID provider: grants, codes, refresh tokens, consents and the
//! back-channel logouts owed. Sessions ending (`Store::revoke_session`,
//! `revoke_user_sessions`) end their grants and queue the logouts in the same transaction, so
//! no way out of a session can forget an app.

use super::{NewEvent, StoreResult};
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub user_id: i64,
    pub session_id: Option<String>,
    /// Space-separated.
    pub scopes: String,
    pub offline: bool,
    pub auth_time: i64,
    /// Comma-separated RFC 8176 names.
    pub amr: String,
    pub acr: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Grant {
    pub fn live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Code {
    pub code_hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcRefresh {
    pub token_hash: String,
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    /// The token that replaced it (its hash), once rotated.
    pub successor: Option<String>,
}

/// What a code's redemption found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Unused until now: it is used from here on.
    Fresh(Box<(Code, Grant)>),
    /// Already redeemed once: its grant, and every token issued from it, is revoked now
    /// (RFC 6749 §4.1.2).
    Reused {
        client_id: String,
    },
    Unknown,
}

/// A back-channel logout to send.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Logout {
    pub id: i64,
    pub client_id: String,
    pub user_id: i64,
    pub session_id: String,
    pub attempts: i64,
}

#[async_trait]
pub trait OidcStore {
    /// A new grant and the code that hands it over, with `audit` in the same transaction.
    async fn create_grant_with_code(
        &self,
        g: &Grant,
        c: &Code,
        audit: &[NewEvent],
    ) -> StoreResult<()>;
    /// A grant of its own (client_credentials: no code, no session).
    async fn create_grant(&self, g: &Grant) -> StoreResult<()>;
    /// Redeems a code once; a second redemption revokes the grant it made.
    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<Redeemed>;
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// The grant while it lives at `now`: not revoked or expired, its session (unless it is an
    /// offline or sessionless grant) not ended, its user active. One query, for the check an
    /// access token gets at every introspection and userinfo call.
    async fn live_grant(&self, id: &str, now: i64) -> StoreResult<Option<Grant>>;
    async fn touch_grant(&self, id: &str, now: i64) -> StoreResult<()>;
    /// Revokes a grant (its refresh and access tokens with it) and, where it came through a
    /// session, queues that client's back-channel logout. False if it was not live.
    async fn revoke_grant(&self, id: &str, now: i64, audit: &[NewEvent]) -> StoreResult<bool>;
    /// The user's live grants, newest first.
    async fn user_grants(&self, user_id: i64, now: i64) -> StoreResult<Vec<Grant>>;
    /// The client's live grants, newest first, at most `limit`.
    async fn client_grants(&self, client_id: &str, now: i64, limit: i64)
        -> StoreResult<Vec<Grant>>;
    async fn save_oidc_refresh(&self, t: &OidcRefresh) -> StoreResult<()>;
    async fn oidc_refresh(&self, token_hash: &str) -> StoreResult<Option<OidcRefresh>>;
    /// Marks `old` rotated to `new` and stores `new`, only if `old` was not rotated yet.
    async fn rotate_oidc_refresh(
        &self,
        old_hash: &str,
        new: &OidcRefresh,
        now: i64,
    ) -> StoreResult<bool>;
    /// The scopes the user consented to for the client, while the consent lasts.
    async fn consent(&self, user_id: i64, client_id: &str, now: i64)
        -> StoreResult<Option<String>>;
    async fn save_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scopes: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    async fn delete_consent(&self, user_id: i64, client_id: &str) -> StoreResult<()>;
    /// Ends the grants of sessions that expired (no logout reached them) and queues their
    /// back-channel logouts; how many grants.
    async fn end_expired_session_grants(&self, now: i64) -> StoreResult<u64>;
    /// Claims up to `limit` due logouts until `until`, for this instance to send.
    async fn claim_logouts(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<Logout>>;
    async fn logout_sent(&self, id: i64, now: i64) -> StoreResult<()>;
    /// A failed attempt: tried again at `next_at`, or given up on (`None`).
    async fn logout_failed(
        &self,
        id: i64,
        now: i64,
        next_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
    /// Logouts not yet sent nor given up on.
    async fn logout_backlog(&self) -> StoreResult<i64>;
    /// Deletes used or expired codes, dead refresh tokens and grants, sent logouts; how many.
    async fn purge_oidc(&self, now: i64) -> StoreResult<u64>;
}
