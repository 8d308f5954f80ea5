//! Token → identity: verify the JWT, then look its session and user up in the cache. A miss
//! loads from the store once per key however many requests wait for it (single flight).

use super::cache::{CachedUser, SessionCache, SessionEntry};
use super::tokens::{TokenError, TokenKeys};
use super::verified::{Verified, VerifiedTokens};
use crate::metrics;
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::OnceCell;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Identity {
    pub user: Arc<CachedUser>,
    /// Nil for an API key.
    pub session_id: Uuid,
    pub session: SessionEntry,
    /// The API key that authenticated the request (no session then).
    pub key: Option<Arc<super::api_keys::KeyGrant>>,
    /// The access token's claims beyond the core ones (`None`: it has none, or a key).
    pub claims: Option<super::verified::Claims>,
}

impl Identity {
    /// What a tunnel opened by this identity is held under: its session, or its API key.
    pub fn holder(&self) -> Uuid {
        self.key.as_ref().map_or(self.session_id, |k| k.holder)
    }
}

/// Why a presented token does not authenticate anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    Invalid,
    Expired,
    Revoked,
    Inactive,
    /// An API key where only a session may be used (the account API).
    KeyNotAllowed,
}

#[derive(Debug, Clone)]
pub enum Authn {
    Authenticated(Identity),
    Rejected(Rejection),
    /// The store could not be reached on a cache miss.
    Unavailable,
}

/// Why a request has no identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoIdentity {
    /// No credentials were presented.
    Missing,
    Rejected(Rejection),
    /// The store could not be reached on a cache miss.
    Unavailable,
}

/// The identity a request authenticated as, or why there is none (`None`: no credentials).
pub fn require(authn: Option<Authn>) -> Result<Identity, NoIdentity> {
    match authn {
        None => Err(NoIdentity::Missing),
        Some(Authn::Authenticated(id)) => Ok(id),
        Some(Authn::Rejected(r)) => Err(NoIdentity::Rejected(r)),
        Some(Authn::Unavailable) => Err(NoIdentity::Unavailable),
    }
}

/// A refused key, counted by why.
fn key_rejected(reason: &'static str, r: Rejection) -> Authn {
    metrics::api_key_rejected(reason);
    Authn::Rejected(r)
}

type Pending<T> = papaya::HashMap<T, Arc<OnceCell<Result<Option<()>, ()>>>>;

pub struct Authenticator {
    pub keys: TokenKeys,
    pub cache: SessionCache,
    pub verified: VerifiedTokens,
    store: Arc<dyn Store>,
    loading_sessions: Pending<Uuid>,
    loading_users: Pending<i64>,
    /// API keys by prefix.
    pub api_keys: super::api_keys::KeyCache,
    loading_keys: Pending<String>,
    /// When the shared store's change feed was lost (Unix seconds), 0 while it is up. Cached
    /// sessions are trusted for `outage_grace` after that: revocations made elsewhere
    /// meanwhile cannot reach us.
    feed_lost_at: std::sync::atomic::AtomicI64,
    outage_grace: i64,
    /// Sessions unused this long (seconds) end; remembered ones excepted.
    idle_timeout: Option<i64>,
}

impl Authenticator {
    pub fn new(keys: TokenKeys, cache: SessionCache, store: Arc<dyn Store>) -> Self {
        Authenticator {
            verified: VerifiedTokens::new(cache.max_entries(), keys.leeway()),
            keys,
            cache,
            store,
            loading_sessions: Default::default(),
            loading_users: Default::default(),
            api_keys: Default::default(),
            loading_keys: Default::default(),
            feed_lost_at: Default::default(),
            outage_grace: 60,
            idle_timeout: None,
        }
    }

    pub fn with_idle_timeout(mut self, idle: Option<std::time::Duration>) -> Self {
        self.idle_timeout = idle.map(|d| d.as_secs() as i64);
        self
    }

    /// Whether the session has gone unused for the idle timeout. The memory of this instance
    /// is asked first; before refusing, the store, which knows what other instances saw.
    async fn idle(&self, sid: Uuid, now: i64, idle: i64) -> bool {
        let here = self.cache.last_seen(&sid);
        if here.is_some_and(|at| now - at <= idle) {
            return false;
        }
        match self.store.session(&sid.to_string()).await {
            Ok(Some(row)) => {
                let at = row.last_seen_at.max(here.unwrap_or(0));
                self.cache.note_seen(sid, at);
                now - at > idle
            }
            // Not found is handled as revoked elsewhere; a store error leaves what we know.
            Ok(None) => false,
            Err(_) => here.is_some(),
        }
    }

    /// How long cached sessions keep working after the shared store's feed is lost.
    pub fn with_outage_grace(mut self, grace: std::time::Duration) -> Self {
        self.outage_grace = grace.as_secs() as i64;
        self
    }

    pub fn feed_lost(&self, at: i64) {
        use std::sync::atomic::Ordering;
        // Keep the first loss: retries while still down must not restart the clock.
        let _ =
            self.feed_lost_at
                .compare_exchange(0, at.max(1), Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn feed_restored(&self) {
        self.feed_lost_at
            .store(0, std::sync::atomic::Ordering::Release);
    }

    /// The token's ids, from the verified-token cache or by verifying it (and remembering it).
    fn verify(&self, token: &str, now: i64) -> Result<Verified, TokenError> {
        if let Some(hit) = self.verified.get(token, now) {
            return hit;
        }
        let (claims, extra) = self.keys.verify_all(token)?;
        let (Ok(sid), Ok(jti), Ok(uid)) = (
            Uuid::parse_str(&claims.sid),
            Uuid::parse_str(&claims.jti),
            claims.sub.parse::<i64>(),
        ) else {
            return Err(TokenError::Invalid);
        };
        let v = Verified {
            sid,
            jti,
            uid,
            nbf: claims.nbf as i64,
            exp: claims.exp as i64,
            extra: (!extra.is_empty()).then(|| Arc::new(extra)),
        };
        self.verified.put(token, v.clone());
        Ok(v)
    }

    /// The feed has been down longer than the grace: the cache can no longer be trusted.
    fn cache_untrusted(&self, now: i64) -> bool {
        let lost = self.feed_lost_at.load(std::sync::atomic::Ordering::Acquire);
        lost != 0 && now - lost >= self.outage_grace
    }

    /// Authenticates a session's credentials for the account API; an API key is refused there
    /// (`KeyNotAllowed`); `None` when the request carries none.
    pub async fn from_headers(
        &self,
        headers: &http::HeaderMap,
        cookie_name: &str,
        now: i64,
    ) -> Option<Authn> {
        match crate::request::credentials::extract(headers, cookie_name) {
            crate::request::credentials::Credentials::Token(t)
                if super::api_keys::looks_like_key(&t) =>
            {
                Some(Authn::Rejected(Rejection::KeyNotAllowed))
            }
            crate::request::credentials::Credentials::None
                if headers.contains_key(crate::request::credentials::API_KEY) =>
            {
                Some(Authn::Rejected(Rejection::KeyNotAllowed))
            }
            other => self.credentials(other, now).await,
        }
    }

    /// Authenticates whatever the request carries, API keys included (the proxy path):
    /// `Authorization: Bearer pck_…` or `X-API-Key: pck_…`; `None` when it carries nothing.
    pub async fn from_request(
        &self,
        headers: &http::HeaderMap,
        cookie_name: &str,
        now: i64,
    ) -> Option<Authn> {
        let creds = crate::request::credentials::extract(headers, cookie_name);
        match creds {
            crate::request::credentials::Credentials::Token(t)
                if super::api_keys::looks_like_key(&t) =>
            {
                Some(self.authenticate_key(&t, now).await)
            }
            crate::request::credentials::Credentials::None => {
                match headers.get(crate::request::credentials::API_KEY) {
                    Some(v) => Some(match v.to_str() {
                        Ok(k) => self.authenticate_key(k.trim(), now).await,
                        Err(_) => key_rejected("malformed", Rejection::Malformed),
                    }),
                    None => None,
                }
            }
            other => self.credentials(other, now).await,
        }
    }

    async fn credentials(
        &self,
        creds: crate::request::credentials::Credentials,
        now: i64,
    ) -> Option<Authn> {
        match creds {
            crate::request::credentials::Credentials::Token(t) => {
                Some(self.authenticate(&t, now).await)
            }
            crate::request::credentials::Credentials::Malformed => {
                Some(Authn::Rejected(Rejection::Malformed))
            }
            crate::request::credentials::Credentials::None => None,
        }
    }

    pub async fn authenticate(&self, token: &str, now: i64) -> Authn {
        let Verified {
            sid,
            jti,
            uid,
            extra,
            ..
        } = match self.verify(token, now) {
            Ok(v) => v,
            Err(TokenError::Expired) => return Authn::Rejected(Rejection::Expired),
            Err(_) => return Authn::Rejected(Rejection::Invalid),
        };
        if self.cache_untrusted(now) {
            return Authn::Unavailable;
        }
        let session = match self.session(sid).await {
            Ok(Some(s)) => s,
            Ok(None) => return Authn::Rejected(Rejection::Revoked),
            Err(()) => return Authn::Unavailable,
        };
        if session.revoked || session.token_id != jti || session.user_id != uid {
            return Authn::Rejected(Rejection::Revoked);
        }
        if session.expires_at <= now {
            return Authn::Rejected(Rejection::Expired);
        }
        if let Some(idle) = self.idle_timeout.filter(|_| !session.remember) {
            if self.idle(sid, now, idle).await {
                return Authn::Rejected(Rejection::Expired);
            }
        }
        let user = match self.user(uid).await {
            Ok(Some(u)) => u,
            Ok(None) => return Authn::Rejected(Rejection::Revoked),
            Err(()) => return Authn::Unavailable,
        };
        if !user.active {
            return Authn::Rejected(Rejection::Inactive);
        }
        self.cache.touch(sid, now);
        metrics::auth_kind("session");
        Authn::Authenticated(Identity {
            user,
            session_id: sid,
            session,
            key: None,
            claims: extra,
        })
    }

    /// Forgets a revoked key (revoked here, or news of it from elsewhere) and closes the
    /// tunnels it opened. A revoked mark under the key's id stays a while, so a tunnel whose
    /// request passed just before is closed as it registers (see `SessionCache::hold_tunnel`).
    pub fn key_revoked(&self, prefix: &str, id: &str) {
        self.api_keys.evict(prefix);
        if let Ok(holder) = Uuid::parse_str(id) {
            self.cache.revoke(holder, crate::clock::now() + 3600);
        }
    }

    /// A token or an API key, as the proxy checks either (for `explain`).
    pub async fn credential(&self, token: &str, now: i64) -> Authn {
        if super::api_keys::looks_like_key(token) {
            self.authenticate_key(token, now).await
        } else {
            self.authenticate(token, now).await
        }
    }

    /// An API key: found by prefix (cache, else the store once per prefix), its secret's hash
    /// compared in constant time, then its owner as for a session.
    pub async fn authenticate_key(&self, token: &str, now: i64) -> Authn {
        let Some((prefix, secret)) = super::api_keys::parse(token) else {
            return key_rejected("malformed", Rejection::Malformed);
        };
        let entry = match self.api_keys.get(prefix) {
            Some(e) => {
                metrics::api_key_lookup("hit");
                e
            }
            None if self.api_keys.known_absent(prefix, now) => {
                metrics::api_key_lookup("absent");
                return key_rejected("unknown", Rejection::Invalid);
            }
            None => {
                metrics::api_key_lookup("miss");
                let store = &self.store;
                let cache = &self.api_keys;
                let loaded = single_flight(&self.loading_keys, prefix.to_string(), || async move {
                    let row = store.api_key_by_prefix(prefix).await.map_err(|e| {
                        tracing::error!(error = %e, "API key lookup failed");
                    })?;
                    Ok(row.map(|r| {
                        cache.put(prefix, Arc::new(super::api_keys::KeyEntry::from_row(&r)))
                    }))
                })
                .await;
                if loaded.is_err() {
                    return Authn::Unavailable;
                }
                match self.api_keys.get(prefix) {
                    Some(e) => e,
                    None => {
                        self.api_keys.note_absent(prefix, now);
                        return key_rejected("unknown", Rejection::Invalid);
                    }
                }
            }
        };
        let matches = entry
            .digest
            .is_some_and(|d| super::api_keys::same(&super::api_keys::digest(secret), &d));
        if !matches {
            return key_rejected("unknown", Rejection::Invalid);
        }
        if entry.revoked {
            return key_rejected("revoked", Rejection::Revoked);
        }
        if entry.expires_at.is_some_and(|at| at <= now) {
            return key_rejected("expired", Rejection::Expired);
        }
        let user = match self.user(entry.user_id).await {
            Ok(Some(u)) if u.active => u,
            Ok(_) => return key_rejected("owner_inactive", Rejection::Inactive),
            Err(()) => return Authn::Unavailable,
        };
        if entry.note_use(now) {
            self.api_keys.used(&entry.grant.id, now);
        }
        metrics::auth_kind("api_key");
        Authn::Authenticated(Identity {
            user,
            session_id: Uuid::nil(),
            session: SessionEntry {
                user_id: entry.user_id,
                token_id: Uuid::nil(),
                expires_at: entry.expires_at.unwrap_or(i64::MAX),
                remember: false,
                revoked: false,
                amr: Default::default(),
            },
            key: Some(entry.grant.clone()),
            claims: None,
        })
    }

    async fn session(&self, sid: Uuid) -> Result<Option<SessionEntry>, ()> {
        if let Some(e) = self.cache.session(&sid) {
            metrics::cache_lookup(true);
            return Ok(Some(e));
        }
        metrics::cache_lookup(false);
        let store = &self.store;
        let cache = &self.cache;
        single_flight(&self.loading_sessions, sid, || async move {
            let row = store.session(&sid.to_string()).await.map_err(|e| {
                tracing::error!(error = %e, "session lookup failed");
            })?;
            Ok(row.map(|s| {
                let entry = SessionEntry {
                    user_id: s.user_id,
                    token_id: Uuid::parse_str(&s.token_id).unwrap_or_default(),
                    expires_at: s.expires_at,
                    remember: s.remember,
                    revoked: s.revoked_at.is_some(),
                    amr: super::Amr::parse(&s.amr),
                };
                cache.fill_session(sid, entry);
            }))
        })
        .await?;
        Ok(self.cache.session(&sid))
    }

    async fn user(&self, uid: i64) -> Result<Option<Arc<CachedUser>>, ()> {
        if let Some(u) = self.cache.user(uid) {
            return Ok(Some(u));
        }
        let store = &self.store;
        let cache = &self.cache;
        single_flight(&self.loading_users, uid, || async move {
            let row = store.user_by_id(uid).await.map_err(|e| {
                tracing::error!(error = %e, "user lookup failed");
            })?;
            Ok(row.map(|u| cache.fill_user(CachedUser::from(&u))))
        })
        .await?;
        Ok(self.cache.user(uid))
    }
}

/// Runs `load` once for concurrent callers with the same key; the loader fills the cache.
async fn single_flight<K, F, Fut>(pending: &Pending<K>, key: K, load: F) -> Result<Option<()>, ()>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<()>, ()>>,
{
    let cell = pending
        .pin()
        .get_or_insert_with(key.clone(), || Arc::new(OnceCell::new()))
        .clone();
    let result = *cell.get_or_init(load).await;
    pending
        .pin()
        .remove_if(&key, |_, c| Arc::ptr_eq(c, &cell))
        .ok();
    result
}
