//! The in-memory session cache: concurrent maps (scc) so the steady state of the proxy path
//! does no database call and no reader waits on another. Sessions and users are cached apart
//! so a change to a user (role, name, deactivation) is one write, seen by all of that user's
//! sessions at once.

use std::sync::Arc;
use uuid::Uuid;

/// What the proxy needs to know about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEntry {
    pub user_id: i64,
    /// The only token id (`jti`) currently valid for this session.
    pub token_id: Uuid,
    pub expires_at: i64,
    pub remember: bool,
    pub revoked: bool,
    /// How the session's sign-in was made (fixed for its life).
    pub amr: super::Amr,
}

/// What the proxy forwards about a user.
#[derive(Debug, Clone)]
pub struct CachedUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub picture: Option<String>,
    /// Whether someone proved the address (route policies match `users` and `email_domains`
    /// on proven addresses only).
    pub email_verified: bool,
    /// Its groups from every source, sorted, no repeats.
    pub groups: Vec<String>,
    /// The fields above as identity-header values, encoded by the proxy on the first request
    /// that forwards them and reused by every later one (a changed user is a new entry).
    pub header_values: std::sync::OnceLock<Box<HeaderValues>>,
}

/// Equal when the user's fields are: whether the header values were encoded yet is no change.
impl PartialEq for CachedUser {
    fn eq(&self, o: &Self) -> bool {
        (
            self.id,
            &self.email,
            &self.name,
            &self.role,
            self.active,
            &self.picture,
            self.email_verified,
            &self.groups,
        ) == (
            o.id,
            &o.email,
            &o.name,
            &o.role,
            o.active,
            &o.picture,
            o.email_verified,
            &o.groups,
        )
    }
}

impl Eq for CachedUser {}

/// A user's identity-header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValues {
    pub id: http::HeaderValue,
    pub email: http::HeaderValue,
    pub name: http::HeaderValue,
    pub role: http::HeaderValue,
    /// Comma-joined, sorted.
    pub groups: http::HeaderValue,
    pub picture: Option<http::HeaderValue>,
}

impl From<&crate::store::User> for CachedUser {
    fn from(u: &crate::store::User) -> Self {
        CachedUser {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            active: u.active,
            picture: u.picture.clone(),
            email_verified: u.email_verified,
            groups: u.groups.0.clone(),
            header_values: Default::default(),
        }
    }
}

impl CachedUser {
    /// Whether the user is in group `name` (the list is sorted: a binary search, no allocation).
    pub fn in_group(&self, name: &str) -> bool {
        self.groups
            .binary_search_by(|g| g.as_str().cmp(name))
            .is_ok()
    }

    /// The address, when someone proved it.
    pub fn verified_email(&self) -> Option<&str> {
        self.email_verified.then_some(self.email.as_str())
    }
}

/// Last-seen times are kept to this granularity (finer when an idle timeout needs it), so a
/// busy session costs one map write a minute, and reach the store in batches.
pub const LAST_SEEN_EVERY: i64 = 60;

/// A cached user and when it was written here (see `SessionCache::refresh_user`).
struct UserSlot {
    user: Arc<CachedUser>,
    written: u64,
}

// scc rather than papaya: papaya does not reuse the slots of removed entries, so a cache
// evicting at its cap under a stream of new sessions kept doubling its table until the
// process ran out of memory (found by `benches/cache_memory.rs`). scc frees and shrinks.
pub struct SessionCache {
    sessions: scc::HashMap<Uuid, SessionEntry>,
    /// Session → (last seen, not yet written to the store).
    seen: scc::HashMap<Uuid, (i64, bool)>,
    users: scc::HashMap<i64, UserSlot>,
    /// Counts writes of users here, so a poll can tell a copy published after its read began.
    user_writes: std::sync::atomic::AtomicU64,
    max_entries: usize,
    /// Inserts since the size was last counted (counting is a scan in scc).
    since_count: std::sync::atomic::AtomicUsize,
    seen_every: i64,
    /// Open tunnels by session: a revocation or deactivation recorded here ends them too.
    pub tunnels: std::sync::Arc<crate::tunnels::Tunnels>,
}

impl SessionCache {
    pub fn new(max_entries: usize) -> Self {
        SessionCache {
            // Sized for the cap up front: scc never shrinks below it, so evicting at the cap
            // does not set off a shrink and regrow of the table on every batch.
            sessions: scc::HashMap::with_capacity(max_entries),
            seen: scc::HashMap::with_capacity(max_entries),
            users: scc::HashMap::new(),
            user_writes: Default::default(),
            max_entries,
            since_count: Default::default(),
            seen_every: LAST_SEEN_EVERY,
            tunnels: crate::tunnels::Tunnels::new(),
        }
    }

    /// Keeps last-seen times to a quarter of `idle` (at most a minute), so an idle timeout
    /// never ends a session that was in use.
    pub fn with_idle_timeout(mut self, idle: Option<std::time::Duration>) -> Self {
        if let Some(idle) = idle {
            self.seen_every = (idle.as_secs() as i64 / 4).clamp(1, LAST_SEEN_EVERY);
        }
        self
    }

    pub fn session(&self, id: &Uuid) -> Option<SessionEntry> {
        self.sessions.read_sync(id, |_, e| *e)
    }

    pub fn user(&self, id: i64) -> Option<Arc<CachedUser>> {
        self.users.read_sync(&id, |_, s| s.user.clone())
    }

    /// Stores a session just created (a fresh random id: nothing to overwrite).
    pub fn put_session(&self, id: Uuid, entry: SessionEntry) {
        self.make_room();
        let _ = self.sessions.insert_sync(id, entry);
    }

    /// Moves a cached session from token `old` to `next`, atomically, only while it is live
    /// and still on `old`. A revocation is a tombstone: no renewal, however late it lands,
    /// brings the session back. An entry not cached stays so (the store has the truth).
    pub fn renew(&self, id: Uuid, old: Uuid, next: SessionEntry) {
        self.sessions.update_sync(&id, |_, e| {
            if !e.revoked && e.token_id == old {
                *e = next;
            }
        });
    }

    /// Applies a renewal another instance made: the session's token is now `next`'s, unless
    /// it was revoked meanwhile.
    pub fn renewed_elsewhere(&self, id: Uuid, next: SessionEntry) {
        // The feed does not carry the sign-in methods; they never change for a session.
        self.sessions.update_sync(&id, |_, e| {
            if !e.revoked {
                *e = SessionEntry { amr: e.amr, ..next };
            }
        });
    }

    /// Stores what a cache miss loaded, unless something newer (a revocation) got there first.
    pub fn fill_session(&self, id: Uuid, entry: SessionEntry) {
        self.make_room();
        let _ = self.sessions.insert_sync(id, entry);
    }

    /// Marks a session revoked now, and ends its tunnels. The entry stays as a negative entry
    /// until it would have expired, so a revoked token never costs a database read.
    pub fn revoke(&self, id: Uuid, expires_at: i64) {
        self.sessions
            .entry_sync(id)
            .and_modify(|e| e.revoked = true)
            .or_insert(SessionEntry {
                user_id: 0,
                token_id: Uuid::nil(),
                expires_at,
                remember: false,
                revoked: true,
                amr: Default::default(),
            });
        self.tunnels.cut_session(&id, crate::tunnels::Why::Revoked);
    }

    /// Marks a session revoked elsewhere, if this cache holds it (a miss reads the store,
    /// which knows already), and cuts its tunnels.
    pub fn revoked_elsewhere(&self, id: Uuid) {
        self.sessions.update_sync(&id, |_, e| e.revoked = true);
        self.tunnels.cut_session(&id, crate::tunnels::Why::Revoked);
    }

    /// Notes that a session was used now; a shared read unless a minute has passed.
    pub fn touch(&self, id: Uuid, now: i64) {
        let stale = self
            .seen
            .read_sync(&id, |_, (at, _)| now - at >= self.seen_every)
            .unwrap_or(true);
        if stale {
            self.seen.upsert_sync(id, (now, true));
        }
    }

    /// Records a last-seen time read from the store (already written there).
    pub fn note_seen(&self, id: Uuid, at: i64) {
        let _ = self.seen.entry_sync(id).or_insert((at, false));
    }

    /// The last-seen time held in memory, if any.
    pub fn last_seen(&self, id: &Uuid) -> Option<i64> {
        self.seen.read_sync(id, |_, (at, _)| *at)
    }

    /// Last-seen times not yet written, marked written. A touch racing with this keeps its
    /// own mark and goes out with the next batch.
    pub fn take_unwritten(&self) -> Vec<(Uuid, i64)> {
        let mut dirty = Vec::new();
        self.seen.retain_sync(|id, (at, d)| {
            if *d {
                dirty.push((*id, *at));
                *d = false;
            }
            true
        });
        dirty
    }

    /// Publishes a change to a user (made here or reported by the change feed).
    pub fn put_user(&self, user: CachedUser) {
        let (id, active) = (user.id, user.active);
        let slot = self.slot(user);
        self.users.upsert_sync(id, slot);
        // Published first, cut second: a tunnel registering meanwhile sees one or the other.
        if !active {
            self.tunnels.cut_user(id, crate::tunnels::Why::Deactivated);
        }
    }

    fn slot(&self, user: CachedUser) -> UserSlot {
        let written = 1 + self
            .user_writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        UserSlot {
            user: Arc::new(user),
            written,
        }
    }

    /// Publishes a user the change feed re-read from the store, unless a copy was written here
    /// after the read began (`mark`): that copy is newer than the read.
    pub fn put_user_read(&self, user: CachedUser, mark: u64) {
        let (id, active) = (user.id, user.active);
        let applied = match self.users.entry_sync(id) {
            scc::hash_map::Entry::Occupied(mut o) => {
                let newer = o.get().written > mark;
                if !newer {
                    *o.get_mut() = self.slot(user);
                }
                !newer
            }
            scc::hash_map::Entry::Vacant(v) => {
                v.insert_entry(self.slot(user));
                true
            }
        };
        if applied && !active {
            self.tunnels.cut_user(id, crate::tunnels::Why::Deactivated);
        }
    }

    /// Taken before a poll reads users from the store: see `refresh_user`.
    pub fn user_write_mark(&self) -> u64 {
        self.user_writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Applies a user re-read from the store where this cache holds a different copy (a poll
    /// reads the same rows again and again: an unchanged user keeps its encoded values). A copy
    /// published here after the poll's read began (`mark`) is newer than the read and stays:
    /// a read taken before a reactivation must not deactivate the user again. The next poll
    /// reads the row again, so a change made elsewhere is only put off, never lost.
    pub fn refresh_user(&self, user: CachedUser, mark: u64) -> bool {
        let (id, active) = (user.id, user.active);
        let applied = self
            .users
            .update_sync(&id, |_, s| {
                let apply = s.written <= mark && *s.user != user;
                if apply {
                    *s = self.slot(user);
                }
                apply
            })
            .unwrap_or(false);
        if applied && !active {
            self.tunnels.cut_user(id, crate::tunnels::Why::Deactivated);
        }
        applied
    }

    /// Holds a tunnel opened by a session until the registration is dropped. A session revoked
    /// (or a user deactivated) between the request's check and this call is cut at once: both
    /// publish before they cut, and this registers before it looks.
    pub fn hold_tunnel(
        &self,
        session: Uuid,
        entry: &SessionEntry,
        cut: std::sync::Arc<crate::tunnels::Cut>,
    ) -> crate::tunnels::Registration {
        let held = self
            .tunnels
            .register(session, entry.user_id, entry.expires_at, cut);
        let revoked = self.session(&session).is_some_and(|e| e.revoked);
        let inactive = self.user(entry.user_id).is_some_and(|u| !u.active);
        if revoked || inactive {
            self.tunnels
                .cut_session(&session, crate::tunnels::Why::Revoked);
        }
        held
    }

    pub fn forget_user(&self, id: i64) {
        self.users.remove_sync(&id);
    }

    /// Stores a user read from the store unless a copy is cached: a read taken before a
    /// concurrent change (a deactivation) must not overwrite what that change published.
    pub fn fill_user(&self, user: CachedUser) {
        // Written 0: any later poll may replace it.
        let slot = UserSlot {
            user: Arc::new(user),
            written: 0,
        };
        let _ = self.users.insert_sync(slot.user.id, slot);
    }

    /// Sessions neither revoked nor expired (a scan: for the metrics scrape, not the hot path).
    pub fn live(&self, now: i64) -> usize {
        let mut n = 0;
        self.sessions.iter_sync(|_, e| {
            n += usize::from(!e.revoked && e.expires_at > now);
            true
        });
        n
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Drops entries past their expiry; run periodically.
    pub fn sweep(&self, now: i64) {
        self.sessions.retain_sync(|_, e| e.expires_at > now);
        self.seen
            .retain_sync(|id, (_, dirty)| *dirty || self.sessions.contains_sync(id));
        if self.sessions.len() < self.max_entries / 2 {
            // Users are cheap and few; only trim them when sessions are scarce too.
            let mut live = std::collections::HashSet::new();
            self.sessions.iter_sync(|_, e| {
                live.insert(e.user_id);
                true
            });
            self.users.retain_sync(|id, _| live.contains(id));
        }
    }

    /// Keeps the cache bounded. Dropping a live entry is always safe (the next request reloads
    /// it from the store); revoked entries are kept so a revocation can't be undone by a race.
    /// The size is counted once per 1/32 of the cap inserted, so the cache may run over its cap
    /// by that much between counts.
    fn make_room(&self) {
        use std::sync::atomic::Ordering;
        let every = (self.max_entries / 32).max(1);
        if self.since_count.fetch_add(1, Ordering::Relaxed) + 1 < every {
            return;
        }
        self.since_count.store(0, Ordering::Relaxed);
        if self.sessions.len() < self.max_entries {
            return;
        }
        self.sweep(crate::store::now());
        let target = self.max_entries - self.max_entries / 10;
        let mut excess = self.sessions.len().saturating_sub(target);
        self.sessions.retain_sync(|_, e| {
            if excess > 0 && !e.revoked {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(exp: i64) -> SessionEntry {
        SessionEntry {
            user_id: 1,
            token_id: Uuid::new_v4(),
            expires_at: exp,
            remember: false,
            revoked: false,
            amr: crate::auth::Amr::PWD,
        }
    }

    fn user(active: bool) -> CachedUser {
        CachedUser {
            id: 7,
            email: "u@example.test".into(),
            name: "U".into(),
            role: "user".into(),
            active,
            picture: None,
            email_verified: true,
            groups: vec![],
            header_values: Default::default(),
        }
    }

    #[test]
    fn a_poll_read_before_a_reactivation_does_not_deactivate_again() {
        let c = SessionCache::new(100);
        c.put_user(user(false));
        // The poll starts reading; meanwhile the user is reactivated here.
        let mark = c.user_write_mark();
        c.put_user(user(true));
        assert!(!c.refresh_user(user(false), mark));
        assert!(c.user(7).unwrap().active);
        // The next poll (marked after that write) reads the row as it is now.
        let mark = c.user_write_mark();
        assert!(!c.refresh_user(user(true), mark));
        // A change made elsewhere after the local write is applied.
        assert!(c.refresh_user(user(false), mark));
        assert!(!c.user(7).unwrap().active);
        // A copy filled from the store may be replaced by any poll.
        c.forget_user(7);
        c.fill_user(user(true));
        assert!(c.refresh_user(user(false), 0));
        // The change feed's reads follow the same rule, and fill an absent copy.
        let mark = c.user_write_mark();
        c.put_user(user(true));
        c.put_user_read(user(false), mark);
        assert!(c.user(7).unwrap().active);
        c.forget_user(7);
        c.put_user_read(user(false), mark);
        assert!(!c.user(7).unwrap().active);
    }

    #[test]
    fn revocation_wins_over_a_late_fill() {
        let c = SessionCache::new(100);
        let id = Uuid::new_v4();
        c.revoke(id, 1000);
        c.fill_session(id, entry(1000));
        assert!(c.session(&id).map(|e| e.revoked).unwrap_or(false));
    }

    #[test]
    fn no_renewal_resurrects_a_revoked_session() {
        let c = SessionCache::new(100);
        let (id, old) = (Uuid::new_v4(), Uuid::new_v4());
        c.put_session(
            id,
            SessionEntry {
                token_id: old,
                ..entry(1000)
            },
        );
        c.revoke(id, 1000);
        c.renew(id, old, entry(2000));
        c.renewed_elsewhere(id, entry(2000));
        c.put_session(id, entry(2000));
        assert!(c.session(&id).unwrap().revoked);
        // A renewal from a token that is no longer current changes nothing either.
        let id = Uuid::new_v4();
        let current = entry(1000);
        c.put_session(id, current);
        c.renew(id, Uuid::new_v4(), entry(3000));
        assert_eq!(c.session(&id), Some(current));
        let next = entry(3000);
        c.renew(id, current.token_id, next);
        assert_eq!(c.session(&id), Some(next));
    }

    #[test]
    fn revocation_wins_racing_renewals_on_threads() {
        let c = std::sync::Arc::new(SessionCache::new(10_000));
        for _ in 0..200 {
            let id = Uuid::new_v4();
            let first = entry(1000);
            c.put_session(id, first);
            let renewer = {
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut cur = first.token_id;
                    for _ in 0..50 {
                        let next = entry(1000);
                        c.renew(id, cur, next);
                        cur = next.token_id;
                    }
                })
            };
            c.revoke(id, 1000);
            renewer.join().unwrap();
            assert!(c.session(&id).unwrap().revoked);
        }
    }

    #[test]
    fn stays_bounded_and_keeps_revocations() {
        let c = SessionCache::new(100);
        let far = crate::store::now() + 3600;
        let revoked = Uuid::new_v4();
        c.revoke(revoked, far);
        for _ in 0..500 {
            c.put_session(Uuid::new_v4(), entry(far));
        }
        assert!(c.len() <= 100 + 100 / 32, "len {}", c.len());
        assert!(c.session(&revoked).map(|e| e.revoked).unwrap_or(false));
    }

    #[test]
    fn last_seen_is_recorded_once_a_minute_and_taken_in_batches() {
        let c = SessionCache::new(100);
        let id = Uuid::new_v4();
        c.touch(id, 1_000);
        c.touch(id, 1_030);
        assert_eq!(
            c.last_seen(&id),
            Some(1_000),
            "within the minute: no new write"
        );
        assert_eq!(c.take_unwritten(), vec![(id, 1_000)]);
        assert!(c.take_unwritten().is_empty(), "written once");
        c.touch(id, 1_061);
        assert_eq!(c.take_unwritten(), vec![(id, 1_061)]);
    }

    #[test]
    fn sweep_drops_expired() {
        let c = SessionCache::new(100);
        let id = Uuid::new_v4();
        c.put_session(id, entry(10));
        c.sweep(11);
        assert!(c.session(&id).is_none());
    }
}
