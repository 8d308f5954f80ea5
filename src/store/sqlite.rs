//! The embedded SQLite store: one file, WAL, a busy timeout so writers queue instead of failing.

use super::{
    Guarded, NewSession, NewUser, Session, Store, StoreError, StoreResult, User, UserChanges,
};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

const USER_COLS: &str =
    "id, email, name, role, active, password_hash, created_at, updated_at, deleted_at, picture";
/// True when the row being changed is the only active admin left.
const LAST_ADMIN: &str = "role = 'admin' AND active = 1 AND deleted_at IS NULL \
     AND (SELECT COUNT(*) FROM users o WHERE o.role = 'admin' AND o.active = 1 \
          AND o.deleted_at IS NULL AND o.id != users.id) = 0";
const SESSION_COLS: &str =
    "id, user_id, token_id, created_at, last_seen_at, expires_at, remember, user_agent, ip, revoked_at";

impl SqliteStore {
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

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

impl SqliteStore {
    /// Why a guarded change matched no row: the user is gone, or it is the last admin.
    async fn why_not<T>(&self, id: i64) -> StoreResult<Guarded<T>> {
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE id = ? AND deleted_at IS NULL")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(if live.is_some() {
            Guarded::LastAdmin
        } else {
            Guarded::NotFound
        })
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
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {USER_COLS}"
        );
        sqlx::query_as(&sql)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.role)
            .bind(u.active)
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

    async fn update_user(&self, id: i64, c: &UserChanges, now: i64) -> StoreResult<Guarded<User>> {
        // One statement, so the last-admin check and the change cannot interleave with another.
        let sql = format!(
            "UPDATE users SET name = COALESCE(?1, name), email = COALESCE(?2, email), \
             role = COALESCE(?3, role), active = COALESCE(?4, active), picture = COALESCE(?7, picture), \
             updated_at = ?5 \
             WHERE id = ?6 AND deleted_at IS NULL \
               AND NOT ((COALESCE(?3, role) != 'admin' OR COALESCE(?4, active) = 0) AND {LAST_ADMIN}) \
             RETURNING {USER_COLS}"
        );
        let row: Option<User> = sqlx::query_as(&sql)
            .bind(&c.name)
            .bind(&c.email)
            .bind(&c.role)
            .bind(c.active)
            .bind(now)
            .bind(id)
            .bind(&c.picture)
            .fetch_optional(&self.pool)
            .await
            .map_err(conflict_or)?;
        match row {
            Some(u) => Ok(Guarded::Done(u)),
            None => self.why_not(id).await,
        }
    }

    async fn delete_user(&self, id: i64, hard: bool, now: i64) -> StoreResult<Guarded<()>> {
        let sql = format!(
            "UPDATE users SET deleted_at = ?1, active = 0, updated_at = ?1 \
             WHERE id = ?2 AND deleted_at IS NULL AND NOT ({LAST_ADMIN}) RETURNING id"
        );
        let done: Option<i64> = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        if done.is_none() {
            return self.why_not(id).await;
        }
        if hard {
            // Already out of the admin count above, so this cannot remove the last admin.
            sqlx::query("DELETE FROM users WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Guarded::Done(()))
    }

    async fn list_users_page(
        &self,
        only_inactive: bool,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<User>, i64)> {
        let filter = if only_inactive {
            "deleted_at IS NULL AND active = 0"
        } else {
            "deleted_at IS NULL"
        };
        let sql =
            format!("SELECT {USER_COLS} FROM users WHERE {filter} ORDER BY id LIMIT ? OFFSET ?");
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

    async fn issue_one_time_token(
        &self,
        user_id: i64,
        purpose: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = ? WHERE user_id = ? AND purpose = ? AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(purpose)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO one_time_tokens (user_id, purpose, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
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
    ) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE one_time_tokens SET consumed_at = ?1 \
             WHERE token_hash = ?2 AND purpose = ?3 AND consumed_at IS NULL AND expires_at > ?1 \
               AND (?4 IS NULL OR user_id = (SELECT id FROM users WHERE email = ?4 AND deleted_at IS NULL)) \
             RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(purpose)
        .bind(email)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_sessions(&self, user_id: i64, now: i64) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY created_at DESC"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn touch_sessions(&self, seen: &[(String, i64)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (id, at) in seen {
            sqlx::query("UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn purge_expired_sessions(&self, before: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let s = SqliteStore::open(&url, 4).await.unwrap();
        let u = s
            .create_user(NewUser {
                email: "ann@example.test".into(),
                name: "Ann".into(),
                role: "user".into(),
                password_hash: None,
                active: true,
                now: 1_000,
            })
            .await
            .unwrap();
        (dir, s, u.id)
    }

    #[tokio::test]
    async fn one_time_tokens_expire_on_the_injected_clock_and_work_once() {
        let (_d, s, uid) = store().await;
        s.issue_one_time_token(uid, "reset", "h1", 1_000, 4_600)
            .await
            .unwrap();
        assert_eq!(
            s.consume_one_time_token("h1", "reset", None, 4_600)
                .await
                .unwrap(),
            None,
            "expired at 1 h"
        );
        s.issue_one_time_token(uid, "reset", "h2", 1_000, 4_600)
            .await
            .unwrap();
        assert_eq!(
            s.consume_one_time_token("h2", "confirm", None, 2_000)
                .await
                .unwrap(),
            None,
            "wrong purpose"
        );
        assert_eq!(
            s.consume_one_time_token("h2", "reset", Some("bob@example.test"), 2_000)
                .await
                .unwrap(),
            None,
            "wrong email"
        );
        assert_eq!(
            s.consume_one_time_token("h2", "reset", Some("ann@example.test"), 4_599)
                .await
                .unwrap(),
            Some(uid)
        );
        assert_eq!(
            s.consume_one_time_token("h2", "reset", None, 4_599)
                .await
                .unwrap(),
            None,
            "used once"
        );
    }

    #[tokio::test]
    async fn a_newer_token_voids_older_ones_of_the_same_purpose_only() {
        let (_d, s, uid) = store().await;
        s.issue_one_time_token(uid, "reset", "old", 1_000, 9_000)
            .await
            .unwrap();
        s.issue_one_time_token(uid, "confirm", "other", 1_000, 9_000)
            .await
            .unwrap();
        s.issue_one_time_token(uid, "reset", "new", 1_001, 9_000)
            .await
            .unwrap();
        assert_eq!(
            s.consume_one_time_token("old", "reset", None, 2_000)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.consume_one_time_token("other", "confirm", None, 2_000)
                .await
                .unwrap(),
            Some(uid)
        );
        assert_eq!(
            s.consume_one_time_token("new", "reset", None, 2_000)
                .await
                .unwrap(),
            Some(uid)
        );
    }

    #[tokio::test]
    async fn of_two_concurrent_uses_exactly_one_succeeds() {
        let (_d, s, uid) = store().await;
        for round in 0..20 {
            let h = format!("race{round}");
            s.issue_one_time_token(uid, "reset", &h, 1_000, 9_000)
                .await
                .unwrap();
            let (a, b) = tokio::join!(
                s.consume_one_time_token(&h, "reset", None, 2_000),
                s.consume_one_time_token(&h, "reset", None, 2_000)
            );
            let wins = [a.unwrap(), b.unwrap()]
                .iter()
                .filter(|r| r.is_some())
                .count();
            assert_eq!(wins, 1, "round {round}");
        }
    }
}
