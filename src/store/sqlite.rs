//! The embedded SQLite store: one file, WAL, a busy timeout so writers queue instead of failing.

use super::{NewSession, NewUser, Session, Store, StoreError, StoreResult, User};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

const USER_COLS: &str = "id, email, name, role, active, password_hash, created_at, updated_at";
const SESSION_COLS: &str =
    "id, user_id, token_id, created_at, last_seen_at, expires_at, remember, user_agent, ip, revoked_at";

impl SqliteStore {
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn conflict_or(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Db(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, u: NewUser) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users (email, name, role, active, password_hash, created_at, updated_at) \
             VALUES (?, ?, ?, 1, ?, ?, ?) RETURNING {USER_COLS}"
        );
        sqlx::query_as(&sql)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.role)
            .bind(&u.password_hash)
            .bind(u.now)
            .bind(u.now)
            .fetch_one(&self.pool)
            .await
            .map_err(conflict_or)
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = ?");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE email = ?");
        Ok(sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn update_user_name(&self, id: i64, name: &str, now: i64) -> StoreResult<Option<User>> {
        let sql =
            format!("UPDATE users SET name = ?, updated_at = ? WHERE id = ? RETURNING {USER_COLS}");
        Ok(sqlx::query_as(&sql)
            .bind(name)
            .bind(now)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_password(&self, id: i64, hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(hash)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(&self, s: NewSession) -> StoreResult<Session> {
        let sql = format!(
            "INSERT INTO sessions (id, user_id, token_id, created_at, last_seen_at, expires_at, remember, user_agent, ip) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {SESSION_COLS}"
        );
        sqlx::query_as(&sql)
            .bind(&s.id)
            .bind(s.user_id)
            .bind(&s.token_id)
            .bind(s.now)
            .bind(s.now)
            .bind(s.expires_at)
            .bind(s.remember)
            .bind(&s.user_agent)
            .bind(&s.ip)
            .fetch_one(&self.pool)
            .await
            .map_err(conflict_or)
    }

    async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE id = ?");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn renew_session(
        &self,
        id: &str,
        token_id: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE sessions SET token_id = ?, expires_at = ?, last_seen_at = ? \
             WHERE id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(token_id)
        .bind(expires_at)
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool> {
        let r =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id IS NOT ? RETURNING id",
        )
        .bind(now)
        .bind(user_id)
        .bind(now)
        .bind(keep)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn purge_expired_sessions(&self, before: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
