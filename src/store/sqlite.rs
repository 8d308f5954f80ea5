//! The embedded SQLite store: one file, WAL, a busy timeout so writers queue instead of failing.
//! Its SQL is the shared text in [`super::sql`]; only opening it is SQLite's own.

use super::sql::sql_store;
use super::sql_api_keys::sql_api_key_store;
use super::sql_audit::sql_audit_store;
use super::sql_console::sql_console_store;
use super::sql_groups::sql_group_store;
use super::sql_mfa::sql_mfa_store;
use super::sql_oauth::sql_oauth_store;
use super::sql_oidc::sql_oidc_store;
use super::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

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

sql_store!(SqliteStore, sqlx::Sqlite, "SELECT 1", "");
sql_oauth_store!(SqliteStore, sqlx::Sqlite);
sql_oidc_store!(SqliteStore, sqlx::Sqlite, "");
sql_mfa_store!(SqliteStore, sqlx::Sqlite);
sql_api_key_store!(SqliteStore);
sql_group_store!(SqliteStore);
sql_console_store!(SqliteStore);
sql_audit_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewUser, Store};

    async fn store() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let s = SqliteStore::open(&url, 4).await.unwrap();
        let u = s
            .create_user(
                NewUser {
                    email: "ann@example.test".into(),
                    name: "Ann".into(),
                    role: "user".into(),
                    password_hash: None,
                    active: true,
                    email_verified: true,
                    now: 1_000,
                },
                &[],
            )
            .await
            .unwrap();
        (dir, s, u.id)
    }

    fn new_session(id: &str, uid: i64, expires_at: i64) -> crate::store::NewSession {
        crate::store::NewSession {
            id: id.into(),
            user_id: uid,
            token_id: format!("t-{id}"),
            now: 1_000,
            expires_at,
            remember: false,
            user_agent: None,
            ip: None,
            amr: "pwd".into(),
        }
    }

    fn grant(
        id: &str,
        client: &str,
        uid: i64,
        session: &str,
        offline: bool,
    ) -> crate::store::oidc::Grant {
        crate::store::oidc::Grant {
            id: id.into(),
            client_id: client.into(),
            user_id: uid,
            session_id: Some(session.into()),
            scopes: "openid".into(),
            offline,
            auth_time: 1_000,
            amr: "pwd".into(),
            acr: "0".into(),
            created_at: 1_000,
            last_used_at: 1_000,
            expires_at: 100_000,
            revoked_at: None,
        }
    }

    fn code(hash: &str, grant: &str) -> crate::store::oidc::Code {
        crate::store::oidc::Code {
            code_hash: hash.into(),
            grant_id: grant.into(),
            redirect_uri: "https://app.test/cb".into(),
            code_challenge: "x".into(),
            nonce: None,
            expires_at: 1_060,
            used_at: None,
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_a_replay_revokes_its_grant() {
        use crate::store::oidc::{OidcStore, Redeemed};
        let (_d, s, uid) = store().await;
        s.create_session(new_session("s1", uid, 9_000), &[])
            .await
            .unwrap()
            .unwrap();
        s.create_grant_with_code(
            &grant("g1", "app", uid, "s1", false),
            &code("c1", "g1"),
            &[],
        )
        .await
        .unwrap();
        assert!(
            matches!(s.redeem_code("c1", 1_010).await.unwrap(), Redeemed::Fresh(b) if b.0.grant_id == "g1" && b.1.live(1_010))
        );
        assert_eq!(
            s.redeem_code("c1", 1_020).await.unwrap(),
            Redeemed::Reused {
                client_id: "app".into()
            }
        );
        assert!(!s.grant("g1").await.unwrap().unwrap().live(1_020));
        assert_eq!(
            s.redeem_code("nope", 1_020).await.unwrap(),
            Redeemed::Unknown
        );
    }

    #[tokio::test]
    async fn a_live_grant_needs_its_session_and_an_active_user_in_one_query() {
        use crate::store::oidc::OidcStore;
        let (_d, s, uid) = store().await;
        s.create_session(new_session("s1", uid, 9_000), &[])
            .await
            .unwrap()
            .unwrap();
        for (g, offline) in [("online", false), ("offline", true)] {
            let c = code(&format!("c-{g}"), g);
            s.create_grant_with_code(&grant(g, "app", uid, "s1", offline), &c, &[])
                .await
                .unwrap();
        }
        let live = |id: &'static str, now: i64| {
            let s = &s;
            async move { s.live_grant(id, now).await.unwrap().is_some() }
        };
        assert!(live("online", 1_100).await && live("offline", 1_100).await);
        assert!(!live("nope", 1_100).await);
        // The session past its expiry: only the offline grant holds; past the grant's own
        // expiry, neither.
        assert!(!live("online", 9_000).await && live("offline", 9_000).await);
        assert!(!live("offline", 100_000).await);
        // A deactivated user: none.
        let off = crate::store::UserChanges {
            active: Some(false),
            ..Default::default()
        };
        s.update_user(uid, &off, 1_200, None).await.unwrap();
        assert!(!live("online", 1_300).await && !live("offline", 1_300).await);
        let on = crate::store::UserChanges {
            active: Some(true),
            ..Default::default()
        };
        s.update_user(uid, &on, 1_400, None).await.unwrap();
        assert!(live("offline", 1_500).await);
        // A revoked grant: none.
        s.revoke_grant("offline", 1_600, &[]).await.unwrap();
        assert!(!live("offline", 1_700).await);
    }

    #[tokio::test]
    async fn ending_a_session_ends_its_grants_and_owes_each_client_one_logout() {
        use crate::store::oidc::OidcStore;
        let (_d, s, uid) = store().await;
        for id in ["s1", "s2"] {
            s.create_session(new_session(id, uid, 9_000), &[])
                .await
                .unwrap()
                .unwrap();
        }
        s.create_grant_with_code(
            &grant("g1", "app", uid, "s1", false),
            &code("c1", "g1"),
            &[],
        )
        .await
        .unwrap();
        s.create_grant_with_code(
            &grant("g2", "app", uid, "s1", false),
            &code("c2", "g2"),
            &[],
        )
        .await
        .unwrap();
        s.create_grant_with_code(
            &grant("g3", "mail", uid, "s1", true),
            &code("c3", "g3"),
            &[],
        )
        .await
        .unwrap();
        s.create_grant_with_code(
            &grant("g4", "app", uid, "s2", false),
            &code("c4", "g4"),
            &[],
        )
        .await
        .unwrap();
        // A browser logout: the session's grants end, the offline one stays; one logout for
        // each client, however many grants it had under the session.
        assert!(s.revoke_session("s1", 2_000, &[]).await.unwrap());
        let live = |id: &'static str| {
            let s = &s;
            async move { s.grant(id).await.unwrap().unwrap().live(2_001) }
        };
        assert!(!live("g1").await && !live("g2").await);
        assert!(live("g3").await, "offline access outlives a logout");
        assert!(live("g4").await, "another session's");
        let due = s.claim_logouts(2_001, 2_031, 10).await.unwrap();
        let mut clients: Vec<_> = due
            .iter()
            .map(|l| (l.client_id.as_str(), l.session_id.as_str()))
            .collect();
        clients.sort();
        assert_eq!(clients, [("app", "s1"), ("mail", "s1")]);
        assert!(
            s.claim_logouts(2_002, 2_032, 10).await.unwrap().is_empty(),
            "claimed"
        );
        s.logout_sent(due[0].id, 2_003).await.unwrap();
        s.logout_failed(due[1].id, 2_003, Some(2_010), "503")
            .await
            .unwrap();
        assert_eq!(s.logout_backlog().await.unwrap(), 1);
        let again = s.claim_logouts(2_010, 2_040, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 1));
        s.logout_failed(again[0].id, 2_011, None, "gave up")
            .await
            .unwrap();
        assert_eq!(s.logout_backlog().await.unwrap(), 0);
        // An admin's end-all: every grant of the user, offline ones too.
        s.revoke_user_sessions(uid, None, 3_000, None)
            .await
            .unwrap();
        assert!(!s.grant("g3").await.unwrap().unwrap().live(3_001));
        assert!(!s.grant("g4").await.unwrap().unwrap().live(3_001));
        assert_eq!(
            s.claim_logouts(3_001, 3_031, 10).await.unwrap().len(),
            1,
            "s2's app"
        );
    }

    #[tokio::test]
    async fn an_expired_session_ends_its_grants_once() {
        use crate::store::oidc::OidcStore;
        let (_d, s, uid) = store().await;
        s.create_session(new_session("s1", uid, 1_500), &[])
            .await
            .unwrap()
            .unwrap();
        s.create_grant_with_code(
            &grant("g1", "app", uid, "s1", false),
            &code("c1", "g1"),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(s.end_expired_session_grants(1_400).await.unwrap(), 0);
        assert_eq!(s.end_expired_session_grants(1_600).await.unwrap(), 1);
        assert_eq!(
            s.end_expired_session_grants(1_700).await.unwrap(),
            0,
            "told once"
        );
        assert!(!s.grant("g1").await.unwrap().unwrap().live(1_700));
        assert_eq!(s.logout_backlog().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn last_seen_times_are_recorded_and_never_go_back() {
        let (_d, s, uid) = store().await;
        let session = |id: &str| crate::store::NewSession {
            id: id.into(),
            user_id: uid,
            token_id: format!("t-{id}"),
            now: 1_000,
            expires_at: 9_000,
            remember: false,
            user_agent: None,
            ip: None,
            amr: "pwd".into(),
        };
        for id in ["a", "b"] {
            s.create_session(session(id), &[]).await.unwrap().unwrap();
        }
        s.touch_sessions(&[
            ("a".into(), 1_500),
            ("b".into(), 1_200),
            ("gone".into(), 1_300),
        ])
        .await
        .unwrap();
        s.touch_sessions(&[("a".into(), 1_100)]).await.unwrap();
        let seen = |id: &'static str| {
            let s = &s;
            async move { s.session(id).await.unwrap().unwrap().last_seen_at }
        };
        assert_eq!(
            seen("a").await,
            1_500,
            "an older time does not overwrite a newer one"
        );
        assert_eq!(seen("b").await, 1_200);
    }

    #[tokio::test]
    async fn each_source_replaces_only_its_own_groups_and_every_change_moves_updated_at() {
        use crate::store::GroupStore;
        let (_d, s, uid) = store().await;
        let names = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(s
            .set_groups(uid, "local", &names(&["eng", "ops"]), 1_000, None)
            .await
            .unwrap());
        assert!(s
            .set_groups(uid, "oauth:kc", &names(&["editor", "eng"]), 1_000, None)
            .await
            .unwrap());
        let u = s.user_by_id(uid).await.unwrap().unwrap();
        assert_eq!(
            u.groups.0,
            names(&["editor", "eng", "ops"]),
            "the union, sorted, once each"
        );
        assert_eq!(
            u.updated_at, 1_002,
            "two changes in one second still move it twice"
        );
        assert!(
            !s.set_groups(uid, "local", &names(&["eng", "ops"]), 2_000, None)
                .await
                .unwrap(),
            "the same set again is no change"
        );
        assert_eq!(s.user_by_id(uid).await.unwrap().unwrap().updated_at, 1_002);
        assert!(s.set_groups(uid, "local", &[], 2_000, None).await.unwrap());
        let u = s.user_by_email("ann@example.test").await.unwrap().unwrap();
        assert_eq!(u.groups.0, names(&["editor", "eng"]), "the provider's stay");
        let rows = s.user_groups(uid).await.unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r.name.as_str(), r.source.as_str()))
                .collect::<Vec<_>>(),
            [("editor", "oauth:kc"), ("eng", "oauth:kc")]
        );
        let changed = s.users_changed_since(2_000).await.unwrap();
        assert_eq!(changed.iter().map(|u| u.id).collect::<Vec<_>>(), [uid]);
        assert!(s.users_changed_since(2_001).await.unwrap().is_empty());
        assert!(
            !s.set_groups(uid + 1, "local", &names(&["x"]), 3_000, None)
                .await
                .unwrap(),
            "no such user"
        );
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

#[cfg(test)]
mod oauth_tests {
    use super::*;
    use crate::store::{NewUser, OAuthState, OAuthStore, RefreshToken, Store};

    async fn store() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(
            &format!("sqlite://{}", dir.path().join("o.db").display()),
            4,
        )
        .await
        .unwrap();
        let u = s
            .create_user(
                NewUser {
                    email: "o@example.test".into(),
                    name: "O".into(),
                    role: "user".into(),
                    password_hash: None,
                    active: true,
                    email_verified: true,
                    now: 0,
                },
                &[],
            )
            .await
            .unwrap();
        (dir, s, u.id)
    }

    #[tokio::test]
    async fn codes_expire_on_the_injected_clock_and_work_once() {
        let (_d, s, uid) = store().await;
        s.save_auth_code("c1", uid, "{}", 1_060, "b").await.unwrap();
        assert_eq!(
            s.consume_auth_code("c1", "b", 1_060).await.unwrap(),
            None,
            "expired at 60 s"
        );
        s.save_auth_code("c2", uid, "{\"provider\":\"mock\"}", 1_060, "b")
            .await
            .unwrap();
        assert_eq!(
            s.consume_auth_code("c2", "another browser", 1_059)
                .await
                .unwrap(),
            None,
            "bound to the browser it was issued to"
        );
        assert_eq!(
            s.consume_auth_code("c2", "b", 1_059).await.unwrap(),
            Some((uid, "{\"provider\":\"mock\"}".into()))
        );
        assert_eq!(
            s.consume_auth_code("c2", "another browser", 1_059)
                .await
                .unwrap(),
            None,
            "bound to the browser it was issued to"
        );
        assert_eq!(
            s.consume_auth_code("c2", "b", 1_059).await.unwrap(),
            None,
            "single use"
        );
    }

    /// A sign-in state as the flow saves it, expiring at `exp`.
    fn st(h: &str, exp: i64) -> OAuthState {
        OAuthState {
            state_hash: h.into(),
            provider: "mock".into(),
            browser_hash: "b".into(),
            pkce_verifier: "v".into(),
            nonce: "n".into(),
            redirect_to: None,
            expires_at: exp,
        }
    }

    #[tokio::test]
    async fn states_are_taken_once_and_expire() {
        let (_d, s, _) = store().await;
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
    async fn the_upkeep_purge_removes_expired_states_and_codes_only() {
        let (_d, s, uid) = store().await;
        for (h, exp) in [("old1", 100), ("old2", 200), ("live", 900)] {
            s.save_oauth_state(&st(h, exp)).await.unwrap();
        }
        s.save_auth_code("c-old", uid, "{}", 150, "b")
            .await
            .unwrap();
        s.save_auth_code("c-live", uid, "{}", 950, "b")
            .await
            .unwrap();
        assert_eq!(s.purge_oauth(500).await.unwrap(), 3);
        let left: Vec<String> = sqlx::query_scalar("SELECT state_hash FROM oauth_states")
            .fetch_all(&s.pool)
            .await
            .unwrap();
        assert_eq!(left, vec!["live".to_string()]);
        assert!(s
            .consume_auth_code("c-live", "b", 500)
            .await
            .unwrap()
            .is_some());
        // The purge reads expiry through its index, not by scanning the table.
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as("EXPLAIN QUERY PLAN DELETE FROM oauth_states WHERE expires_at <= 1")
                .fetch_all(&s.pool)
                .await
                .unwrap();
        assert!(
            plan.iter().any(|r| r.3.contains("oauth_states_expiry")),
            "{plan:?}"
        );
    }

    #[tokio::test]
    async fn rotation_happens_once_and_families_revoke_together() {
        let (_d, s, uid) = store().await;
        let sid = "00000000-0000-4000-8000-000000000001";
        s.create_session(
            crate::store::NewSession {
                id: sid.into(),
                user_id: uid,
                token_id: "j".into(),
                now: 0,
                expires_at: 10_000,
                remember: false,
                user_agent: None,
                ip: None,
                amr: "pwd".into(),
            },
            &[],
        )
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

    fn event(kind: &str, ts: i64) -> crate::store::NewEvent {
        crate::store::NewEvent {
            id: uuid::Uuid::new_v4().to_string(),
            ts,
            kind: kind.into(),
            outcome: "success".into(),
            actor_type: "system".into(),
            instance: "t".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_trail_is_appended_in_order_refuses_changes_and_is_purged_from_the_start() {
        use crate::store::AuditStore;
        let (_d, s, _) = store().await;
        // Appenders at once: one chain, no gaps.
        let s = std::sync::Arc::new(s);
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.append_audit(&[
                    event("user.updated", 1_000 + i),
                    event("user.updated", 1_000 + i),
                ])
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v = crate::audit::verify::verify(&*s).await.unwrap();
        assert_eq!((v.events, v.first_seq, v.last_seq), (40, 1, 40));
        // The triggers: no edit, no delete.
        for sql in [
            "UPDATE audit_events SET reason = 'x' WHERE seq = 3",
            "DELETE FROM audit_events WHERE seq = 3",
        ] {
            let e = sqlx::query(sql).execute(&s.pool).await.unwrap_err();
            assert!(e.to_string().contains("audit events"), "{e}");
        }
        // The purge: a prefix goes, a record says where the chain starts now, and it holds.
        let purged = s
            .purge_audit(1_010, event(crate::audit::kinds::RETENTION_PURGED, 5_000))
            .await
            .unwrap();
        assert!(purged >= 20, "{purged}");
        let v = crate::audit::verify::verify(&*s).await.unwrap();
        assert_eq!(v.last_seq, 41);
        assert_eq!(v.first_seq, purged as i64 + 1);
        // The flag is down again: deleting is refused as before.
        let e = sqlx::query("DELETE FROM audit_events")
            .execute(&s.pool)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("audit events"), "{e}");
    }
}
