//! Everything the data plane and the control plane share, built once at start.

use crate::auth::{keys, Authenticator, PasswordHasher, SessionCache};
use crate::config::Config;
use crate::live::Live;
use crate::mail::Mailer;
use crate::ratelimit::KeyedLimiter;
use crate::store::{self, Store};
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Why the shared state could not be built at start.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open the database {url} (database.url)")]
    Database {
        url: String,
        source: crate::store::StoreError,
    },
    #[error(transparent)]
    Keys(#[from] crate::auth::keys::KeyError),
    #[error(transparent)]
    Providers(#[from] crate::providers::ProviderError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("the password hashing threads")]
    Hashing(#[from] crate::auth::password::HashError),
    #[error("server.tls: {0}")]
    Certificates(String),
    #[error(transparent)]
    Seal(#[from] crate::mfa::seal::SealError),
    #[error("directory.ldap: {0}")]
    Directory(String),
}

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
    /// The HTTPS listener's certificates, swapped by a reload (`server.tls`).
    pub certs: Option<Arc<crate::certs::Resolver>>,
    /// Seals TOTP secrets at rest.
    pub sealer: crate::mfa::seal::Sealer,
    /// The user directory, when `directory.ldap` is configured (a start setting).
    pub directory: Option<Arc<dyn crate::directory::Directory>>,
    /// Whether the directory answered the last time it was asked (`/healthz`).
    pub directory_up: std::sync::atomic::AtomicBool,
    /// The request path's audit events, queued for the store.
    pub audit: crate::audit::Sink,
    /// SHA-256 of the config file as last loaded (`config.reloaded` records before and after).
    pub config_hash: std::sync::Mutex<Option<String>>,
    /// The OpenID provider's keys and caches, when `oidc_provider.enabled` (a start setting;
    /// its clients reload with the config).
    pub oidc: Option<crate::oidc::Provider>,
}

impl State {
    /// Opens the store (running migrations), loads the signing key and warms up the hasher.
    pub async fn build(config: Config) -> Result<Arc<State>, StateError> {
        let store = store::open(&config.database.url, config.database.max_connections)
            .await
            .map_err(|source| StateError::Database {
                url: crate::startup::redact_url(&config.database.url),
                source,
            })?;
        Self::with_store(config, store)
    }

    /// Needs a tokio runtime: the mail worker starts on it.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Result<Arc<State>, StateError> {
        let (token_keys, material) = keys::token_keys(&config)?;
        let secret = match &material {
            crate::auth::KeyMaterial::Hmac(s) => s.clone(),
            crate::auth::KeyMaterial::Ed25519 { private_pem, .. } => private_pem.clone(),
        };
        let oauth = crate::providers::Runtime::new(&config, &secret)?;
        let sealer =
            crate::mfa::seal::Sealer::new(&secret, config.mfa.encryption_key_file.as_deref())?;
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
            )?,
            mail_limiter: KeyedLimiter::new(crate::config::Limit {
                per_minute: std::num::NonZeroU32::MIN,
                burst: std::num::NonZeroU32::new(3).unwrap_or(std::num::NonZeroU32::MIN),
            }),
            mailer: Mailer::start(&config.mail)?,
            oauth,
            sealer,
            store,
            certs: match &config.server.tls {
                Some(t) => {
                    let set = t.load().map_err(StateError::Certificates)?;
                    crate::metrics::certificate_expires(set.expires());
                    Some(crate::certs::Resolver::new(set))
                }
                None => None,
            },
            directory: match &config.directory {
                Some(l) => Some(Arc::new(
                    crate::directory::ldap::LdapDirectory::new(l)
                        .map_err(|e| StateError::Directory(e.to_string()))?,
                ) as Arc<dyn crate::directory::Directory>),
                None => None,
            },
            directory_up: std::sync::atomic::AtomicBool::new(true),
            audit: crate::audit::Sink::default(),
            config_hash: std::sync::Mutex::new(None),
            oidc: match &config.oidc_provider {
                Some(p) => Some(crate::oidc::Provider::load(p, crate::store::now())?),
                None => None,
            },
            live: ArcSwap::from_pointee(Live::new(config)),
        }))
    }

    /// Reads the certificate files again (the paths are the running config's; new handshakes
    /// get the new certificates, open connections keep theirs). A file that does not load
    /// leaves the running certificates in place.
    pub fn reload_certificates(&self) -> Result<(), String> {
        let (Some(resolver), Some(tls)) = (&self.certs, &self.config().server.tls) else {
            return Ok(());
        };
        let set = tls.load()?;
        crate::metrics::certificate_expires(set.expires());
        resolver.swap(set);
        Ok(())
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
