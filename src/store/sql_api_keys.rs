//! The API-key half of the shared SQL (see [`super::sql`]): `impl ApiKeyStore for $store`.

pub(super) const KEY_COLS: &str =
    "id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at";

macro_rules! sql_api_key_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ApiKeyStore for $store {
            async fn create_api_key(
                &self,
                k: &$crate::store::ApiKeyRow,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&k.id)
                .bind(k.user_id)
                .bind(&k.name)
                .bind(&k.prefix)
                .bind(&k.secret_hash)
                .bind(&k.scopes)
                .bind(k.created_at)
                .bind(k.expires_at)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::sql::conflict_or)?;
                Self::append_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn api_key_by_prefix(&self, prefix: &str) -> $crate::store::StoreResult<Option<$crate::store::ApiKeyRow>> {
                let sql = format!("SELECT {} FROM api_keys WHERE prefix = $1", $crate::store::sql_api_keys::KEY_COLS);
                Ok(sqlx::query_as(&sql).bind(prefix).fetch_optional(&self.pool).await?)
            }

            async fn api_key(&self, id: &str) -> $crate::store::StoreResult<Option<$crate::store::ApiKeyRow>> {
                let sql = format!("SELECT {} FROM api_keys WHERE id = $1", $crate::store::sql_api_keys::KEY_COLS);
                Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn api_keys(&self, user_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::ApiKeyRow>> {
                let sql = format!(
                    "SELECT {} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id",
                    $crate::store::sql_api_keys::KEY_COLS
                );
                Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?)
            }

            async fn revoke_api_key(
                &self,
                id: &str,
                now: i64,
                audit: &[$crate::store::NewEvent],
            ) -> $crate::store::StoreResult<Option<String>> {
                let mut tx = self.begin_write().await?;
                let prefix: Option<String> = sqlx::query_scalar(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING prefix",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if prefix.is_some() {
                    Self::append_in(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(prefix)
            }

            async fn revoked_api_keys_since(&self, since: i64) -> $crate::store::StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as("SELECT prefix, id FROM api_keys WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn touch_api_keys(&self, used: &[(String, i64)]) -> $crate::store::StoreResult<()> {
                for (id, at) in used {
                    sqlx::query(
                        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 \
                         AND (last_used_at IS NULL OR last_used_at < $2)",
                    )
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(())
            }

            async fn set_user_kind(&self, user_id: i64, kind: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE users SET kind = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(kind)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use sql_api_key_store;
