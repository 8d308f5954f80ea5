//! The SQLite side of [`OAuthStore`].

use super::oauth::{OAuthState, OAuthStore, RefreshToken};
use super::{SqliteStore, StoreResult};
use async_trait::async_trait;

const REFRESH_COLS: &str =
    "token_hash, session_id, user_id, claims, created_at, expires_at, absolute_expires_at, rotated_at, revoked_at";

#[async_trait]
impl OAuthStore for SqliteStore {
    async fn save_oauth_state(&self, s: &OAuthState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, provider, browser_hash, pkce_verifier, nonce, redirect_to, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.state_hash)
        .bind(&s.provider)
        .bind(&s.browser_hash)
        .bind(&s.pkce_verifier)
        .bind(&s.nonce)
        .bind(&s.redirect_to)
        .bind(s.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Option<OAuthState>> {
        let row: Option<OAuthState> = sqlx::query_as(
            "DELETE FROM oauth_states WHERE state_hash = ? \
             RETURNING state_hash, provider, browser_hash, pkce_verifier, nonce, redirect_to, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        sqlx::query("DELETE FROM oauth_states WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(row.filter(|s| s.expires_at > now))
    }

    async fn identity_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM identities WHERE issuer = ? AND subject = ?")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        provider: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO identities (issuer, subject, user_id, provider, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (issuer, subject) DO NOTHING",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(provider)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn save_auth_code(
        &self,
        code_hash: &str,
        user_id: i64,
        claims: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, user_id, claims, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(code_hash)
        .bind(user_id)
        .bind(claims)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn consume_auth_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(i64, String)>> {
        Ok(sqlx::query_as(
            "UPDATE auth_codes SET consumed_at = ?1 \
             WHERE code_hash = ?2 AND consumed_at IS NULL AND expires_at > ?1 RETURNING user_id, claims",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn save_refresh_token(&self, t: &RefreshToken) -> StoreResult<()> {
        insert_refresh(self.pool(), t).await
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let sql = format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?");
        Ok(sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            insert_refresh(&mut *tx, new).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn revoke_refresh_family(&self, session_id: &str, now: i64) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(session_id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}

async fn insert_refresh<'e, E: sqlx::SqliteExecutor<'e>>(
    db: E,
    t: &RefreshToken,
) -> StoreResult<()> {
    let sql =
        format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlx::query(&sql)
        .bind(&t.token_hash)
        .bind(&t.session_id)
        .bind(t.user_id)
        .bind(&t.claims)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.absolute_expires_at)
        .bind(t.rotated_at)
        .bind(t.revoked_at)
        .execute(db)
        .await?;
    Ok(())
}
