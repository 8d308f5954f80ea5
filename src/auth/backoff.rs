//! Per-account login backoff: after a few failed passwords for one address, each further
//! attempt must wait, doubling up to a small cap. It is keyed by the address asked for, known
//! or not, so it tells nothing about which accounts exist; and it is soft — an attacker can
//! slow a victim to one try per `max_wait` but never lock them out.

pub use crate::config::BackoffPolicy;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Addresses tracked before the oldest of those not backing off are evicted to make room.
const MAX_TRACKED: usize = 100_000;
/// Beyond this many (every one backing off: millions of failed logins), attempts for
/// addresses not yet tracked are refused rather than let through uncounted.
const HARD_CAP: usize = 10 * MAX_TRACKED;

pub struct AccountBackoff {
    policy: BackoffPolicy,
    /// address → (consecutive failures, time of the last one in milliseconds).
    failures: scc::HashMap<String, (u32, i64)>,
    tracked: AtomicUsize,
    max_tracked: usize,
}

/// One attempt, counted as a failure from the moment it was admitted: parallel guesses each
/// take their own place in the count, so they cannot all pass before the first fails. A
/// success releases it (and clears the address); an attempt that could not be checked at all
/// gives its place back; dropping it keeps the failure.
#[must_use]
pub struct Reservation<'a> {
    backoff: &'a AccountBackoff,
    key: String,
    at: i64,
    previous_at: i64,
}

impl Reservation<'_> {
    /// The password was right: the address starts afresh.
    pub fn succeeded(self) {
        if self.backoff.failures.remove_sync(&self.key).is_some() {
            self.backoff.tracked.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The password was wrong (found out at `now_ms`): the failure stays counted, and the wait
    /// runs from now, not from when the attempt was admitted (hashing takes a while, longer
    /// under load).
    /// True when this failure is the one that starts the waits (`authn.backoff.applied`).
    pub fn failed(self, now_ms: i64) -> bool {
        let free = self.backoff.policy.free_failures;
        self.backoff
            .failures
            .update_sync(&self.key, |_, v| {
                v.1 = v.1.max(now_ms);
                v.0 == free
            })
            .unwrap_or(false)
    }

    /// No password was checked (the hashing queue was full, the database failed): the
    /// attempt does not count.
    pub fn cancelled(self) {
        self.backoff.failures.update_sync(&self.key, |_, v| {
            v.0 = v.0.saturating_sub(1);
            if v.1 == self.at {
                v.1 = self.previous_at;
            }
        });
    }
}

impl AccountBackoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        AccountBackoff {
            policy,
            failures: scc::HashMap::new(),
            tracked: AtomicUsize::new(0),
            max_tracked: MAX_TRACKED,
        }
    }

    #[cfg(test)]
    fn with_capacity(mut self, max: usize) -> Self {
        self.max_tracked = max;
        self
    }

    /// The wait after `failures` consecutive failures, in milliseconds.
    fn wait_after(&self, failures: u32) -> i64 {
        if failures < self.policy.free_failures {
            return 0;
        }
        1000i64
            .checked_shl(failures - self.policy.free_failures)
            .filter(|w| *w > 0)
            .unwrap_or(i64::MAX)
            .min(self.policy.max_wait.saturating_mul(1000))
    }

    /// `Err(seconds, rounded up)` while the address must wait before its next attempt.
    /// Times are in milliseconds, so a wait of one second is one second, whatever the clock's
    /// second boundaries.
    pub fn check(&self, email: &str, now_ms: i64) -> Result<(), u64> {
        let Some(state) = self.failures.read_sync(email, |_, v| *v) else {
            return Ok(());
        };
        self.waiting(state, now_ms)
    }

    fn waiting(&self, (failures, last): (u32, i64), now_ms: i64) -> Result<(), u64> {
        // Attempts read the clock before they take the address's lock, so `last` may be a
        // little after `now_ms`: that is no wait at all, not a wait of the difference.
        let remaining = self.wait_after(failures) - (now_ms - last).max(0);
        if remaining > 0 {
            Err((remaining as u64).div_ceil(1000))
        } else {
            Ok(())
        }
    }

    /// Admits an attempt for `email` unless it must wait (`Err(seconds)`), counting it as a
    /// failure at once, in one atomic step per address.
    pub fn reserve(&self, email: &str, now_ms: i64) -> Result<Reservation<'_>, u64> {
        let admitted = |previous_at| Reservation {
            backoff: self,
            key: email.to_string(),
            at: now_ms,
            previous_at,
        };
        // The common case, an address already tracked: check and count under its lock.
        if let Some(result) = self.failures.update_sync(email, |_, v| {
            self.waiting(*v, now_ms)?;
            let previous = v.1;
            *v = (v.0.saturating_add(1), now_ms.max(v.1));
            Ok(previous)
        }) {
            return result.map(admitted);
        }
        if self.tracked.load(Ordering::Relaxed) >= self.max_tracked {
            self.evict_idle();
            if self.tracked.load(Ordering::Relaxed) >= HARD_CAP.max(self.max_tracked) {
                return Err(1);
            }
        }
        match self.failures.insert_sync(email.to_string(), (1, now_ms)) {
            Ok(()) => {
                self.tracked.fetch_add(1, Ordering::Relaxed);
                Ok(admitted(now_ms))
            }
            // Another attempt for the same address got in first: count on its entry.
            Err(_) => self.reserve(email, now_ms),
        }
    }

    /// Makes room by dropping the oldest tenth of the addresses that are not backing off
    /// (fewer failures than the free ones). An address in backoff is never dropped to make
    /// room, so flooding the table with new addresses cannot reset a victim's count.
    fn evict_idle(&self) {
        let mut idle: Vec<(i64, String)> = Vec::new();
        self.failures.iter_sync(|k, (n, last)| {
            if *n < self.policy.free_failures {
                idle.push((*last, k.clone()));
            }
            true
        });
        let room = (self.max_tracked / 10).max(1).min(idle.len());
        if room < idle.len() {
            idle.select_nth_unstable(room);
        }
        for (_, key) in idle.into_iter().take(room) {
            let removed = self
                .failures
                .remove_if_sync(&key, |(n, _)| *n < self.policy.free_failures);
            if removed.is_some() {
                self.tracked.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Forgets addresses whose last failure is long past; run periodically (`now` in
    /// seconds).
    pub fn sweep(&self, now: i64) {
        let horizon = (self.policy.max_wait * 4).max(900) * 1000;
        let mut dropped = 0;
        self.failures.retain_sync(|_, (_, last)| {
            let keep = now * 1000 - *last < horizon;
            dropped += usize::from(!keep);
            keep
        });
        self.tracked.fetch_sub(dropped, Ordering::Relaxed);
    }

    /// The addresses (and `mfa:<user id>` keys) that must wait now: (key, failures, seconds
    /// left), longest wait first; at most `limit`.
    pub fn waiting_now(&self, now_ms: i64, limit: usize) -> Vec<(String, u32, u64)> {
        let mut out = Vec::new();
        self.failures.iter_sync(|k, v| {
            if let Err(secs) = self.waiting(*v, now_ms) {
                out.push((k.clone(), v.0, secs));
            }
            true
        });
        out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }

    /// Forgets `key`'s failures (an admin's clearing); whether it had any.
    pub fn clear(&self, key: &str) -> bool {
        let removed = self.failures.remove_sync(key).is_some();
        if removed {
            self.tracked.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    pub fn tracked(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> AccountBackoff {
        AccountBackoff::new(BackoffPolicy {
            free_failures: 3,
            max_wait: 60,
        })
    }

    fn fail(b: &AccountBackoff, who: &str, at: i64) {
        b.reserve(who, at).unwrap().failed(at);
    }

    #[test]
    fn an_attempt_that_read_the_clock_earlier_is_not_made_to_wait() {
        let b = backoff();
        let t = 1_000_000;
        // Two parallel sign-ins: the second to reserve read the clock first.
        let first = b.reserve("a@x", t + 5).unwrap();
        let second = b.reserve("a@x", t).unwrap();
        first.failed(t + 9);
        assert_eq!(b.check("a@x", t + 1), Ok(()), "under the free failures");
        second.succeeded();
    }

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_cap() {
        let b = backoff();
        let t = 1_000_000;
        for _ in 0..3 {
            assert_eq!(b.check("a@x", t), Ok(()));
            fail(&b, "a@x", t);
        }
        // After three failures the next attempt waits a second, then two, then four…
        assert_eq!(b.check("a@x", t), Err(1));
        assert!(b.reserve("a@x", t + 999).is_err());
        assert_eq!(b.check("a@x", t + 1000), Ok(()));
        fail(&b, "a@x", t + 1000);
        assert_eq!(b.check("a@x", t + 1000), Err(2));
        for i in 0..20 {
            fail(&b, "a@x", t + 3000 + i * 61_000);
        }
        assert_eq!(b.check("a@x", t + 3000 + 19 * 61_000), Err(60), "capped");
        assert_eq!(b.check("other@x", t), Ok(()), "per address");
    }

    #[test]
    fn parallel_guesses_are_counted_before_any_is_checked() {
        let b = backoff();
        // Ten guesses admitted at the same instant, none resolved yet: only the free three
        // get in.
        let admitted: Vec<_> = (0..10)
            .filter_map(|_| b.reserve("a@x", 5_000).ok())
            .collect();
        assert_eq!(admitted.len(), 3);
        for r in admitted {
            r.failed(5_000);
        }
        assert_eq!(b.check("a@x", 5_000), Err(1));
    }

    #[test]
    fn success_clears_and_an_unchecked_attempt_does_not_count() {
        let b = backoff();
        fail(&b, "a@x", 10_000);
        fail(&b, "a@x", 10_000);
        b.reserve("a@x", 10_000).unwrap().cancelled();
        fail(&b, "a@x", 10_000);
        assert_eq!(b.check("a@x", 10_000), Err(1), "three failures, not four");
        b.reserve("a@x", 11_000).unwrap().succeeded();
        assert_eq!(b.check("a@x", 11_000), Ok(()));
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn sweep_forgets_old_failures() {
        let b = backoff();
        for i in 0..100 {
            fail(&b, &format!("u{i}@x"), 10_000);
        }
        assert_eq!(b.tracked(), 100);
        b.sweep(10 + 899);
        assert_eq!(b.tracked(), 100);
        b.sweep(10 + 900);
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn a_flood_of_new_addresses_never_evicts_one_backing_off() {
        let b = backoff().with_capacity(1000);
        for _ in 0..3 {
            fail(&b, "victim@x", 1_000);
        }
        fail(&b, "victim@x", 2_000);
        assert_eq!(b.check("victim@x", 2_000), Err(2));
        // A flood of one-off addresses, ten times the table.
        for i in 0..10_000 {
            fail(&b, &format!("flood{i}@x"), 2_000 + i);
        }
        assert!(b.tracked() <= 1000, "bounded: {}", b.tracked());
        assert!(b.check("victim@x", 2_500).is_err(), "still backing off");
        // The oldest idle addresses went first.
        assert_eq!(b.failures.read_sync("flood0@x", |_, v| *v), None);
        assert!(b.failures.read_sync("flood9999@x", |_, v| *v).is_some());
    }
}
