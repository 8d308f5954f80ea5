//! Periodic upkeep: drop expired cache entries and idle rate-limit keys, purge old sessions.

use crate::state::State;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

pub struct Upkeep {
    pub state: Arc<State>,
    pub every: Duration,
}

impl Upkeep {
    pub async fn run_once(&self) {
        let now = crate::store::now();
        // Whether the database answers, for `portcullis_database_up` (and its alert) when
        // nothing else asks it.
        let limit = Duration::from_secs(5);
        let up = matches!(
            tokio::time::timeout(limit, self.state.store.count_users()).await,
            Ok(Ok(_))
        );
        crate::metrics::database_answered(up);
        // Last-seen times first: one batch, however many requests there were.
        let seen: Vec<(String, i64)> = self
            .state
            .auth
            .cache
            .take_unwritten()
            .into_iter()
            .map(|(id, at)| (id.to_string(), at))
            .collect();
        if !seen.is_empty() {
            if let Err(e) = self.state.store.touch_sessions(&seen).await {
                tracing::warn!(error = %e, "recording last-seen times failed");
            }
        }
        // API keys' last use, noted at most once a minute per key.
        let used = self.state.auth.api_keys.take_used();
        if !used.is_empty() {
            if let Err(e) = self.state.store.touch_api_keys(&used).await {
                tracing::warn!(error = %e, "recording API keys' last use failed");
            }
        }
        self.state.auth.api_keys.sweep_absent(now);
        if let Some(l) = &self.state.config().api_key_limiter {
            l.keys.shrink();
        }
        if let Some(l) = &self.state.config().oidc_client_limiter {
            l.keys.shrink();
        }
        self.state.auth.cache.sweep(now);
        self.state.config().limiters().for_each(|l| l.shrink());
        self.state.mail_limiter.shrink();
        self.state.backoff.sweep(now);
        self.state.asserter.sweep(now as u64);
        // Sign-ins begun and never finished, and codes never redeemed.
        if let Err(e) = self.state.store.purge_oauth(now).await {
            tracing::warn!(error = %e, "purging expired sign-in states failed");
        }
        // Second steps and passkey ceremonies begun and never finished.
        if let Err(e) = self.state.store.purge_flows(now).await {
            tracing::warn!(error = %e, "purging expired second-step flows failed");
        }
        // The trail's oldest events, past `audit.retention`.
        let cutoff =
            crate::clock::now_ms() - self.state.config().audit.retention.as_millis() as i64;
        let record = crate::audit::Event::new(crate::audit::kinds::RETENTION_PURGED)
            .by_system("upkeep")
            .build();
        match self.state.store.purge_audit(cutoff, record).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "audit events past audit.retention purged"),
            Err(e) => tracing::warn!(error = %e, "purging old audit events failed"),
        }
        // Keep expired sessions a day for the audit trail, then delete them.
        if let Err(e) = self.state.store.purge_expired_sessions(now - 86_400).await {
            tracing::warn!(error = %e, "purging expired sessions failed");
        }
    }
}

#[async_trait::async_trait]
impl BackgroundService for Upkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                _ = tick.tick() => self.run_once().await,
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// How far back each poll of revocations looks (seconds): the clock skew between instances
/// it tolerates.
const LOOKBACK: i64 = 30;

/// Revocations made elsewhere — another instance, the CLI (another process), on SQLite as on
/// PostgreSQL — reach this instance's caches within one period: API keys (and, where there
/// is no change feed, sessions and changed users) revoked lately are read back and dropped
/// from the caches, or refreshed in them.
pub struct Revocations {
    pub state: Arc<State>,
    pub every: Duration,
    /// Whether to poll sessions too: on SQLite, which has no change feed.
    pub sessions: bool,
}

impl Revocations {
    /// One poll of revocations at or after `since`; false when the store could not answer.
    async fn poll(&self, since: i64) -> bool {
        let keys = match self.state.store.revoked_api_keys_since(since).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "reading revoked API keys failed");
                return false;
            }
        };
        for (prefix, id) in keys {
            self.state.auth.key_revoked(&prefix, &id);
        }
        if !self.sessions {
            return true;
        }
        match self.state.store.revoked_sessions_since(since).await {
            Ok(ids) => {
                for id in ids.iter().filter_map(|id| uuid::Uuid::parse_str(id).ok()) {
                    self.state.auth.cache.revoked_elsewhere(id);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading revoked sessions failed");
                return false;
            }
        }
        // Users another process changed (groups, role, name): the cached copies follow.
        let mark = self.state.auth.cache.user_write_mark();
        match self.state.store.users_changed_since(since).await {
            Ok(users) => {
                for u in &users {
                    self.state
                        .auth
                        .cache
                        .refresh_user(crate::auth::CachedUser::from(u), mark);
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading changed users failed");
                false
            }
        }
    }
}

#[async_trait::async_trait]
impl BackgroundService for Revocations {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.every);
        // Revocations are stamped in whole seconds by the clock of whichever machine made
        // them: each poll looks LOOKBACK seconds back, so another instance whose clock is up
        // to that much behind ours is still heard (what is dropped twice is only read again;
        // the rows are few and indexed).
        let mut since = crate::clock::system_ms() / 1000 - LOOKBACK;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let started = crate::clock::system_ms() / 1000;
            if self.poll(since).await {
                since = started - LOOKBACK;
            }
        }
    }
}

/// Upstreams given by name are resolved again every period, off the proxy's threads (the
/// system resolver blocks): a Service whose addresses change is followed within a period.
pub struct Resolve {
    pub state: Arc<State>,
    pub every: Duration,
}

#[async_trait::async_trait]
impl BackgroundService for Resolve {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let live = self.state.config();
            let _ = tokio::task::spawn_blocking(move || live.upstreams.refresh()).await;
        }
    }
}

/// The directory's users with live sessions or keys are read again every `refresh`
/// (`accounts::directory::refresh`): removed or disabled ones lose their sessions and keys,
/// changed groups reach the cached sessions.
pub struct DirectoryRefresh {
    pub state: Arc<State>,
    pub every: Duration,
}

#[async_trait::async_trait]
impl BackgroundService for DirectoryRefresh {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Ok(n) = crate::accounts::directory::refresh(&self.state).await {
                if n > 0 {
                    tracing::info!(
                        ended = n,
                        "directory refresh ended users the directory no longer has"
                    );
                }
            }
        }
    }
}

/// The audit trail's writer and output for a running gateway (`audit::run`): the request
/// path's queue into the store, the JSON-lines copy, and on shutdown `system.stopped` with
/// everything flushed.
pub struct AuditTrail {
    pub state: Arc<State>,
}

#[async_trait::async_trait]
impl BackgroundService for AuditTrail {
    async fn start(&self, shutdown: ShutdownWatch) {
        let cfg = self.state.config();
        crate::audit::run(
            self.state.store.clone(),
            self.state.audit.take_receiver(),
            cfg.audit.output.clone(),
            crate::audit::event::instance(),
            Some(
                self.state
                    .audit
                    .started_after
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
            .filter(|a| *a >= 0),
            shutdown,
        )
        .await;
    }
}

/// The OpenID provider's upkeep: back-channel logouts sent each `every`; sessions that
/// expired ended with their apps, the key directory read again (a rotation on another
/// replica or by the CLI), dead codes and grants purged, less often.
pub struct OidcUpkeep {
    pub state: Arc<State>,
    pub every: Duration,
}

impl OidcUpkeep {
    pub async fn run_once(&self, tick: u64) {
        let (Some(provider), Some(op)) =
            (&self.state.oidc, self.state.config().oidc_provider.clone())
        else {
            return;
        };
        let now = crate::store::now();
        let store = self.state.store.as_ref();
        if tick.is_multiple_of(10) {
            match store.end_expired_session_grants(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expired sessions ended their apps' grants"),
                Err(e) => {
                    tracing::warn!(error = %e, "ending the grants of expired sessions failed")
                }
            }
            if let Ok(n) = store.logout_backlog().await {
                crate::metrics::METRICS.oidc_logout_backlog.set(n);
            }
            provider.client_auth.sweep(now);
        }
        if let Err(e) =
            crate::oidc::logout::send_due(store, &self.state.audit, &op, provider, now).await
        {
            tracing::warn!(error = %e, "sending back-channel logouts failed");
        }
        // A rotation (new file) is picked up within a tick; retired keys age out each minute.
        if tick % 60 == 59 || provider.keys().changed(&op.key_dir) {
            if let Err(e) = provider.reload_keys(&op, now) {
                tracing::warn!(error = %e, "the OpenID signing keys could not be read again; the loaded ones stay");
            }
        }
        if tick % 600 == 300 {
            if let Err(e) = store.purge_oidc(now).await {
                tracing::warn!(error = %e, "purging the OpenID provider's dead rows failed");
            }
        }
    }
}

#[async_trait::async_trait]
impl BackgroundService for OidcUpkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            self.run_once(n).await;
            n = n.wrapping_add(1);
        }
    }
}
