//! The console half of the shared SQL (see [`super::sql`]): `impl ConsoleStore for $store`.

macro_rules! sql_console_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ConsoleStore for $store {
            async fn search_users(
                &self,
                q: &$crate::store::UserSearch,
                offset: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<(Vec<$crate::store::User>, i64)> {
                let (filter, args) = $crate::store::console::search_clause(q);
                let n = args.len();
                let sql = format!(
                    "SELECT {} FROM users WHERE {filter} ORDER BY id LIMIT ${} OFFSET ${}",
                    $crate::store::sql::USER_COLS,
                    n + 1,
                    n + 2
                );
                let mut users = sqlx::query_as(&sql);
                for a in &args {
                    users = users.bind(a);
                }
                let users = users.bind(limit).bind(offset).fetch_all(&self.pool).await?;
                let count = format!("SELECT COUNT(*) FROM users WHERE {filter}");
                let mut total = sqlx::query_scalar(&count);
                for a in &args {
                    total = total.bind(a);
                }
                Ok((users, total.fetch_one(&self.pool).await?))
            }

            async fn all_api_keys(
                &self,
                offset: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<(Vec<$crate::store::KeyListing>, i64)> {
                const LIVE: &str = "k.revoked_at IS NULL AND u.deleted_at IS NULL";
                let keys = sqlx::query_as(&format!(
                    "SELECT k.id, k.user_id, k.name, k.prefix, k.secret_hash, k.scopes, k.created_at, \
                     k.expires_at, k.last_used_at, k.revoked_at, u.email AS owner_email \
                     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE {LIVE} \
                     ORDER BY k.created_at DESC, k.id LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
                let total = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM api_keys k JOIN users u ON u.id = k.user_id WHERE {LIVE}"
                ))
                .fetch_one(&self.pool)
                .await?;
                Ok((keys, total))
            }
        }
    };
}

pub(super) use sql_console_store;
