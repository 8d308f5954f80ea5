//! Keeps this instance's cache in step with changes any instance sharing the store made:
//! revocations and renewals of sessions, and changes to users (role, deactivation, deletion,
//! password). Applying a change is idempotent, so the rows re-read after a reconnect may repeat.

use super::cache::{CachedUser, SessionEntry};
use super::Authenticator;
use crate::store::{now, ChangeRow, FeedEvent, Store};
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Runs the store's feed and applies it until the feed ends (a store with none ends at once).
pub async fn follow(auth: &Authenticator, store: Arc<dyn Store>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let feed_store = store.clone();
    let feed = tokio::spawn(async move { feed_store.follow_changes(tx).await });
    while let Some(event) = rx.recv().await {
        match event {
            FeedEvent::Change { row, fresh } => {
                apply(auth, store.as_ref(), &row).await;
                if fresh {
                    let lag_ms = (crate::clock::system_ms() - row.at_ms).max(0);
                    crate::metrics::METRICS
                        .revocation_lag
                        .observe(lag_ms as f64 / 1000.0);
                }
            }
            FeedEvent::Lost { since } => auth.feed_lost(since),
            FeedEvent::Restored => auth.feed_restored(),
        }
    }
    let _ = feed.await;
}

async fn apply(auth: &Authenticator, store: &dyn Store, row: &ChangeRow) {
    let cache = &auth.cache;
    match row.kind.as_str() {
        "session" => {
            let Some(sid) = row
                .session_id
                .as_deref()
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                return;
            };
            let expires_at = row.expires_at.unwrap_or_else(now);
            if row.revoked.unwrap_or(false) {
                cache.revoke(sid, expires_at);
            } else {
                // Renewed elsewhere: only the new token is valid from now on (unless the
                // session was revoked meanwhile: a tombstone stays).
                cache.renewed_elsewhere(
                    sid,
                    SessionEntry {
                        user_id: row.user_id,
                        token_id: row
                            .token_id
                            .as_deref()
                            .and_then(|t| Uuid::parse_str(t).ok())
                            .unwrap_or_default(),
                        expires_at,
                        remember: row.remember.unwrap_or(false),
                        revoked: false,
                        // Kept from the cached entry by `renewed_elsewhere`.
                        amr: Default::default(),
                    },
                );
            }
        }
        "user" => match (cache.user_write_mark(), store.user_by_id(row.user_id).await) {
            (mark, Ok(Some(u))) => cache.put_user_read(CachedUser::from(&u), mark),
            // Deleted for good: an inactive placeholder, so no stale copy can be filled back.
            (mark, Ok(None)) => cache.put_user_read(
                CachedUser {
                    id: row.user_id,
                    email: String::new(),
                    name: String::new(),
                    role: String::new(),
                    active: false,
                    picture: None,
                    email_verified: false,
                    groups: Vec::new(),
                    header_values: Default::default(),
                },
                mark,
            ),
            // Unknown state: drop the copy; the next request reads the user afresh.
            (_, Err(_)) => cache.forget_user(row.user_id),
        },
        _ => {}
    }
}
