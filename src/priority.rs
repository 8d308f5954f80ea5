//! CPU priority of the gateway's background threads. On Linux, scheduling is per thread, so a
//! thread can lower its own nice value: the proxy threads then win the CPU whenever both want
//! it, and the background work still progresses when they do not.

/// Nice value of the control plane's threads (the auth API, the change feed, reloads).
pub const CONTROL: i32 = 10;
/// Nice value of the password-hashing threads: the lowest, as argon2 is the costliest work.
pub const HASHING: i32 = 19;

/// Puts the calling thread in Linux's idle scheduling class: unlike nice 19, a proxy thread
/// that wakes up takes the core from it at once instead of waiting out its time slice. It
/// still gets a small share of a core kept busy by the proxy.
pub fn idle() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain system call on the calling thread (`0`) with a parameter it only reads.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        lower(HASHING);
    }
}

/// Lowers the calling thread's priority to `nice` (0 normal, 19 lowest).
pub fn lower(nice: i32) {
    // Nice, not SCHED_IDLE: this work must still progress on a gateway whose proxy threads
    // keep the CPU busy.
    // SAFETY: a plain system call on the calling thread (`0`); no memory is shared.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        tracing::debug!(nice, "could not lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        let nice = || {
            // SAFETY: reads the calling thread's nice value.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        };
        let before = nice();
        let lowered = std::thread::spawn(move || {
            super::lower(super::CONTROL);
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, super::CONTROL.max(before));
        assert_eq!(nice(), before, "the calling thread only");
    }
}
