//! Upstream pools: round-robin over each upstream's addresses, with the configured timeouts
//! (Pingora leaves them unset) and hop-by-hop stripping on HTTP/1 too. An upstream given by
//! name (a Kubernetes Service) is resolved when the pool is made and again every few seconds
//! by `tasks::Resolve`; a request reads the addresses last found (one atomic load).

use crate::config::{Upstream, UpstreamTarget};
use arc_swap::ArcSwap;
use pingora::upstreams::peer::{HttpPeer, HttpUpstreamRequestPolicy};
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Pool {
    addrs: ArcSwap<Vec<SocketAddr>>,
    /// The names to resolve (none for an upstream given by address).
    names: Vec<(String, u16)>,
    next: AtomicUsize,
    cfg: Upstream,
}

pub struct Upstreams(BTreeMap<String, Pool>);

/// Every address `names` resolve to, in order, without repeats; `Err` with the first name
/// that did not resolve (blocking: the system resolver).
pub fn resolve(names: &[(String, u16)]) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for (host, port) in names {
        let found = (host.as_str(), *port)
            .to_socket_addrs()
            .map_err(|e| format!("{host}:{port}: {e}"))?;
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

impl Upstreams {
    /// The built-in echo upstream must be listening already (`whoami::addr`) to be used.
    /// Named upstreams take `previous`'s addresses when their names are unchanged (a reload),
    /// else are resolved now; one that does not resolve starts empty (502) and is retried.
    pub fn new(cfg: &BTreeMap<String, Upstream>, previous: Option<&Upstreams>) -> Self {
        let pools = cfg
            .iter()
            .map(|(name, u)| {
                let (addrs, names) = match &u.target {
                    UpstreamTarget::Addrs(a) => (a.clone(), Vec::new()),
                    UpstreamTarget::Whoami => {
                        (crate::whoami::addr().into_iter().collect(), Vec::new())
                    }
                    UpstreamTarget::Named(names) => {
                        let kept = previous
                            .and_then(|p| p.0.get(name))
                            .filter(|p| p.names == *names)
                            .map(|p| p.addrs.load().as_ref().clone());
                        let addrs = kept.unwrap_or_else(|| {
                            resolve(names).unwrap_or_else(|why| {
                                tracing::warn!(upstream = %name, "{why}: answering 502 until it resolves");
                                Vec::new()
                            })
                        });
                        (addrs, names.clone())
                    }
                };
                let pool = Pool {
                    addrs: ArcSwap::from_pointee(addrs),
                    names,
                    next: AtomicUsize::new(0),
                    cfg: u.clone(),
                };
                (name.clone(), pool)
            })
            .collect();
        Upstreams(pools)
    }

    /// Resolves every named upstream again (blocking: run it off the proxy's threads). A
    /// name that does not resolve keeps its last addresses; changes are logged.
    pub fn refresh(&self) {
        for (name, pool) in &self.0 {
            if pool.names.is_empty() {
                continue;
            }
            match resolve(&pool.names) {
                Ok(found) if !found.is_empty() && **pool.addrs.load() != found => {
                    tracing::info!(upstream = %name, addrs = ?found, "upstream addresses changed");
                    pool.addrs.store(Arc::new(found));
                }
                Ok(_) => {}
                Err(why) => tracing::warn!(upstream = %name, "{why}: keeping the last addresses"),
            }
        }
    }

    pub fn peer(&self, name: &str) -> Option<HttpPeer> {
        let pool = self.0.get(name)?;
        let addrs = pool.addrs.load();
        if addrs.is_empty() {
            return None;
        }
        let i = pool.next.fetch_add(1, Ordering::Relaxed) % addrs.len();
        let mut peer = HttpPeer::new(addrs[i], false, String::new());
        let o = &mut peer.options;
        o.connection_timeout = Some(pool.cfg.connect_timeout);
        o.total_connection_timeout = Some(pool.cfg.connect_timeout);
        o.read_timeout = Some(pool.cfg.read_timeout);
        o.write_timeout = Some(pool.cfg.write_timeout);
        let mut policy = HttpUpstreamRequestPolicy::standard();
        policy.strip_hop_by_hop = true;
        // A client must not be able to have our identity headers dropped by naming them in
        // `Connection`.
        policy.strip_connection_nominated = true;
        o.http_upstream_request_policy = policy;
        Some(peer)
    }

    pub fn has_whoami(cfg: &BTreeMap<String, Upstream>) -> bool {
        cfg.values().any(|u| u.target == UpstreamTarget::Whoami)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[(&str, u16)]) -> BTreeMap<String, Upstream> {
        let u = Upstream {
            target: UpstreamTarget::Named(names.iter().map(|(h, p)| (h.to_string(), *p)).collect()),
            connect_timeout: std::time::Duration::from_secs(1),
            read_timeout: std::time::Duration::from_secs(1),
            write_timeout: std::time::Duration::from_secs(1),
            assertion: false,
        };
        [("app".to_string(), u)].into()
    }

    #[test]
    fn names_resolve_now_are_kept_across_a_reload_and_a_bad_one_answers_nothing() {
        let ups = Upstreams::new(&named(&[("localhost", 3000)]), None);
        let addrs = ups.0["app"].addrs.load();
        assert!(
            !addrs.is_empty()
                && addrs
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 3000),
            "{addrs:?}"
        );
        assert!(ups.peer("app").is_some());
        // A reload with the same names keeps what was found (no resolver call in the way).
        ups.0["app"]
            .addrs
            .store(Arc::new(vec!["10.1.2.3:3000".parse().unwrap()]));
        let next = Upstreams::new(&named(&[("localhost", 3000)]), Some(&ups));
        assert_eq!(
            **next.0["app"].addrs.load(),
            vec!["10.1.2.3:3000".parse::<SocketAddr>().unwrap()]
        );
        // The next refresh finds the real addresses again.
        next.refresh();
        assert!(next.0["app"]
            .addrs
            .load()
            .iter()
            .all(|a| a.ip().is_loopback()));
        // A name that does not resolve: no peer (502), and the last good addresses stay.
        let bad = Upstreams::new(&named(&[("no-such-host.invalid", 80)]), None);
        assert!(bad.peer("app").is_none());
        assert!(resolve(&[("no-such-host.invalid".into(), 80)]).is_err());
    }
}
