//! The gateway's clock: the system's, plus an offset that only a test can move, and only
//! forward. Every expiry the gateway decides itself reads it — sessions, idle and age limits,
//! fresh sign-ins, login backoff, one-time links — so a test of an expiry advances the clock
//! instead of sleeping. (JWT `exp`/`nbf`, checked by the JWT library, read the system clock.)

use std::sync::atomic::{AtomicI64, Ordering};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Unix time in seconds.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    system_ms() + OFFSET_MS.load(Ordering::Relaxed)
}

/// The system's own time in milliseconds, never moved by a test: for what must agree with
/// other processes' clocks (the change feed's stamps, revocations polled from the store).
pub fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix seconds as RFC 3339 in UTC, to the second: how pages and the CLI show a time.
pub fn rfc3339(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Moves the clock forward. Reachable only from a debug build started with
/// `PORTCULLIS_TEST_CLOCK=1` (the admin listener's `POST /test/clock?advance_ms=N`).
pub fn advance(by: std::time::Duration) {
    OFFSET_MS.fetch_add(by.as_millis() as i64, Ordering::Relaxed);
}

/// Whether this process lets a test move its clock.
pub fn movable() -> bool {
    cfg!(debug_assertions) && std::env::var("PORTCULLIS_TEST_CLOCK").as_deref() == Ok("1")
}

#[cfg(test)]
mod tests {
    #[test]
    fn advancing_moves_every_reading_forward() {
        let before = super::now_ms();
        super::advance(std::time::Duration::from_secs(5));
        assert!(super::now_ms() - before >= 5000);
        assert!(super::now() >= before / 1000 + 5);
    }
}
