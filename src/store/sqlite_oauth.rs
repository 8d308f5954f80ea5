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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewUser, Store};

    async fn store() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(
            &format!("sqlite://{}", dir.path().join("o.db").display()),
            4,
        )
        .await
        .unwrap();
        let u = s
            .create_user(NewUser {
                email: "o@example.test".into(),
                name: "O".into(),
                role: "user".into(),
                password_hash: None,
                active: true,
                now: 0,
            })
            .await
            .unwrap();
        (dir, s, u.id)
    }

    #[tokio::test]
    async fn codes_expire_on_the_injected_clock_and_work_once() {
        let (_d, s, uid) = store().await;
        s.save_auth_code("c1", uid, "{}", 1_060).await.unwrap();
        assert_eq!(
            s.consume_auth_code("c1", 1_060).await.unwrap(),
            None,
            "expired at 60 s"
        );
        s.save_auth_code("c2", uid, "{\"provider\":\"mock\"}", 1_060)
            .await
            .unwrap();
        assert_eq!(
            s.consume_auth_code("c2", 1_059).await.unwrap(),
            Some((uid, "{\"provider\":\"mock\"}".into()))
        );
        assert_eq!(
            s.consume_auth_code("c2", 1_059).await.unwrap(),
            None,
            "single use"
        );
    }

    #[tokio::test]
    async fn states_are_taken_once_and_expire() {
        let (_d, s, _) = store().await;
        let st = |h: &str, exp| OAuthState {
            state_hash: h.into(),
            provider: "mock".into(),
            browser_hash: "b".into(),
            pkce_verifier: "v".into(),
            nonce: "n".into(),
            redirect_to: None,
            expires_at: exp,
        };
        s.save_oauth_state(&st("s1", 600)).await.unwrap();
        s.save_oauth_state(&st("s2", 600)).await.unwrap();
        assert_eq!(
            s.take_oauth_state("s1", 599).await.unwrap(),
            Some(st("s1", 600))
        );
        assert_eq!(s.take_oauth_state("s1", 599).await.unwrap(), None);
        assert_eq!(
            s.take_oauth_state("s2", 600).await.unwrap(),
            None,
            "expired"
        );
    }

    #[tokio::test]
    async fn rotation_happens_once_and_families_revoke_together() {
        let (_d, s, uid) = store().await;
        let sid = "00000000-0000-4000-8000-000000000001";
        s.create_session(crate::store::NewSession {
            id: sid.into(),
            user_id: uid,
            token_id: "j".into(),
            now: 0,
            expires_at: 10_000,
            remember: false,
            user_agent: None,
            ip: None,
        })
        .await
        .unwrap();
        let tok = |h: &str| RefreshToken {
            token_hash: h.into(),
            session_id: sid.into(),
            user_id: uid,
            claims: "{}".into(),
            created_at: 0,
            expires_at: 5_000,
            absolute_expires_at: 9_000,
            rotated_at: None,
            revoked_at: None,
        };
        s.save_refresh_token(&tok("r1")).await.unwrap();
        assert!(s.rotate_refresh_token("r1", &tok("r2"), 100).await.unwrap());
        assert!(
            !s.rotate_refresh_token("r1", &tok("r3"), 101).await.unwrap(),
            "already rotated"
        );
        assert_eq!(
            s.refresh_token("r1").await.unwrap().unwrap().rotated_at,
            Some(100)
        );
        assert_eq!(s.revoke_refresh_family(sid, 200).await.unwrap(), 2);
        assert!(
            !s.rotate_refresh_token("r2", &tok("r4"), 201).await.unwrap(),
            "revoked"
        );
    }
}
