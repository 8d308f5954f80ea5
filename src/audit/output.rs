//! `audit.output`: the events this instance wrote, as JSON lines on stdout or appended to a
//! file, for a log pipeline (and a copy of the chain's hashes outside the database). Read back
//! from the store in `seq` order, so events written in an account change's transaction come
//! out too, and only once they are committed; on SIGTERM what is left is written and flushed.

use crate::store::Store;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::AuditOutput as Output;

/// Follows the trail from `after` (the head at start when `None`) until `stop`, writing
/// this instance's events.
pub async fn follow(
    store: Arc<dyn Store>,
    output: Output,
    instance: String,
    after: Option<i64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut sink: Box<dyn Write + Send> = match &output {
        Output::Stdout => Box::new(std::io::stdout()),
        Output::File(path) => {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "audit.output cannot be opened: no events written there");
                    return;
                }
            }
        }
    };
    let mut after = match after {
        Some(a) => a,
        None => store.audit_head().await.map(|h| h.0).unwrap_or(0),
    };
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => false,
            _ = stop.changed() => true,
        };
        // On the way out, everything committed so far.
        loop {
            let rows = match store.audit_rows_after(after, 500).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "audit.output could not read the trail");
                    break;
                }
            };
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for r in rows.iter().filter(|r| r.instance == instance) {
                let _ = writeln!(sink, "{}", super::view::json(r));
            }
            if rows.len() < 500 {
                break;
            }
        }
        let _ = sink.flush();
        if stopping {
            return;
        }
    }
}
