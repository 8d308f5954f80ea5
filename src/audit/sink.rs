//! The request path's events (failed sign-ins, second factors refused, denials): a bounded
//! queue a writer drains into the store in batches, so no request ever waits for the trail.
//! What does not fit is dropped and counted (`portcullis_audit_events_dropped_total`).
//! Denials are kept to one a second per route and client; the rest are counted, and the
//! next one written says how many.

use super::event::Event;
use crate::store::{NewEvent, Store};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const QUEUE: usize = 10_000;
const BATCH: usize = 256;
/// Routes × clients remembered for the denial limit before the stale ones are forgotten.
const DENIAL_KEYS: usize = 10_000;

/// (route, client) → (the second of the last denial written, denials suppressed since).
type Denials = HashMap<(String, Option<IpAddr>), (i64, u64)>;

pub struct Sink {
    /// The trail's head when this process started: `audit.output` copies what comes after.
    pub started_after: std::sync::atomic::AtomicI64,
    tx: mpsc::Sender<NewEvent>,
    rx: Mutex<Option<mpsc::Receiver<NewEvent>>>,
    denials: Mutex<Denials>,
}

impl Default for Sink {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Sink {
            started_after: std::sync::atomic::AtomicI64::new(-1),
            tx,
            rx: Mutex::new(Some(rx)),
            denials: Mutex::new(HashMap::new()),
        }
    }
}

impl Sink {
    /// Queues `event`; never waits. Full: dropped, and counted.
    pub fn record(&self, event: Event) {
        if self.tx.try_send(event.build()).is_err() {
            crate::metrics::METRICS.audit_dropped.inc();
        }
    }

    /// `authz.denied` for `route`, unless this route and client had one this second.
    pub fn denied(&self, route: &str, client: Option<IpAddr>, event: impl FnOnce(u64) -> Event) {
        let now = crate::clock::now();
        let suppressed = {
            let Ok(mut map) = self.denials.lock() else {
                return;
            };
            if map.len() >= DENIAL_KEYS {
                map.retain(|_, (at, n)| *at >= now - 1 || *n > 0);
                if map.len() >= DENIAL_KEYS {
                    map.clear();
                }
            }
            let slot = map
                .entry((route.to_string(), client))
                .or_insert((i64::MIN, 0));
            if slot.0 == now {
                slot.1 += 1;
                crate::metrics::METRICS.audit_suppressed.inc();
                return;
            }
            slot.0 = now;
            std::mem::take(&mut slot.1)
        };
        self.record(event(suppressed));
    }

    /// The queue's other end, for the one writer (the server's; the CLI has none).
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<NewEvent>> {
        self.rx.lock().ok().and_then(|mut r| r.take())
    }
}

/// Drains the queue into the store until `stop` says so, then writes what is left.
pub async fn write(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<NewEvent>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return;
                }
            }
            _ = stop.changed() => {
                rx.close();
                while rx.recv_many(&mut batch, BATCH).await > 0 {
                    flush(&*store, &mut batch).await;
                }
                return;
            }
        }
        flush(&*store, &mut batch).await;
    }
}

async fn flush(store: &dyn Store, batch: &mut Vec<NewEvent>) {
    if batch.is_empty() {
        return;
    }
    // A store that is down gets a few tries; what still fails is counted, not kept forever.
    for attempt in 0..3 {
        match store.append_audit(batch).await {
            Ok(()) => {
                crate::metrics::audit_events("written", batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) if attempt < 2 => {
                tracing::warn!(error = %e, "audit events not written yet, retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit events lost: the store refused them")
            }
        }
    }
    crate::metrics::audit_events("failed", batch.len() as u64);
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_and_denials_are_one_a_second() {
        let sink = Sink::default();
        let mut rx = sink.take_receiver().unwrap();
        assert!(sink.take_receiver().is_none(), "one writer");
        let dropped = crate::metrics::METRICS.audit_dropped.get();
        for _ in 0..QUEUE + 5 {
            sink.record(Event::new(super::super::kinds::LOGIN_FAILED));
        }
        assert!(crate::metrics::METRICS.audit_dropped.get() >= dropped + 5);
        while rx.try_recv().is_ok() {}
        let ip = Some("192.0.2.1".parse().unwrap());
        let mut said = Vec::new();
        for _ in 0..5 {
            sink.denied("admin", ip, |n| {
                said.push(n);
                Event::new(super::super::kinds::AUTHZ_DENIED)
            });
        }
        // Another client, same second: its own.
        sink.denied("admin", None, |n| {
            said.push(n);
            Event::new(super::super::kinds::AUTHZ_DENIED)
        });
        // Two, or three when the loop crossed into the next second (then that one says how
        // many it stands for).
        assert!((2..=3).contains(&said.len()), "{said:?}");
        assert_eq!(said[0], 0);
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, said.len());
    }
}
