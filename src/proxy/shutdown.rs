//! Graceful stop: SIGTERM and SIGINT both stop accepting and let in-flight requests finish.
//! Pingora's own graceful path sleeps the whole grace period even when idle; the drain watcher
//! ends the process as soon as nothing is in flight, and the grace period is only the ceiling.
//! SIGQUIT is Pingora's graceful upgrade: the listening sockets go to the new instance started
//! with `serve --upgrade`, then this one drains the same way.

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Counts a request as in flight for as long as it lives (it sits in the request context).
pub struct InFlight(());

impl InFlight {
    pub fn start() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Acquire)
}

pub struct Signals {
    pub grace: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot install signal handlers; stopping");
            return ShutdownSignal::FastShutdown;
        };
        let (which, upgrade) = tokio::select! {
            _ = term.recv() => ("SIGTERM", false),
            _ = int.recv() => ("SIGINT", false),
            _ = quit.recv() => ("SIGQUIT", true),
        };
        tracing::info!(
            signal = which,
            grace_secs = self.grace.as_secs_f64(),
            in_flight = in_flight(),
            "{}",
            if upgrade {
                "upgrading: handing the listening sockets to the new instance, then finishing requests in flight"
            } else {
                "stopping: no new connections, finishing requests in flight"
            }
        );
        if !STOPPING.swap(true, Ordering::AcqRel) {
            if upgrade {
                // Pingora keeps accepting for a few seconds after the hand-over so nothing
                // queued is lost; count only after it has stopped.
                spawn_drain_watch(self.grace + UPGRADE_OVERLAP, UPGRADE_OVERLAP + LINGER);
            } else {
                // Give Pingora a moment to close its listeners, and idle kept-alive connections
                // their linger, before counting.
                spawn_drain_watch(self.grace, Duration::from_millis(200) + LINGER);
            }
        }
        if upgrade {
            ShutdownSignal::GracefulUpgrade
        } else {
            ShutdownSignal::GracefulTerminate
        }
    }
}

/// Once the service stops, a kept-alive connection is still read this long (patched Pingora,
/// `keepalive-linger-on-shutdown`): a request a client had already sent on it is answered
/// (with `Connection: close`) instead of lost. The process stays up until that is over.
const LINGER: Duration = pingora::proxy::KEEPALIVE_LINGER;

/// How long Pingora goes on accepting after handing its sockets over (its `CLOSE_TIMEOUT`,
/// 5 s), plus a margin.
const UPGRADE_OVERLAP: Duration = Duration::from_millis(5_500);

/// Exits once nothing has been in flight for a moment (listeners are closed by then), or when
/// the grace period is over. Starts counting after `settle`.
fn spawn_drain_watch(grace: Duration, settle: Duration) {
    let started = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(settle);
        let mut idle_since: Option<Instant> = None;
        loop {
            if started.elapsed() >= grace {
                tracing::warn!(in_flight = in_flight(), "grace period over; exiting");
                std::process::exit(0);
            }
            if in_flight() == 0 {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(100) {
                    tracing::info!("all requests finished; exiting");
                    std::process::exit(0);
                }
            } else {
                idle_since = None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}
