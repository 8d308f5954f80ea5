//! The audit half of the shared SQL (see [`super::sql`]): `impl AuditStore for $store`, and
//! `$store::append_in`, which the other halves call to append a change's events in the
//! change's own transaction.

macro_rules! sql_audit_store {
    ($store:ty, $db:ty, $begin:expr) => {
        impl $store {
            /// A transaction that writes: on SQLite `BEGIN IMMEDIATE`, which takes the write
            /// lock at once (waiting its turn), so a transaction that reads before it writes is
            /// never refused its upgrade to a writer (`SQLITE_BUSY`) by another's commit.
            pub(super) async fn begin_write(
                &self,
            ) -> $crate::store::StoreResult<sqlx::Transaction<'static, $db>> {
                Ok(self.pool.begin_with($begin).await?)
            }

            /// Appends `events` to the chain inside `tx`. The head row is taken first and held to
            /// the commit: every other append (any process, any instance) waits, so `seq` has no
            /// gaps and each row's `prev_hash` is the hash of the row before it.
            pub(super) async fn append_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                events: &[$crate::store::audit::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let (mut seq, mut prev): (i64, String) = sqlx::query_as(
                    "UPDATE audit_head SET last_seq = last_seq WHERE id = 1 RETURNING last_seq, last_hash",
                )
                .fetch_one(&mut **tx)
                .await?;
                for e in events {
                    seq += 1;
                    let row = $crate::store::audit::AuditRow::chained(e, seq, &prev);
                    let sql = format!(
                        "INSERT INTO audit_events ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                        $crate::store::audit::AUDIT_COLS
                    );
                    sqlx::query(&sql)
                        .bind(row.seq)
                        .bind(&row.id)
                        .bind(row.ts)
                        .bind(&row.kind)
                        .bind(&row.outcome)
                        .bind(&row.reason)
                        .bind(&row.actor_type)
                        .bind(&row.actor_id)
                        .bind(&row.actor_email)
                        .bind(&row.target_type)
                        .bind(&row.target_id)
                        .bind(&row.client_ip)
                        .bind(&row.user_agent)
                        .bind(&row.request_id)
                        .bind(&row.method)
                        .bind(&row.host)
                        .bind(&row.path)
                        .bind(&row.changes)
                        .bind(&row.instance)
                        .bind(&row.prev_hash)
                        .bind(&row.hash)
                        .execute(&mut **tx)
                        .await?;
                    prev = row.hash;
                }
                sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(&prev)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::audit::AuditStore for $store {
            async fn append_audit(
                &self,
                events: &[$crate::store::audit::NewEvent],
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                Self::append_in(&mut tx, events).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_page(
                &self,
                q: &$crate::store::audit::AuditQuery,
            ) -> $crate::store::StoreResult<Vec<$crate::store::audit::AuditRow>> {
                // Every filter is a parameter; an absent one is NULL and holds for every row.
                let kind_exact = q.kind.as_deref().filter(|k| !k.ends_with('.'));
                let kind_prefix = q
                    .kind
                    .as_deref()
                    .filter(|k| k.ends_with('.'))
                    .map(|k| format!("{}%", k.replace('%', "").replace('_', "\\_")));
                let (actor_id, actor_email) = match &q.actor {
                    Some(a) if q.actor_is_email => (None, Some(a.as_str())),
                    Some(a) => (Some(a.as_str()), None),
                    None => (None, None),
                };
                let sql = format!(
                    "SELECT {} FROM audit_events WHERE \
                       ($1 IS NULL OR type = $1) \
                       AND ($2 IS NULL OR type LIKE $2 ESCAPE '\\') \
                       AND ($3 IS NULL OR actor_id = $3) \
                       AND ($4 IS NULL OR actor_email = $4) \
                       AND ($5 IS NULL OR target_type = $5) \
                       AND ($6 IS NULL OR target_id = $6) \
                       AND ($7 IS NULL OR client_ip = $7) \
                       AND ($8 IS NULL OR ts >= $8) \
                       AND ($9 IS NULL OR ts < $9) \
                       AND ($10 IS NULL OR seq < $10) \
                       AND ($11 IS NULL OR (actor_type = 'user' AND actor_id = $11) OR (target_type = 'user' AND target_id = $11)) \
                     ORDER BY seq DESC LIMIT $12",
                    $crate::store::audit::AUDIT_COLS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(kind_exact)
                    .bind(kind_prefix)
                    .bind(actor_id)
                    .bind(actor_email)
                    .bind(&q.target_type)
                    .bind(&q.target_id)
                    .bind(&q.ip)
                    .bind(q.since)
                    .bind(q.until)
                    .bind(q.before_seq)
                    .bind(&q.user)
                    .bind(q.limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn audit_rows_after(
                &self,
                after_seq: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::audit::AuditRow>> {
                let sql = format!(
                    "SELECT {} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                    $crate::store::audit::AUDIT_COLS
                );
                Ok(sqlx::query_as(&sql)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn audit_event(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::audit::AuditRow>> {
                let sql = format!(
                    "SELECT {} FROM audit_events WHERE id = $1",
                    $crate::store::audit::AUDIT_COLS
                );
                Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn audit_head(&self) -> $crate::store::StoreResult<(i64, String)> {
                Ok(sqlx::query_as("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn purge_audit(
                &self,
                before_ms: i64,
                mut record: $crate::store::audit::NewEvent,
            ) -> $crate::store::StoreResult<u64> {
                // Most runs find nothing old enough: ask first, without the write lock every
                // append waits on (the answer is checked again under the lock below).
                let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(ts) FROM audit_events")
                    .fetch_one(&self.pool)
                    .await?;
                if oldest.is_none_or(|ts| ts >= before_ms) {
                    return Ok(0);
                }
                let mut tx = self.begin_write().await?;
                // Taking the head first: no append can slip between the purge and its record.
                sqlx::query("UPDATE audit_head SET purging = 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                let last: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(seq) FROM audit_events WHERE ts < $1")
                        .bind(before_ms)
                        .fetch_one(&mut *tx)
                        .await?;
                let Some(last) = last else {
                    return Ok(0);
                };
                let (old_seq, old_prev): (i64, String) = sqlx::query_as(
                    "SELECT seq, prev_hash FROM audit_events ORDER BY seq LIMIT 1",
                )
                .fetch_one(&mut *tx)
                .await?;
                let purged = sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE audit_head SET purging = 0 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                let first: Option<(i64, String)> = sqlx::query_as(
                    "SELECT seq, prev_hash FROM audit_events ORDER BY seq LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                // With every row gone, the record itself is the new first row: after the head.
                let (first_seq, first_prev) = match first {
                    Some(f) => f,
                    None => sqlx::query_as("SELECT last_seq + 1, last_hash FROM audit_head WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?,
                };
                record.reason = Some(format!("{purged} events purged"));
                record.changes = Some(
                    serde_json::json!({
                        "first_seq": {"from": old_seq, "to": first_seq},
                        "first_prev_hash": {"from": old_prev, "to": first_prev},
                    })
                    .to_string(),
                );
                Self::append_in(&mut tx, std::slice::from_ref(&record)).await?;
                tx.commit().await?;
                Ok(purged)
            }
        }
    };
}

pub(super) use sql_audit_store;
