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
