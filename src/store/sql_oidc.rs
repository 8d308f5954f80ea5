//! The OpenID provider's half of the shared SQL (see [`super::sql`]): `impl OidcStore for
//! $store`, and the step every session-ending change runs in its own transaction.

pub(super) const GRANT_COLS: &str = "id, client_id, user_id, session_id, scopes, offline, auth_time, amr, acr, created_at, last_used_at, expires_at, revoked_at";
/// The same columns, of the alias `g`.
pub(super) const GRANT_COLS_G: &str = "g.id, g.client_id, g.user_id, g.session_id, g.scopes, g.offline, g.auth_time, g.amr, g.acr, g.created_at, g.last_used_at, g.expires_at, g.revoked_at";
pub(super) const CODE_COLS: &str =
    "code_hash, grant_id, redirect_uri, code_challenge, nonce, expires_at, used_at";
pub(super) const REFRESH_COLS: &str =
    "token_hash, grant_id, created_at, expires_at, rotated_at, successor";

/// How long a used code is remembered, to tell a replay from a stranger's guess.
pub(super) const USED_CODE_KEPT: i64 = 3600;

macro_rules! sql_oidc_store {
    ($store:ty, $db:ty, $skip_locked:expr) => {
        impl $store {
            /// In `tx`: the grants that came through the sessions `ids` end (offline ones
            /// outlive a single logout, never `whole_user`'s end), and each client that received
            /// tokens under one of them is owed a back-channel logout. With `whole_user`, every
            /// grant of that user ends but the kept session's.
            pub(super) async fn end_oidc_sessions_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                ids: &[String],
                now: i64,
                whole_user: Option<(i64, Option<&str>)>,
            ) -> $crate::store::StoreResult<()> {
                for id in ids {
                    // Each client with a live grant under the session (one whose grant was
                    // revoked before was told then).
                    sqlx::query(
                        "INSERT INTO oidc_logouts (client_id, user_id, session_id, created_at, next_at) \
                         SELECT DISTINCT client_id, user_id, session_id, $2, $2 FROM oidc_grants \
                         WHERE session_id = $1 AND revoked_at IS NULL",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query(
                        "UPDATE oidc_grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL AND NOT offline",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                }
                if let Some((user_id, keep)) = whole_user {
                    sqlx::query(
                        "UPDATE oidc_grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
                         AND session_id IS DISTINCT FROM $3",
                    )
                    .bind(user_id)
                    .bind(now)
                    .bind(keep)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            async fn insert_grant<'e, E: sqlx::Executor<'e, Database = $db>>(
                db: E,
                g: &$crate::store::oidc::Grant,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO oidc_grants (id, client_id, user_id, session_id, scopes, offline, auth_time, amr, acr, \
                     created_at, last_used_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&g.id)
                .bind(&g.client_id)
                .bind(g.user_id)
                .bind(&g.session_id)
                .bind(&g.scopes)
                .bind(g.offline)
                .bind(g.auth_time)
                .bind(&g.amr)
                .bind(&g.acr)
                .bind(g.created_at)
                .bind(g.last_used_at)
                .bind(g.expires_at)
                .bind(g.revoked_at)
                .execute(db)
                .await?;
                Ok(())
            }

            async fn insert_oidc_refresh<'e, E: sqlx::Executor<'e, Database = $db>>(
                db: E,
                t: &$crate::store::oidc::OidcRefresh,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at, successor) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&t.token_hash)
                .bind(&t.grant_id)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.rotated_at)
                .bind(&t.successor)
                .execute(db)
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::oidc::OidcStore for $store {
            async fn create_grant_with_code(
                &self,
                g: &$crate::store::oidc::Grant,
                c: &$crate::store::oidc::Code,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_grant(&mut *tx, g).await?;
                sqlx::query(&format!(
                    "INSERT INTO oidc_codes ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    $crate::store::sql_oidc::CODE_COLS
                ))
                .bind(&c.code_hash)
                .bind(&c.grant_id)
                .bind(&c.redirect_uri)
                .bind(&c.code_challenge)
                .bind(&c.nonce)
                .bind(c.expires_at)
                .bind(c.used_at)
                .execute(&mut *tx)
                .await?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_grant(&self, g: &$crate::store::oidc::Grant) -> $crate::store::StoreResult<()> {
                Self::insert_grant(&self.pool, g).await
            }

            async fn redeem_code(
                &self,
                code_hash: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::oidc::Redeemed> {
                use $crate::store::oidc::{Code, Grant, Redeemed};
                let mut tx = self.begin_write().await?;
                let fresh: Option<Code> = sqlx::query_as(&format!(
                    "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING {}",
                    $crate::store::sql_oidc::CODE_COLS
                ))
                .bind(code_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let out = match fresh {
                    Some(code) => {
                        let grant: Option<Grant> = sqlx::query_as(&format!(
                            "SELECT {} FROM oidc_grants WHERE id = $1",
                            $crate::store::sql_oidc::GRANT_COLS
                        ))
                        .bind(&code.grant_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match grant {
                            Some(g) => Redeemed::Fresh(Box::new((code, g))),
                            None => Redeemed::Unknown,
                        }
                    }
                    None => {
                        let client: Option<String> = sqlx::query_scalar(
                            "UPDATE oidc_grants SET revoked_at = COALESCE(revoked_at, $2) \
                             WHERE id = (SELECT grant_id FROM oidc_codes WHERE code_hash = $1) RETURNING client_id",
                        )
                        .bind(code_hash)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match client {
                            Some(client_id) => Redeemed::Reused { client_id },
                            None => Redeemed::Unknown,
                        }
                    }
                };
                tx.commit().await?;
                Ok(out)
            }

            async fn grant(&self, id: &str) -> $crate::store::StoreResult<Option<$crate::store::oidc::Grant>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM oidc_grants WHERE id = $1",
                    $crate::store::sql_oidc::GRANT_COLS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn live_grant(
                &self,
                id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::oidc::Grant>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM oidc_grants g \
                     WHERE g.id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2 \
                     AND (g.offline OR g.session_id IS NULL OR EXISTS (SELECT 1 FROM sessions s \
                          WHERE s.id = g.session_id AND s.revoked_at IS NULL AND s.expires_at > $2)) \
                     AND EXISTS (SELECT 1 FROM users u \
                          WHERE u.id = g.user_id AND u.active AND u.deleted_at IS NULL)",
                    $crate::store::sql_oidc::GRANT_COLS_G
                ))
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn touch_grant(&self, id: &str, now: i64) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE oidc_grants SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn revoke_grant(
                &self,
                id: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
                    "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                     RETURNING client_id, user_id, session_id",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((client_id, user_id, Some(session_id))) = &row {
                    sqlx::query(
                        "INSERT INTO oidc_logouts (client_id, user_id, session_id, created_at, next_at) \
                         VALUES ($1, $2, $3, $4, $4)",
                    )
                    .bind(client_id)
                    .bind(user_id)
                    .bind(session_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                if row.is_some() {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(row.is_some())
            }

            async fn user_grants(&self, user_id: i64, now: i64) -> $crate::store::StoreResult<Vec<$crate::store::oidc::Grant>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM oidc_grants WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at DESC, id",
                    $crate::store::sql_oidc::GRANT_COLS
                ))
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn client_grants(
                &self,
                client_id: &str,
                now: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::oidc::Grant>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM oidc_grants WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at DESC, id LIMIT $3",
                    $crate::store::sql_oidc::GRANT_COLS
                ))
                .bind(client_id)
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn save_oidc_refresh(&self, t: &$crate::store::oidc::OidcRefresh) -> $crate::store::StoreResult<()> {
                Self::insert_oidc_refresh(&self.pool, t).await
            }

            async fn oidc_refresh(&self, token_hash: &str) -> $crate::store::StoreResult<Option<$crate::store::oidc::OidcRefresh>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM oidc_refresh_tokens WHERE token_hash = $1",
                    $crate::store::sql_oidc::REFRESH_COLS
                ))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn rotate_oidc_refresh(
                &self,
                old_hash: &str,
                new: &$crate::store::oidc::OidcRefresh,
                now: i64,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "UPDATE oidc_refresh_tokens SET rotated_at = $2, successor = $3 WHERE token_hash = $1 AND rotated_at IS NULL",
                )
                .bind(old_hash)
                .bind(now)
                .bind(&new.token_hash)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_oidc_refresh(&mut *tx, new).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn consent(&self, user_id: i64, client_id: &str, now: i64) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT scopes FROM oidc_consents WHERE user_id = $1 AND client_id = $2 AND expires_at > $3",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn save_consent(
                &self,
                user_id: i64,
                client_id: &str,
                scopes: &str,
                expires_at: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO oidc_consents (user_id, client_id, scopes, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, expires_at = excluded.expires_at",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(scopes)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_consent(&self, user_id: i64, client_id: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn end_expired_session_grants(&self, now: i64) -> $crate::store::StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                // Sessions gone or past their expiry with grants still live (ending them is
                // what marks them told; offline grants outlive their session, untold).
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT g.session_id FROM oidc_grants g LEFT JOIN sessions s ON s.id = g.session_id \
                     WHERE g.session_id IS NOT NULL AND g.revoked_at IS NULL AND NOT g.offline \
                     AND (s.id IS NULL OR s.expires_at <= $1) LIMIT 500",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                Self::end_oidc_sessions_in(&mut tx, &ids, now, None).await?;
                tx.commit().await?;
                Ok(ids.len() as u64)
            }

            async fn claim_logouts(
                &self,
                now: i64,
                until: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::oidc::Logout>> {
                let sql = format!(
                    "UPDATE oidc_logouts SET claimed_until = $2 WHERE id IN (\
                       SELECT id FROM oidc_logouts WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1 \
                       AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY id LIMIT $3 {}) \
                     RETURNING id, client_id, user_id, session_id, attempts",
                    $skip_locked
                );
                Ok(sqlx::query_as(&sql)
                    .bind(now)
                    .bind(until)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn logout_sent(&self, id: i64, now: i64) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE oidc_logouts SET sent_at = $2, claimed_until = NULL, attempts = attempts + 1 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn logout_failed(
                &self,
                id: i64,
                now: i64,
                next_at: Option<i64>,
                error: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE oidc_logouts SET attempts = attempts + 1, claimed_until = NULL, last_error = $3, \
                     next_at = COALESCE($4, next_at), failed_at = CASE WHEN $4 IS NULL THEN $2 ELSE NULL END WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(error)
                .bind(next_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn logout_backlog(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM oidc_logouts WHERE sent_at IS NULL AND failed_at IS NULL")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn purge_oidc(&self, now: i64) -> $crate::store::StoreResult<u64> {
                let week = 7 * 86_400;
                let mut n = 0;
                for (sql, at) in [
                    ("DELETE FROM oidc_codes WHERE expires_at < $1", now - $crate::store::sql_oidc::USED_CODE_KEPT),
                    ("DELETE FROM oidc_refresh_tokens WHERE expires_at < $1", now),
                    ("DELETE FROM oidc_grants WHERE revoked_at < $1 OR expires_at < $1", now - week),
                    ("DELETE FROM oidc_consents WHERE expires_at < $1", now),
                    ("DELETE FROM oidc_logouts WHERE sent_at < $1 OR failed_at < $1", now - week),
                ] {
                    n += sqlx::query(sql).bind(at).execute(&self.pool).await?.rows_affected();
                }
                Ok(n)
            }
        }
    };
}
pub(super) use sql_oidc_store;
