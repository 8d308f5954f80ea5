//! The reloadable part of the running gateway: the config and what is built from it (upstream
//! pools, rate limiters). A reload swaps it as one value, and a request holds the version it
//! started with until it is done, so no request ever mixes two configs.

use crate::config::{Config, Limit};
use crate::metrics::resolved::RouteMeters;
use crate::ratelimit::KeyedLimiter;
use crate::routing::RouteIndex;
use crate::upstream::Upstreams;
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;

pub struct Live {
    pub config: Config,
    pub upstreams: Upstreams,
    pub route_index: RouteIndex,
    pub login_limiter: Option<Limiter>,
    pub oauth_limiter: Option<Limiter>,
    /// One per route, by index; `None` where the route has no `rate_limit`.
    pub route_limiters: Vec<Option<Limiter>>,
    /// Requests per API key (`rate_limits.api_key`), by the key's id as a UUID
    /// (`KeyGrant::holder`: no allocation per request).
    pub api_key_limiter: Option<Limiter<uuid::Uuid>>,
    /// The OpenID token endpoint, per client address and per registered client_id.
    pub oidc_token_limiter: Option<Limiter>,
    pub oidc_client_limiter: Option<Limiter<String>>,
    /// Per route, by index: its policy's verdict counters (`None` without a policy).
    pub policy_counters: Vec<Option<crate::metrics::PolicyCounters>>,
    /// The request metrics' series: one per route by index, then `api`, then `none`.
    route_meters: Vec<RouteMeters>,
}

/// A rate limit and the state counted against it, per client address unless `K` says
/// otherwise.
pub struct Limiter<K: Hash + Eq + Clone = IpAddr> {
    pub limit: Limit,
    pub keys: Arc<KeyedLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Clone for Limiter<K> {
    fn clone(&self) -> Self {
        Limiter {
            limit: self.limit,
            keys: self.keys.clone(),
        }
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(limit: Limit) -> Self {
        Limiter {
            limit,
            keys: Arc::new(KeyedLimiter::new(limit)),
        }
    }

    /// The previous limiter when its limit is unchanged, so a reload does not hand every
    /// client a fresh allowance.
    fn kept(limit: Option<Limit>, previous: Option<&Limiter<K>>) -> Option<Limiter<K>> {
        let limit = limit?;
        match previous {
            Some(p) if p.limit == limit => Some(p.clone()),
            _ => Some(Limiter::new(limit)),
        }
    }
}

impl Live {
    /// The request metrics of a request to route `route`, or of the auth API (`api`), or of
    /// one that reached no route (`none`).
    pub fn route_meters(&self, route: Option<usize>, api: bool) -> &RouteMeters {
        let n = self.config.routes.len();
        let i = match route {
            _ if api => n,
            Some(r) if r < n => r,
            _ => n + 1,
        };
        &self.route_meters[i]
    }

    pub fn new(config: Config) -> Self {
        Self::succeeding(None, config)
    }

    /// Builds the next version from `config`, keeping `previous`'s rate-limit state for every
    /// limit that did not change (routes are matched by name).
    pub fn succeeding(previous: Option<&Live>, config: Config) -> Self {
        let route_limiters = config
            .routes
            .iter()
            .map(|r| {
                let before = previous.and_then(|p| {
                    let i = p.config.routes.iter().position(|o| o.name == r.name)?;
                    p.route_limiters[i].as_ref()
                });
                Limiter::kept(r.rate_limit, before)
            })
            .collect();
        let policy_counters = config
            .routes
            .iter()
            .map(|r| {
                (!r.policy.is_empty()).then(|| {
                    let labels: Vec<&str> =
                        r.policy.blocks().map(|(_, b)| b.label.as_str()).collect();
                    crate::metrics::PolicyCounters::new(&r.name, &labels)
                })
            })
            .collect();
        let route_meters = config
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .chain(["api", "none"])
            .map(RouteMeters::new)
            .collect();
        Live {
            policy_counters,
            route_meters,
            upstreams: Upstreams::new(&config.upstreams, previous.map(|p| &p.upstreams)),
            route_index: RouteIndex::new(&config.routes),
            login_limiter: Limiter::kept(
                config.rate_limits.login,
                previous.and_then(|p| p.login_limiter.as_ref()),
            ),
            oauth_limiter: Limiter::kept(
                config.rate_limits.oauth,
                previous.and_then(|p| p.oauth_limiter.as_ref()),
            ),
            route_limiters,
            api_key_limiter: Limiter::kept(
                config.rate_limits.api_key,
                previous.and_then(|p| p.api_key_limiter.as_ref()),
            ),
            oidc_token_limiter: Limiter::kept(
                config.rate_limits.oidc_token,
                previous.and_then(|p| p.oidc_token_limiter.as_ref()),
            ),
            oidc_client_limiter: Limiter::kept(
                config.rate_limits.oidc_client,
                previous.and_then(|p| p.oidc_client_limiter.as_ref()),
            ),
            config,
        }
    }

    /// Whether `host` (lower-cased, no port) is one this gateway serves: a route's host or the
    /// host of `server.public_url`. An absolute-form request target must name one.
    pub fn serves_host(&self, host: &str) -> bool {
        let public = url::Url::parse(&self.config.server.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        public.as_deref() == Some(host)
            || self.config.routes.iter().any(|r| {
                r.host
                    .as_deref()
                    .is_some_and(|p| crate::hosts::matches(p, host))
            })
    }

    /// Every limiter, for the periodic shrink of idle keys.
    pub fn limiters(&self) -> impl Iterator<Item = &KeyedLimiter> {
        self.login_limiter
            .iter()
            .chain(self.oauth_limiter.iter())
            .chain(self.oidc_token_limiter.iter())
            .chain(self.route_limiters.iter().flatten())
            .map(|l| l.keys.as_ref())
    }
}

impl Deref for Live {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}
