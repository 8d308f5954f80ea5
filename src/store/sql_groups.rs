//! The groups half of the shared SQL (see [`super::sql`]): `impl GroupStore for $store`.

macro_rules! sql_group_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::GroupStore for $store {
            async fn user_groups(&self, user_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::GroupRow>> {
                Ok(sqlx::query_as(
                    "SELECT source, name FROM user_groups WHERE user_id = $1 ORDER BY name, source",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_groups(
                &self,
                user_id: i64,
                source: &str,
                names: &[String],
                now: i64,
                audit: Option<&$crate::store::GroupEvents>,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                // The user's row first: two changes of one user's groups queue behind each
                // other here instead of interleaving their deletes and inserts.
                let live: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET updated_at = updated_at WHERE id = $1 AND deleted_at IS NULL RETURNING id",
                )
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
                if live.is_none() {
                    return Ok(false);
                }
                let mut before: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM user_groups WHERE user_id = $1 AND source = $2",
                )
                .bind(user_id)
                .bind(source)
                .fetch_all(&mut *tx)
                .await?;
                before.sort();
                if before == names {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM user_groups WHERE user_id = $1 AND source = $2")
                    .bind(user_id)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                for name in names {
                    sqlx::query("INSERT INTO user_groups (user_id, source, name) VALUES ($1, $2, $3)")
                        .bind(user_id)
                        .bind(source)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                // Never backwards, and always forwards: the change feed and the poll follow it.
                sqlx::query(
                    "UPDATE users SET updated_at = CASE WHEN updated_at >= $1 THEN updated_at + 1 ELSE $1 END WHERE id = $2",
                )
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if let Some(make) = audit {
                    Self::append_in(&mut tx, &make(&before, names)).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn users_changed_since(&self, since: i64) -> $crate::store::StoreResult<Vec<$crate::store::User>> {
                let sql = format!(
                    "SELECT {} FROM users WHERE updated_at >= $1",
                    $crate::store::sql::USER_COLS
                );
                Ok(sqlx::query_as(&sql).bind(since).fetch_all(&self.pool).await?)
            }
        }
    };
}

pub(super) use sql_group_store;
