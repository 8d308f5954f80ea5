//! Per-account login backoff: after a few failed passwords for one address, each further
//! attempt must wait, doubling up to a small cap. It is keyed by the address asked for, known
//! or not, so it tells nothing about which accounts exist; and it is soft — an attacker can
//! slow a victim to one try per `max_wait` but never lock them out.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Failures before the first wait.
    pub free_failures: u32,
    /// The longest wait, in seconds.
    pub max_wait: i64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            free_failures: 5,
            max_wait: 60,
        }
    }
}

/// Addresses tracked at most; beyond it new addresses go untracked (the per-IP limit still
/// applies) rather than growing memory without bound.
const MAX_TRACKED: usize = 100_000;

pub struct AccountBackoff {
    policy: BackoffPolicy,
    /// address → (consecutive failures, time of the last one in milliseconds).
    failures: scc::HashMap<String, (u32, i64)>,
    tracked: AtomicUsize,
}

impl AccountBackoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        AccountBackoff {
            policy,
            failures: scc::HashMap::new(),
            tracked: AtomicUsize::new(0),
        }
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
        let Some((failures, last)) = self.failures.read_sync(email, |_, v| *v) else {
            return Ok(());
        };
        let remaining = self.wait_after(failures) - (now_ms - last);
        if remaining > 0 {
            Err((remaining as u64).div_ceil(1000))
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, email: &str, now_ms: i64) {
        let updated = self
            .failures
            .update_sync(email, |_, v| *v = (v.0.saturating_add(1), now_ms));
        if updated.is_none()
            && self.tracked.load(Ordering::Relaxed) < MAX_TRACKED
            && self
                .failures
                .insert_sync(email.to_string(), (1, now_ms))
                .is_ok()
        {
            self.tracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn succeeded(&self, email: &str) {
        if self.failures.remove_sync(email).is_some() {
            self.tracked.fetch_sub(1, Ordering::Relaxed);
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

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_cap() {
        let b = backoff();
        let t = 1_000_000;
        for _ in 0..3 {
            assert_eq!(b.check("a@x", t), Ok(()));
            b.failed("a@x", t);
        }
        // After three failures the next attempt waits a second, then two, then four…
        assert_eq!(b.check("a@x", t), Err(1));
        assert_eq!(b.check("a@x", t + 999), Err(1));
        assert_eq!(b.check("a@x", t + 1000), Ok(()));
        b.failed("a@x", t + 1000);
        assert_eq!(b.check("a@x", t + 1000), Err(2));
        for _ in 0..20 {
            b.failed("a@x", t + 2000);
        }
        assert_eq!(b.check("a@x", t + 2000), Err(60), "capped");
        assert_eq!(
            b.check("a@x", t + 62_000),
            Ok(()),
            "the real user outlives it"
        );
        assert_eq!(b.check("other@x", t), Ok(()), "per address");
    }

    #[test]
    fn success_clears_and_sweep_bounds_memory() {
        let b = backoff();
        for _ in 0..5 {
            b.failed("a@x", 10_000);
        }
        b.succeeded("a@x");
        assert_eq!(b.check("a@x", 10_000), Ok(()));
        assert_eq!(b.tracked(), 0);
        for i in 0..100 {
            b.failed(&format!("u{i}@x"), 10_000);
        }
        assert_eq!(b.tracked(), 100);
        b.sweep(10 + 899);
        assert_eq!(b.tracked(), 100);
        b.sweep(10 + 900);
        assert_eq!(b.tracked(), 0);
    }
}
