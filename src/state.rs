//! Everything the data plane and the control plane share, built once at start.

use crate::auth::{keys, Authenticator, PasswordHasher, SessionCache};
use crate::config::Config;
use crate::live::Live;
use crate::mail::Mailer;
use crate::ratelimit::KeyedLimiter;
use crate::store::{self, Store};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::sync::Arc;

pub struct State {
    /// Replaced whole by a reload; see `live.rs`.
    live: ArcSwap<Live>,
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub passwords: PasswordHasher,
    /// Mail asked for one address (magic links, resets, sign-up confirmations): three at
    /// once, then one a minute, so nobody floods an inbox through us.
    pub mail_limiter: KeyedLimiter<String>,
    /// Signs identity assertions for the upstreams that ask for them.
    pub asserter: crate::auth::assertion::Asserter,
    /// Failed passwords per address.
    pub backoff: crate::auth::backoff::AccountBackoff,
    pub mailer: Mailer,
    pub oauth: crate::providers::Runtime,
}

impl State {
    /// Opens the store (running migrations), loads the signing key and warms up the hasher.
    pub async fn build(config: Config) -> anyhow::Result<Arc<State>> {
        let store = store::open(&config.database.url, config.database.max_connections)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {} (database.url)",
                    crate::startup::redact_url(&config.database.url)
                )
            })?;
        Self::with_store(config, store)
    }

    /// Needs a tokio runtime: the mail worker starts on it.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<State>> {
        let (token_keys, material) = keys::token_keys(&config).map_err(anyhow::Error::msg)?;
        let secret = match &material {
            crate::auth::KeyMaterial::Hmac(s) => s.clone(),
            crate::auth::KeyMaterial::Ed25519 { private_pem, .. } => private_pem.clone(),
        };
        let oauth = crate::providers::Runtime::new(&config, &secret).map_err(anyhow::Error::msg)?;
        let cache = SessionCache::new(config.session_cache_max_entries)
            .with_idle_timeout(config.tokens.idle_timeout);
        Ok(Arc::new(State {
            auth: Authenticator::new(token_keys, cache, store.clone())
                .with_outage_grace(config.database.outage_grace)
                .with_idle_timeout(config.tokens.idle_timeout),
            passwords: PasswordHasher::new(config.passwords.max_concurrent_hashes)?,
            backoff: crate::auth::backoff::AccountBackoff::new(config.rate_limits.account),
            asserter: crate::auth::assertion::Asserter::load(
                config.tokens.assertion_key_file.as_deref(),
                &config.server.data_dir,
                &config.server.public_origin,
            )
            .map_err(anyhow::Error::msg)?,
            mail_limiter: KeyedLimiter::new(crate::config::Limit {
                per_minute: std::num::NonZeroU32::MIN,
                burst: std::num::NonZeroU32::new(3).unwrap_or(std::num::NonZeroU32::MIN),
            }),
            mailer: Mailer::start(&config.mail).map_err(anyhow::Error::msg)?,
            oauth,
            store,
            live: ArcSwap::from_pointee(Live::new(config)),
        }))
    }

    /// The config (and its pools and limiters) as of now. A request takes it once and keeps
    /// it to the end, so a reload never changes the rules under a request in flight.
    pub fn config(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Makes `next` the config every request from now on sees.
    pub fn install(&self, next: Live) {
        self.live.store(Arc::new(next));
    }
}
