//! The shared PostgreSQL store, for several gateways on one database. Its SQL is the shared
//! text in [`super::sql`]; its own parts are opening the pool and the change feed: LISTEN on
//! `portcullis_changes`, re-reading `auth_changes` after every reconnect.

use super::changes::{ChangeRow, FeedEvent};
use super::sql::sql_store;
use super::sql_api_keys::sql_api_key_store;
use super::sql_audit::sql_audit_store;
use super::sql_console::sql_console_store;
use super::sql_groups::sql_group_store;
use super::sql_mfa::sql_mfa_store;
use super::sql_oauth::sql_oauth_store;
use super::sql_oidc::sql_oidc_store;
use super::{now, StoreResult};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct PgStore {
    pool: PgPool,
}

/// The NOTIFY channel the triggers of migration 0002 announce on.
const CHANNEL: &str = "portcullis_changes";
const CHANGE_COLS: &str =
    "id, kind, session_id, user_id, token_id, expires_at, remember, revoked, at_ms";
/// After a reconnect, rows this far below the last one applied are read again: a transaction
/// that took its id earlier may have committed later. Re-applying is harmless.
const RESYNC_OVERLAP: i64 = 1_000;
/// Changes older than this are pruned; an instance away longer rebuilds its cache anyway.
const KEEP_CHANGES_MS: i64 = 24 * 3600 * 1000;

impl PgStore {
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// Changes whose id compares to `id` by `op` (`>` to catch up, `=` for one), in order.
    async fn changes(&self, op: &str, id: i64) -> StoreResult<Vec<ChangeRow>> {
        let sql = format!("SELECT {CHANGE_COLS} FROM auth_changes WHERE id {op} $1 ORDER BY id");
        Ok(sqlx::query_as(&sql).bind(id).fetch_all(&self.pool).await?)
    }

    /// Follows the feed until `tx` is closed: each notification's row is sent on; a lost
    /// connection is reported, retried with backoff, and followed by a re-read of everything
    /// since the last row applied.
    pub async fn follow(&self, tx: mpsc::Sender<FeedEvent>) {
        let mut last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM auth_changes")
            .fetch_one(&self.pool)
            .await
            .unwrap_or(0);
        let mut backoff = Duration::from_millis(100);
        let mut pruned_at = 0i64;
        loop {
            match self.listen_once(&tx, &mut last, &mut pruned_at).await {
                Ok(()) => return, // the receiver is gone: shutting down
                Err(e) => {
                    tracing::warn!(error = %e, "change feed lost; reconnecting");
                    crate::metrics::db_error("change_feed");
                    if tx.send(FeedEvent::Lost { since: now() }).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// One connection's life: LISTEN first, then catch up, then relay notifications.
    async fn listen_once(
        &self,
        tx: &mpsc::Sender<FeedEvent>,
        last: &mut i64,
        pruned_at: &mut i64,
    ) -> StoreResult<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await?;
        // Anything committed before LISTEN is visible now; anything after will be announced.
        let missed = self.changes(">", (*last - RESYNC_OVERLAP).max(0)).await?;
        if !relay(tx, last, missed).await {
            return Ok(());
        }
        tracing::info!(last = *last, "change feed listening");
        if tx.send(FeedEvent::Restored).await.is_err() {
            return Ok(());
        }
        loop {
            // `try_recv` reports a dropped connection as `None` instead of hiding it.
            let Some(note) = listener.try_recv().await? else {
                return Err(super::StoreError::Db(sqlx::Error::PoolClosed));
            };
            let Ok(id) = note.payload().parse::<i64>() else {
                continue;
            };
            if !relay(tx, last, self.changes("=", id).await?).await {
                return Ok(());
            }
            self.prune(pruned_at).await;
        }
    }

    async fn prune(&self, pruned_at: &mut i64) {
        let t = now();
        if t - *pruned_at < 3600 {
            return;
        }
        *pruned_at = t;
        let _ = sqlx::query("DELETE FROM auth_changes WHERE at_ms < $1")
            .bind(t * 1000 - KEEP_CHANGES_MS)
            .execute(&self.pool)
            .await;
    }
}

/// Sends `rows` on, marking those past `last` fresh and advancing it; false once the
/// receiver is gone.
async fn relay(tx: &mpsc::Sender<FeedEvent>, last: &mut i64, rows: Vec<ChangeRow>) -> bool {
    for row in rows {
        let fresh = row.id > *last;
        *last = (*last).max(row.id);
        if tx.send(FeedEvent::Change { row, fresh }).await.is_err() {
            return false;
        }
    }
    true
}

sql_store!(
    PgStore,
    sqlx::Postgres,
    // One lock for every admin-guarded change, held to the end of its transaction.
    "SELECT pg_advisory_xact_lock(7263001)",
    "FOR UPDATE SKIP LOCKED",
    async fn follow_changes(&self, tx: mpsc::Sender<FeedEvent>) {
        self.follow(tx).await
    }
);
sql_oauth_store!(PgStore, sqlx::Postgres);
sql_oidc_store!(PgStore, sqlx::Postgres, "FOR UPDATE SKIP LOCKED");
sql_mfa_store!(PgStore, sqlx::Postgres);
sql_api_key_store!(PgStore);
sql_group_store!(PgStore);
sql_console_store!(PgStore);
sql_audit_store!(PgStore, sqlx::Postgres, "BEGIN");
