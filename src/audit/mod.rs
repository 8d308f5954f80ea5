//! The audit trail: security events with stable types (`kinds`), built where their action
//! happens (`event`, with who and where from the request's `context`), kept in the store as
//! a hash chain (`crate::store::audit`) that `verify` checks. An account or admin change
//! appends its events in the change's own transaction (the store's methods take them); the
//! request path's events go through a bounded queue (`sink`) that never holds a request up.
//! `output` copies the trail to stdout or a file as JSON lines; `view` is the one JSON shape.

pub mod changes;
pub mod context;
pub mod event;
pub mod kinds;
pub mod output;
pub mod query;
pub mod sink;
pub mod verify;
pub mod view;

pub use event::Event;
pub use sink::Sink;

use crate::store::Store;
use std::sync::Arc;
use tokio::sync::watch;

/// The trail's upkeep for a running gateway: writes the queue, follows the output, and on
/// `shutdown` drains the queue, records `system.stopped`, and flushes the output after it.
pub async fn run(
    store: Arc<dyn Store>,
    queue: Option<tokio::sync::mpsc::Receiver<crate::store::NewEvent>>,
    output: Option<output::Output>,
    instance: String,
    after: Option<i64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (stop_writer, writer_stop) = watch::channel(false);
    let (stop_output, output_stop) = watch::channel(false);
    let writer = queue.map(|rx| tokio::spawn(sink::write(store.clone(), rx, writer_stop)));
    let follower = output.map(|o| {
        tokio::spawn(output::follow(
            store.clone(),
            o,
            instance,
            after,
            output_stop,
        ))
    });
    let _ = shutdown.changed().await;
    let _ = stop_writer.send(true);
    if let Some(w) = writer {
        let _ = w.await;
    }
    let stopped = Event::new(kinds::SYSTEM_STOPPED)
        .by_system("gateway")
        .build();
    if let Err(e) = store.append_audit(&[stopped]).await {
        tracing::warn!(error = %e, "system.stopped could not be recorded");
    }
    let _ = stop_output.send(true);
    if let Some(f) = follower {
        let _ = f.await;
    }
}
