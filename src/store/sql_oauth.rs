//! The OAuth half of the shared SQL (see [`super::sql`]): `impl OAuthStore for $store`.

pub(super) const REFRESH_COLS: &str =
    "token_hash, session_id, user_id, claims, created_at, expires_at, absolute_expires_at, rotated_at, revoked_at";
pub(super) const INSERT_REFRESH: &str =
    "INSERT INTO refresh_tokens (token_hash, session_id, user_id, claims, \
     created_at, expires_at, absolute_expires_at, rotated_at, revoked_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

macro_rules! sql_oauth_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_refresh<'e, E: sqlx::Executor<'e, Database = $db>>(
                db: E,
                t: &$crate::store::RefreshToken,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql_oauth::INSERT_REFRESH)
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
        }

        #[async_trait::async_trait]
        impl $crate::store::OAuthStore for $store {
            async fn save_oauth_state(&self, s: &$crate::store::OAuthState) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO oauth_states (state_hash, provider, browser_hash, pkce_verifier, nonce, redirect_to, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&s.state_hash)
                .bind(&s.provider)
                .bind(&s.browser_hash)
                .bind(&s.pkce_verifier)
                .bind(&s.nonce)
                .bind(&s.redirect_to)
                .bind(s.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn take_oauth_state(
                &self,
                state_hash: &str,
                now: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::OAuthState>> {
                let row: Option<$crate::store::OAuthState> = sqlx::query_as(
                    "DELETE FROM oauth_states WHERE state_hash = $1 \
                     RETURNING state_hash, provider, browser_hash, pkce_verifier, nonce, redirect_to, expires_at",
                )
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?;
                // Expired states are purged by the upkeep task, not on every sign-in.
                Ok(row.filter(|s| s.expires_at > now))
            }

            async fn identity_user(&self, issuer: &str, subject: &str) -> $crate::store::StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2",
                )
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn identity_subject(&self, issuer: &str, user_id: i64) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT subject FROM identities WHERE issuer = $1 AND user_id = $2 ORDER BY created_at LIMIT 1",
                )
                .bind(issuer)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn linked_users_with_sessions(
                &self,
                issuer: &str,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<(i64, String)>> {
                Ok(sqlx::query_as(
                    "SELECT i.user_id, i.subject FROM identities i WHERE i.issuer = $1 AND ( \
                       EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = i.user_id AND s.revoked_at IS NULL AND s.expires_at > $2) \
                       OR EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = i.user_id AND k.revoked_at IS NULL \
                                  AND (k.expires_at IS NULL OR k.expires_at > $2))) \
                     ORDER BY i.user_id",
                )
                .bind(issuer)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn link_identity(
                &self,
                issuer: &str,
                subject: &str,
                user_id: i64,
                provider: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "INSERT INTO identities (issuer, subject, user_id, provider, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, subject) DO NOTHING",
                )
                .bind(issuer)
                .bind(subject)
                .bind(user_id)
                .bind(provider)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn save_auth_code(
                &self,
                code_hash: &str,
                user_id: i64,
                claims: &str,
                expires_at: i64,
                browser_hash: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO auth_codes (code_hash, user_id, claims, expires_at, browser_hash) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(code_hash)
                .bind(user_id)
                .bind(claims)
                .bind(expires_at)
                .bind(browser_hash)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consume_auth_code(
                &self,
                code_hash: &str,
                browser_hash: &str,
                now: i64,
            ) -> $crate::store::StoreResult<Option<(i64, String)>> {
                Ok(sqlx::query_as(
                    "UPDATE auth_codes SET consumed_at = $1 \
                     WHERE code_hash = $2 AND browser_hash = $3 AND consumed_at IS NULL AND expires_at > $1 \
                     RETURNING user_id, claims",
                )
                .bind(now)
                .bind(code_hash)
                .bind(browser_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn purge_oauth(&self, now: i64) -> $crate::store::StoreResult<u64> {
                let states = sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                let codes = sqlx::query("DELETE FROM auth_codes WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(states + codes)
            }

            async fn save_refresh_token(&self, t: &$crate::store::RefreshToken) -> $crate::store::StoreResult<()> {
                Self::insert_refresh(&self.pool, t).await
            }

            async fn refresh_token(
                &self,
                token_hash: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::RefreshToken>> {
                let sql = format!(
                    "SELECT {} FROM refresh_tokens WHERE token_hash = $1",
                    $crate::store::sql_oauth::REFRESH_COLS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                new: &$crate::store::RefreshToken,
                now: i64,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1 \
                     WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(old_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if done {
                    Self::insert_refresh(&mut *tx, new).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn revoke_refresh_family(&self, session_id: &str, now: i64) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(session_id)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }
        }
    };
}
pub(super) use sql_oauth_store;
