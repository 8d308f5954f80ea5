//! Upstream pools: round-robin over each upstream's addresses, with the configured timeouts
//! (Pingora leaves them unset) and hop-by-hop stripping on HTTP/1 too.

use crate::config::{Upstream, UpstreamTarget};
use pingora::upstreams::peer::{HttpPeer, HttpUpstreamRequestPolicy};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Pool {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
    cfg: Upstream,
}

pub struct Upstreams(BTreeMap<String, Pool>);

impl Upstreams {
    /// The built-in echo upstream must be listening already (`whoami::addr`) to be used.
    pub fn new(cfg: &BTreeMap<String, Upstream>) -> Self {
        let pools = cfg
            .iter()
            .map(|(name, u)| {
                let addrs = match &u.target {
                    UpstreamTarget::Addrs(a) => a.clone(),
                    UpstreamTarget::Whoami => crate::whoami::addr().into_iter().collect(),
                };
                let pool = Pool {
                    addrs,
                    next: AtomicUsize::new(0),
                    cfg: u.clone(),
                };
                (name.clone(), pool)
            })
            .collect();
        Upstreams(pools)
    }

    pub fn peer(&self, name: &str) -> Option<HttpPeer> {
        let pool = self.0.get(name)?;
        if pool.addrs.is_empty() {
            return None;
        }
        let i = pool.next.fetch_add(1, Ordering::Relaxed) % pool.addrs.len();
        let mut peer = HttpPeer::new(pool.addrs[i], false, String::new());
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
