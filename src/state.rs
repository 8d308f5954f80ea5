//! Everything the data plane and the control plane share, built once at start.

use crate::auth::{keys, Authenticator, PasswordHasher, SessionCache};
use crate::config::Config;
use crate::mail::Mailer;
use crate::ratelimit::KeyedLimiter;
use crate::store::{self, Store};
use std::sync::Arc;

pub struct State {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub passwords: PasswordHasher,
    pub login_limiter: Option<KeyedLimiter>,
    /// Magic links asked for one address: three at once, then one a minute, so nobody floods
    /// an inbox through us.
    pub magic_limiter: KeyedLimiter<String>,
    pub mailer: Mailer,
    pub oauth: crate::oauth::Runtime,
}

impl State {
    /// Opens the store (running migrations), loads the signing key and warms up the hasher.
    pub async fn build(config: Config) -> anyhow::Result<Arc<State>> {
        let store = store::open(&config.database.url, config.database.max_connections).await?;
        Self::with_store(config, store)
    }

    /// Needs a tokio runtime: the mail worker starts on it.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<State>> {
        let (token_keys, material) = keys::token_keys(&config).map_err(anyhow::Error::msg)?;
        let secret = match &material {
            crate::auth::KeyMaterial::Hmac(s) => s.clone(),
            crate::auth::KeyMaterial::Ed25519 { private_pem, .. } => private_pem.clone(),
        };
        let oauth = crate::oauth::Runtime::new(&config, &secret).map_err(anyhow::Error::msg)?;
        let cache = SessionCache::new(config.session_cache_max_entries);
        Ok(Arc::new(State {
            auth: Authenticator::new(token_keys, cache, store.clone())
                .with_outage_grace(config.database.outage_grace),
            passwords: PasswordHasher::new(config.passwords.max_concurrent_hashes)?,
            login_limiter: config.rate_limits.login.map(KeyedLimiter::new),
            magic_limiter: KeyedLimiter::new(crate::config::Limit {
                per_minute: std::num::NonZeroU32::MIN,
                burst: std::num::NonZeroU32::new(3).unwrap_or(std::num::NonZeroU32::MIN),
            }),
            mailer: Mailer::start(&config.mail).map_err(anyhow::Error::msg)?,
            oauth,
            store,
            config: Arc::new(config),
        }))
    }
}
