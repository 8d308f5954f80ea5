//! The second-factor half of the shared SQL (see [`super::sql`]): `impl MfaStore for $store`.

pub(super) const PASSKEY_COLS: &str =
    "id, user_id, user_handle, credential_id, name, passkey, created_at, last_used_at";

macro_rules! sql_mfa_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_codes(
                db: &mut <$db as sqlx::Database>::Connection,
                user_id: i64,
                code_hashes: &[String],
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *db)
                    .await?;
                for h in code_hashes {
                    sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(h)
                        .execute(&mut *db)
                        .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::MfaStore for $store {
            async fn totp(&self, user_id: i64) -> $crate::store::StoreResult<Option<$crate::store::TotpRow>> {
                Ok(sqlx::query_as("SELECT secret, enabled, last_step FROM mfa_totp WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_pending_totp(&self, user_id: i64, secret: &str, now: i64) -> $crate::store::StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO mfa_totp (user_id, secret, enabled, last_step, created_at) \
                     VALUES ($1, $2, FALSE, 0, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at \
                     WHERE mfa_totp.enabled = FALSE",
                )
                .bind(user_id)
                .bind(secret)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn enable_totp(
                &self,
                user_id: i64,
                step: i64,
                code_hashes: &[String],
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "UPDATE mfa_totp SET enabled = TRUE, last_step = $2 WHERE user_id = $1 AND enabled = FALSE",
                )
                .bind(user_id)
                .bind(step)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_codes(&mut *tx, user_id, code_hashes).await?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn use_totp_step(&self, user_id: i64, step: i64) -> $crate::store::StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND enabled AND last_step < $2",
                )
                .bind(user_id)
                .bind(step)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn delete_totp(&self, user_id: i64, audit: &[$crate::store::NewEvent]) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() > 0 {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn replace_recovery_codes(
                &self,
                user_id: i64,
                code_hashes: &[String],
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_codes(&mut *tx, user_id, code_hashes).await?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn use_recovery_code(
                &self,
                user_id: i64,
                code_hash: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "UPDATE mfa_recovery_codes SET used_at = $3 \
                     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(code_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let used = r.rows_affected() == 1;
                if used {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(used)
            }

            async fn recovery_codes_left(&self, user_id: i64) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                )
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn add_passkey(
                &self,
                p: &$crate::store::PasskeyRow,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO webauthn_credentials (id, user_id, user_handle, credential_id, name, passkey, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&p.id)
                .bind(p.user_id)
                .bind(&p.user_handle)
                .bind(&p.credential_id)
                .bind(&p.name)
                .bind(&p.passkey)
                .bind(p.created_at)
                .bind(p.last_used_at)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::sql::conflict_or)?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn passkeys(&self, user_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::PasskeyRow>> {
                let sql = format!(
                    "SELECT {} FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id",
                    $crate::store::sql_mfa::PASSKEY_COLS
                );
                Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?)
            }

            async fn passkey_by_credential(&self, credential_id: &str) -> $crate::store::StoreResult<Option<$crate::store::PasskeyRow>> {
                let sql = format!(
                    "SELECT {} FROM webauthn_credentials WHERE credential_id = $1",
                    $crate::store::sql_mfa::PASSKEY_COLS
                );
                Ok(sqlx::query_as(&sql).bind(credential_id).fetch_optional(&self.pool).await?)
            }

            async fn passkey_used(&self, id: &str, passkey: &str, now: i64) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE webauthn_credentials SET passkey = $2, last_used_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(passkey)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_passkey(
                &self,
                user_id: i64,
                id: &str,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let r = sqlx::query("DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let done = r.rows_affected() == 1;
                if done {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn reset_mfa(
                &self,
                user_id: i64,
                audit: Option<&$crate::store::mfa::FactorEvents>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let had_totp: Option<bool> =
                    sqlx::query_scalar("SELECT enabled FROM mfa_totp WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let passkeys: Vec<String> =
                    sqlx::query_scalar("SELECT id FROM webauthn_credentials WHERE user_id = $1 ORDER BY id")
                        .bind(user_id)
                        .fetch_all(&mut *tx)
                        .await?;
                for table in ["mfa_totp", "mfa_recovery_codes", "webauthn_credentials", "auth_flows"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(make) = audit {
                    Self::append_in(&mut tx, &make(had_totp.unwrap_or(false), &passkeys)).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn put_flow(
                &self,
                flow_hash: &str,
                purpose: &str,
                user_id: Option<i64>,
                data: &str,
                expires_at: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO auth_flows (flow_hash, purpose, user_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(flow_hash)
                .bind(purpose)
                .bind(user_id)
                .bind(data)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err($crate::store::sql::conflict_or)?;
                Ok(())
            }

            async fn flow(&self, flow_hash: &str, purpose: &str, now: i64) -> $crate::store::StoreResult<Option<$crate::store::FlowRow>> {
                Ok(sqlx::query_as(
                    "SELECT purpose, user_id, data, expires_at FROM auth_flows \
                     WHERE flow_hash = $1 AND purpose = $2 AND expires_at > $3",
                )
                .bind(flow_hash)
                .bind(purpose)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn take_flow(&self, flow_hash: &str, purpose: &str, now: i64) -> $crate::store::StoreResult<Option<$crate::store::FlowRow>> {
                let row: Option<$crate::store::FlowRow> = sqlx::query_as(
                    "DELETE FROM auth_flows WHERE flow_hash = $1 AND purpose = $2 \
                     RETURNING purpose, user_id, data, expires_at",
                )
                .bind(flow_hash)
                .bind(purpose)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.filter(|f| f.expires_at > now))
            }

            async fn purge_flows(&self, now: i64) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM auth_flows WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}

pub(super) use sql_mfa_store;
