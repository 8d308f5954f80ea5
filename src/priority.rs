//! CPU priority of the gateway's background threads. On Linux, scheduling is per thread, so a
//! thread can lower its own nice value: the proxy threads then win the CPU whenever both want
//! it, and the background work still progresses when they do not.

/// Nice value of the control plane's threads (the auth API, the change feed, reloads).
pub const CONTROL: i32 = 10;
/// Nice value of the password-hashing threads. Not Linux's idle class: a thread there gets
/// almost nothing while any other process on the host is busy, and sign-ins took 5.3 s (p50)
/// beside two busy neighbours. At nice 10 a hash takes a tenth of a core shared with normal
/// work; a login flood is held back by the bounded queue and its deadline
/// (`auth::password`), not by starving the hashing threads.
pub const HASHING: i32 = 10;

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
