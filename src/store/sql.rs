//! The SQL both stores run: one text per operation, written in the dialect SQLite and
//! PostgreSQL share (`$n` parameters, `RETURNING`, `IS DISTINCT FROM`, boolean literals), so
//! the two backends cannot drift apart. Each store expands [`sql_store!`] for its own pool;
//! their schemas differ only in their migrations.

pub(super) const USER_COLS: &str =
    "id, email, name, role, active, password_hash, created_at, updated_at, deleted_at, picture, email_verified, pending_email, kind, \
     (SELECT string_agg(name, ',' ORDER BY name) FROM (SELECT DISTINCT name FROM user_groups g WHERE g.user_id = users.id) d) AS group_names";
/// True when the row being changed is the only active admin left.
pub(super) const LAST_ADMIN: &str = "role = 'admin' AND active AND deleted_at IS NULL \
     AND (SELECT COUNT(*) FROM users o WHERE o.role = 'admin' AND o.active \
          AND o.deleted_at IS NULL AND o.id != users.id) = 0";
pub(super) const SESSION_COLS: &str =
    "id, user_id, token_id, created_at, last_seen_at, expires_at, remember, user_agent, ip, revoked_at, amr, auth_time";

pub(super) fn conflict_or(e: sqlx::Error) -> super::StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => super::StoreError::Conflict,
        _ => super::StoreError::Db(e),
    }
}

/// `impl Store for $store` over its `pool` field, whose database is `$db`. `$admin_lock` is
/// run first in the transaction of every change guarded by the last-admin rule, so two such
/// changes cannot both pass the check on different rows (PostgreSQL's READ COMMITTED would
/// allow that write skew; SQLite serialises writers already). `$skip_locked` ends a row
/// selection that must pass over rows another transaction holds rather than wait for them
/// (PostgreSQL's `FOR UPDATE SKIP LOCKED`; empty on SQLite, whose writers never interleave).
macro_rules! sql_store {
    ($store:ty, $db:ty, $admin_lock:expr, $skip_locked:expr $(, $($extra:tt)*)?) => {
        impl $store {
            /// Why a guarded change matched no row: the user is gone, or it is the last admin.
            async fn why_not<T>(&self, id: i64) -> $crate::store::StoreResult<$crate::store::Guarded<T>> {
                let live: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(if live.is_some() {
                    $crate::store::Guarded::LastAdmin
                } else {
                    $crate::store::Guarded::NotFound
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn create_user(
                &self,
                u: $crate::store::NewUser,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<$crate::store::User> {
                let sql = format!(
                    "INSERT INTO users (email, name, role, active, password_hash, created_at, updated_at, email_verified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING {}",
                    $crate::store::sql::USER_COLS
                );
                let mut tx = self.begin_write().await?;
                let user: $crate::store::User = sqlx::query_as(&sql)
                    .bind(&u.email)
                    .bind(&u.name)
                    .bind(&u.role)
                    .bind(u.active)
                    .bind(&u.password_hash)
                    .bind(u.now)
                    .bind(u.email_verified)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::store::sql::conflict_or)?;
                let events = $crate::store::audit::for_new_user(audit, user.id);
                Self::append_in(&mut tx, &events).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn user_by_id(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::User>> {
                let sql = format!("SELECT {} FROM users WHERE id = $1", $crate::store::sql::USER_COLS);
                Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn user_by_email(&self, email: &str) -> $crate::store::StoreResult<Option<$crate::store::User>> {
                let sql = format!("SELECT {} FROM users WHERE email = $1", $crate::store::sql::USER_COLS);
                Ok(sqlx::query_as(&sql).bind(email).fetch_optional(&self.pool).await?)
            }

            async fn list_users(&self) -> $crate::store::StoreResult<Vec<$crate::store::User>> {
                let sql = format!("SELECT {} FROM users ORDER BY id", $crate::store::sql::USER_COLS);
                Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
            }

            async fn count_users(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
            }

            async fn update_user(
                &self,
                id: i64,
                c: &$crate::store::UserChanges,
                now: i64,
                audit: Option<&$crate::store::UserEvents>,
            ) -> $crate::store::StoreResult<$crate::store::Guarded<$crate::store::User>> {
                // One statement, so the last-admin check and the change cannot interleave with
                // another.
                let sql = format!(
                    "UPDATE users SET name = COALESCE($1, name), email = COALESCE($2, email), \
                     role = COALESCE($3, role), active = COALESCE($4, active), \
                     picture = COALESCE($7, picture), updated_at = $5 \
                     WHERE id = $6 AND deleted_at IS NULL \
                       AND NOT ((COALESCE($3, role) != 'admin' OR NOT COALESCE($4, active)) AND {}) \
                     RETURNING {}",
                    $crate::store::sql::LAST_ADMIN,
                    $crate::store::sql::USER_COLS
                );
                let mut tx = self.begin_write().await?;
                sqlx::query($admin_lock).execute(&mut *tx).await?;
                let before: Option<$crate::store::User> = match audit {
                    Some(_) => {
                        let q = format!("SELECT {} FROM users WHERE id = $1", $crate::store::sql::USER_COLS);
                        sqlx::query_as(&q).bind(id).fetch_optional(&mut *tx).await?
                    }
                    None => None,
                };
                let row: Option<$crate::store::User> = sqlx::query_as(&sql)
                    .bind(&c.name)
                    .bind(&c.email)
                    .bind(&c.role)
                    .bind(c.active)
                    .bind(now)
                    .bind(id)
                    .bind(&c.picture)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::store::sql::conflict_or)?;
                if let (Some(make), Some(old), Some(new)) = (audit, &before, &row) {
                    Self::append_in(&mut tx, &make(old, new)).await?;
                }
                tx.commit().await?;
                match row {
                    Some(u) => Ok($crate::store::Guarded::Done(u)),
                    None => self.why_not(id).await,
                }
            }

            async fn delete_user(
                &self,
                id: i64,
                hard: bool,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<$crate::store::Guarded<()>> {
                let sql = format!(
                    "UPDATE users SET deleted_at = $1, active = FALSE, updated_at = $1 \
                     WHERE id = $2 AND deleted_at IS NULL AND NOT ({}) RETURNING id",
                    $crate::store::sql::LAST_ADMIN
                );
                let mut tx = self.begin_write().await?;
                sqlx::query($admin_lock).execute(&mut *tx).await?;
                let done: Option<i64> = sqlx::query_scalar(&sql)
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if done.is_none() {
                    drop(tx);
                    return self.why_not(id).await;
                }
                if hard {
                    // Already out of the admin count above, so this cannot remove the last admin.
                    sqlx::query("DELETE FROM users WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok($crate::store::Guarded::Done(()))
            }

            async fn list_users_page(
                &self,
                only_inactive: bool,
                offset: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<(Vec<$crate::store::User>, i64)> {
                let filter = if only_inactive {
                    "deleted_at IS NULL AND NOT active"
                } else {
                    "deleted_at IS NULL"
                };
                let sql = format!(
                    "SELECT {} FROM users WHERE {filter} ORDER BY id LIMIT $1 OFFSET $2",
                    $crate::store::sql::USER_COLS
                );
                let users = sqlx::query_as(&sql)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?;
                let total = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))
                    .fetch_one(&self.pool)
                    .await?;
                Ok((users, total))
            }

            async fn set_password(
                &self,
                id: i64,
                hash: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_email_verified(&self, id: i64, now: i64) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_pending_email(
                &self,
                id: i64,
                email: Option<&str>,
                now: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE users SET pending_email = $1, updated_at = $2 WHERE id = $3")
                    .bind(email)
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn apply_pending_email(
                &self,
                id: i64,
                email: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "UPDATE users SET email = pending_email, pending_email = NULL, email_verified = TRUE, \
                     updated_at = $1 WHERE id = $2 AND pending_email = $3 AND deleted_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .bind(email)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::sql::conflict_or)?;
                let done = r.rows_affected() == 1;
                if done {
                    Self::end_oidc_sessions_in(&mut tx, &[id.to_string()], now, None).await?;
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn create_session(
                &self,
                s: $crate::store::NewSession,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<Option<$crate::store::Session>> {
                // Only for a user who is active at the moment of the insert: a sign-in racing
                // a deactivation cannot leave a live session behind it.
                let sql = format!(
                    "INSERT INTO sessions (id, user_id, token_id, created_at, last_seen_at, expires_at, remember, user_agent, ip, amr, auth_time) \
                     SELECT $1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $4 \
                     WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND active AND deleted_at IS NULL) \
                     RETURNING {}",
                    $crate::store::sql::SESSION_COLS
                );
                let mut tx = self.begin_write().await?;
                let session: Option<$crate::store::Session> = sqlx::query_as(&sql)
                    .bind(&s.id)
                    .bind(s.user_id)
                    .bind(&s.token_id)
                    .bind(s.now)
                    .bind(s.expires_at)
                    .bind(s.remember)
                    .bind(&s.user_agent)
                    .bind(&s.ip)
                    .bind(&s.amr)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::store::sql::conflict_or)?;
                if session.is_some() {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(session)
            }

            async fn session(&self, id: &str) -> $crate::store::StoreResult<Option<$crate::store::Session>> {
                let sql = format!("SELECT {} FROM sessions WHERE id = $1", $crate::store::sql::SESSION_COLS);
                Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn renew_session(
                &self,
                id: &str,
                old_token_id: &str,
                token_id: &str,
                expires_at: i64,
                now: i64,
            ) -> $crate::store::StoreResult<bool> {
                // Conditional on the token it replaces: of two renewals of one token only one
                // wins, and none revives a revoked session.
                let r = sqlx::query(
                    "UPDATE sessions SET token_id = $1, expires_at = $2, last_seen_at = $3 \
                     WHERE id = $4 AND token_id = $5 AND revoked_at IS NULL AND expires_at > $3",
                )
                .bind(token_id)
                .bind(expires_at)
                .bind(now)
                .bind(id)
                .bind(old_token_id)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn revoke_session(
                &self,
                id: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let done = r.rows_affected() == 1;
                if done {
                    Self::end_oidc_sessions_in(&mut tx, &[id.to_string()], now, None).await?;
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn revoked_sessions_since(&self, since: i64) -> $crate::store::StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM sessions WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn revoke_user_sessions(
                &self,
                user_id: i64,
                keep: Option<&str>,
                now: i64,
                audit: Option<&$crate::store::NewEvent>,
            ) -> $crate::store::StoreResult<Vec<String>> {
                let mut tx = self.begin_write().await?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1 \
                       AND id IS DISTINCT FROM $3 RETURNING id",
                )
                .bind(now)
                .bind(user_id)
                .bind(keep)
                .fetch_all(&mut *tx)
                .await?;
                Self::end_oidc_sessions_in(&mut tx, &ids, now, Some((user_id, keep))).await?;
                if let Some(template) = audit {
                    Self::append_in(&mut tx, &$crate::store::audit::per_session(template, &ids)).await?;
                }
                tx.commit().await?;
                Ok(ids)
            }

            async fn issue_one_time_token(
                &self,
                user_id: i64,
                purpose: &str,
                token_hash: &str,
                now: i64,
                expires_at: i64,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE one_time_tokens SET consumed_at = $1 \
                     WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .bind(purpose)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO one_time_tokens (user_id, purpose, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(user_id)
                .bind(purpose)
                .bind(token_hash)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn consume_one_time_token(
                &self,
                token_hash: &str,
                purpose: &str,
                email: Option<&str>,
                now: i64,
            ) -> $crate::store::StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "UPDATE one_time_tokens SET consumed_at = $1 \
                     WHERE token_hash = $2 AND purpose = $3 AND consumed_at IS NULL AND expires_at > $1 \
                       AND ($4 IS NULL OR user_id = (SELECT id FROM users WHERE email = $4 AND deleted_at IS NULL)) \
                     RETURNING user_id",
                )
                .bind(now)
                .bind(token_hash)
                .bind(purpose)
                .bind(email)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_sessions(
                &self,
                user_id: i64,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Session>> {
                let sql = format!(
                    "SELECT {} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at DESC",
                    $crate::store::sql::SESSION_COLS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(user_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn touch_sessions(&self, seen: &[(String, i64)]) -> $crate::store::StoreResult<()> {
                // One transaction holds each touched row to its end, in no particular order;
                // waiting for another row then could close a cycle with a revocation locking
                // the same user's sessions in its own order (PostgreSQL would abort one of
                // the two, and a password change would fail). So a row held elsewhere is
                // passed over: its holder is renewing or ending it, and a last-seen time is
                // a hint.
                let sql = format!(
                    "UPDATE sessions SET last_seen_at = $1 WHERE id IN \
                     (SELECT id FROM sessions WHERE id = $2 AND last_seen_at < $1 {})",
                    $skip_locked
                );
                let mut tx = self.begin_write().await?;
                for (id, at) in seen {
                    sqlx::query(&sql)
                        .bind(at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn purge_expired_sessions(&self, before: i64) -> $crate::store::StoreResult<u64> {
                let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            $($($extra)*)?
        }
    };
}
pub(super) use sql_store;
