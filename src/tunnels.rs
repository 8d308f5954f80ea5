//! Tunnels (WebSocket and other upgraded connections) held by the session that opened them, so
//! that revoking the session also ends them. A request checks its credentials once; a tunnel
//! may then stay open for hours, and without this a logout would leave it running.
//!
//! Each downstream connection carries a [`Cut`]: once cut, its reads and writes fail and the
//! proxy closes it and its upstream side. A tunnel's request registers its connection's `Cut`
//! here under its session and user; the session cache cuts them when it learns of a revocation
//! or a deactivation, whether made on this instance or reported by the change feed.

use atomic_waker::AtomicWaker;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Context;
use uuid::Uuid;

/// A downstream connection's off switch.
#[derive(Debug, Default)]
pub struct Cut {
    cut: AtomicBool,
    /// Set once the connection is a registered tunnel: only then does a read register its
    /// waker, so ordinary requests pay one atomic load per read and nothing else.
    watched: AtomicBool,
    waker: AtomicWaker,
}

impl Cut {
    pub fn new() -> Arc<Cut> {
        Arc::new(Cut::default())
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire)
    }

    /// Whether the connection is cut; if not and it is watched, the waker is woken when it is.
    pub fn poll_cut(&self, cx: &mut Context<'_>) -> bool {
        if self.is_cut() {
            return true;
        }
        if self.watched.load(Ordering::Relaxed) {
            self.waker.register(cx.waker());
            // A cut between the first check and the registration woke nobody.
            return self.is_cut();
        }
        false
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// Resolves once `cut` is cut. The waker is kept only once the cut is registered
/// ([`Tunnels::register`]); Pingora polls this beside a request's proxying
/// (`Session::abort`, a patch: `vendor/PATCHES.md`) to end one HTTP/2 stream.
pub fn until_cut(cut: Arc<Cut>) -> impl std::future::Future<Output = ()> + Send + Sync {
    std::future::poll_fn(move |cx| {
        if cut.poll_cut(cx) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
}

/// Why a tunnel was cut (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Revoked,
    Deactivated,
    Expired,
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::Revoked => "revoked",
            Why::Deactivated => "deactivated",
            Why::Expired => "expired",
        }
    }
}

struct Entry {
    id: u64,
    user: i64,
    cut: Arc<Cut>,
}

/// The open tunnels, by session. Touched only when a tunnel opens or closes and when a session
/// is revoked, never on an ordinary request.
#[derive(Default)]
pub struct Tunnels {
    by_session: Mutex<HashMap<Uuid, Vec<Entry>>>,
    next: AtomicU64,
}

impl Tunnels {
    pub fn new() -> Arc<Tunnels> {
        Arc::new(Tunnels::default())
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Entry>>> {
        // The map stays consistent whatever a panicking holder did: each change is one call.
        self.by_session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Binds `cut` to a session until the returned registration is dropped. `expires_at` (Unix
    /// seconds): the session's end, when the tunnel is cut too.
    pub fn register(
        self: &Arc<Self>,
        session: Uuid,
        user: i64,
        expires_at: i64,
        cut: Arc<Cut>,
    ) -> Registration {
        cut.watched.store(true, Ordering::Relaxed);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map().entry(session).or_default().push(Entry {
            id,
            user,
            cut: cut.clone(),
        });
        let wait = expires_at.saturating_sub(crate::clock::now()).max(0) as u64;
        let expiry = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (tunnels, weak) = (Arc::downgrade(self), Arc::downgrade(&cut));
            rt.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                if let (Some(t), Some(c)) = (tunnels.upgrade(), weak.upgrade()) {
                    t.cut_one(session, &c, Why::Expired);
                }
            })
        });
        Registration {
            tunnels: self.clone(),
            session,
            id,
            opened: false,
            expiry,
        }
    }

    /// Cuts every tunnel of a session; the number cut.
    pub fn cut_session(&self, session: &Uuid, why: Why) -> usize {
        let gone = self.map().remove(session).unwrap_or_default();
        for e in &gone {
            e.cut.cut();
        }
        count(why, gone.len())
    }

    /// Cuts every tunnel of a user's sessions; the number cut.
    pub fn cut_user(&self, user: i64, why: Why) -> usize {
        let mut gone = Vec::new();
        self.map().retain(|_, entries| {
            entries.retain(|e| {
                let mine = e.user == user;
                if mine {
                    e.cut.cut();
                    gone.push(e.id);
                }
                !mine
            });
            !entries.is_empty()
        });
        count(why, gone.len())
    }

    fn cut_one(&self, session: Uuid, cut: &Arc<Cut>, why: Why) {
        let mut map = self.map();
        if let Some(entries) = map.get_mut(&session) {
            let before = entries.len();
            entries.retain(|e| !Arc::ptr_eq(&e.cut, cut));
            let n = before - entries.len();
            if entries.is_empty() {
                map.remove(&session);
            }
            drop(map);
            cut.cut();
            count(why, n);
        }
    }

    /// Tunnels registered (opened or still being set up).
    pub fn len(&self) -> usize {
        self.map().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, session: &Uuid, id: u64) {
        let mut map = self.map();
        if let Some(entries) = map.get_mut(session) {
            entries.retain(|e| e.id != id);
            if entries.is_empty() {
                map.remove(session);
            }
        }
    }
}

fn count(why: Why, n: usize) -> usize {
    if n > 0 {
        crate::metrics::tunnels_cut(why.label(), n);
    }
    n
}

/// A tunnel's place in [`Tunnels`], held by its request; dropping it (the request is over)
/// takes the tunnel out.
pub struct Registration {
    tunnels: Arc<Tunnels>,
    session: Uuid,
    id: u64,
    opened: bool,
    expiry: Option<tokio::task::JoinHandle<()>>,
}

impl Registration {
    /// The app accepted the upgrade: the tunnel counts as open until the request ends.
    pub fn opened(&mut self) {
        if !self.opened {
            self.opened = true;
            crate::metrics::METRICS.tunnels_open.inc();
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.opened {
            crate::metrics::METRICS.tunnels_open.dec();
        }
        if let Some(t) = self.expiry.take() {
            t.abort();
        }
        self.tunnels.remove(&self.session, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Wake, Waker};

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn context() -> (Arc<Flag>, Waker) {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        (flag.clone(), Waker::from(flag))
    }

    #[test]
    fn revoking_a_session_cuts_its_tunnels_and_wakes_them() {
        let t = Tunnels::new();
        let (s1, s2) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b, c) = (Cut::new(), Cut::new(), Cut::new());
        let _ra = t.register(s1, 1, i64::MAX, a.clone());
        let _rb = t.register(s1, 1, i64::MAX, b.clone());
        let _rc = t.register(s2, 1, i64::MAX, c.clone());
        let (flag, waker) = context();
        assert!(!a.poll_cut(&mut Context::from_waker(&waker)));
        assert_eq!(t.cut_session(&s1, Why::Revoked), 2);
        assert!(flag.0.load(Ordering::SeqCst), "the waiting reader is woken");
        assert!(a.is_cut() && b.is_cut() && !c.is_cut());
        assert_eq!(t.len(), 1);
        assert_eq!(t.cut_session(&s1, Why::Revoked), 0);
    }

    #[test]
    fn deactivating_a_user_cuts_every_session_of_theirs_only() {
        let t = Tunnels::new();
        let (mine, theirs) = (Cut::new(), Cut::new());
        let _r1 = t.register(Uuid::new_v4(), 7, i64::MAX, mine.clone());
        let _r2 = t.register(Uuid::new_v4(), 8, i64::MAX, theirs.clone());
        assert_eq!(t.cut_user(7, Why::Deactivated), 1);
        assert!(mine.is_cut() && !theirs.is_cut());
    }

    #[test]
    fn a_finished_tunnel_leaves_the_registry_and_an_unwatched_cut_registers_no_waker() {
        let t = Tunnels::new();
        let s = Uuid::new_v4();
        let plain = Cut::new();
        let (flag, waker) = context();
        assert!(!plain.poll_cut(&mut Context::from_waker(&waker)));
        plain.cut();
        assert!(!flag.0.load(Ordering::SeqCst), "nobody asked to be woken");
        let r = t.register(s, 1, i64::MAX, Cut::new());
        assert_eq!(t.len(), 1);
        drop(r);
        assert!(t.is_empty());
        assert_eq!(t.cut_session(&s, Why::Revoked), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tunnel_ends_with_its_session() {
        let t = Tunnels::new();
        let s = Uuid::new_v4();
        let cut = Cut::new();
        let _r = t.register(s, 1, crate::clock::now() + 30, cut.clone());
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        assert!(!cut.is_cut());
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        assert!(cut.is_cut());
        assert!(t.is_empty());
    }
}
