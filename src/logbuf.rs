//! Log lines written in batches. A `write(2)` per access-log line was a quarter of the
//! system calls of a proxied request; here each thread appends its lines to a buffer of its
//! own (an uncontended lock, no system call), and a buffer reaches stderr when it passes
//! [`FULL`] bytes, when the flusher thread comes by (every [`EVERY`]), or when the process
//! ends ([`Flush`] on drop). No line is lost on SIGTERM: the server returns from its graceful
//! shutdown before `main` drops the guard.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// A thread's buffer is written at once past this size.
const FULL: usize = 64 * 1024;
/// How long a line may wait in a buffer.
pub const EVERY: Duration = Duration::from_millis(10);

type Slot = Arc<Mutex<Vec<u8>>>;

/// Every thread's buffer, for the flusher.
fn slots() -> &'static Mutex<Vec<Slot>> {
    static SLOTS: OnceLock<Mutex<Vec<Slot>>> = OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

thread_local! {
    static MINE: Slot = {
        let slot = Slot::default();
        lock(slots()).push(slot.clone());
        slot
    };
}

/// A poisoned lock only means a thread panicked mid-append; the bytes are still worth writing.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_out(bytes: &[u8]) {
    // Nowhere left to report a failed write to stderr.
    let _ = io::stderr().lock().write_all(bytes);
}

/// Writes every buffer out now, in one write.
pub fn flush_all() {
    let all: Vec<Slot> = lock(slots()).clone();
    let mut out = Vec::new();
    for slot in all {
        let mut b = lock(&slot);
        if b.is_empty() {
            continue;
        }
        if out.is_empty() {
            // Usually one thread's buffer: taken, not copied.
            out = renewed(&mut b);
        } else {
            out.append(&mut b);
        }
    }
    if !out.is_empty() {
        write_out(&out);
    }
    // Threads that ended leave their buffer here; once written, it can go.
    lock(slots()).retain(|s| Arc::strong_count(s) > 1 || !lock(s).is_empty());
}

/// Hands `tracing_subscriber` a writer per event that appends to this thread's buffer.
#[derive(Clone, Copy, Default)]
pub struct Batched;

pub struct Appender;

/// Appends `buf` to `slot`; the whole buffer, taken, once it has reached [`FULL`].
fn append(slot: &Mutex<Vec<u8>>, buf: &[u8]) -> Option<Vec<u8>> {
    let mut b = lock(slot);
    b.extend_from_slice(buf);
    (b.len() >= FULL).then(|| renewed(&mut b))
}

/// Takes a buffer's bytes, leaving room for as many: growing an empty buffer back line by line
/// was a string of reallocations and copies for every batch.
fn renewed(b: &mut Vec<u8>) -> Vec<u8> {
    let room = b.capacity().min(2 * FULL);
    std::mem::replace(b, Vec::with_capacity(room))
}

impl Write for Appender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let full = MINE.try_with(|slot| append(slot, buf));
        match full {
            Ok(Some(bytes)) => write_out(&bytes),
            Ok(None) => {}
            // A thread being torn down has no buffer left: write directly.
            Err(_) => write_out(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = Appender;

    fn make_writer(&'a self) -> Appender {
        Appender
    }
}

/// Starts the flusher thread; dropping the guard writes what is left.
pub fn start() -> Flush {
    let started = std::thread::Builder::new()
        .name("portcullis-log".into())
        .spawn(|| loop {
            std::thread::sleep(EVERY);
            flush_all();
        });
    if let Err(e) = started {
        // Buffers still reach stderr when full and at exit.
        eprintln!("warning: no log flusher thread ({e}); log lines may lag");
    }
    Flush
}

pub struct Flush;

impl Drop for Flush {
    fn drop(&mut self) {
        flush_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_threads_buffer_is_written_then_dropped() {
        let slot = std::thread::spawn(|| {
            Appender.write_all(b"").unwrap();
            MINE.with(Arc::downgrade)
        })
        .join()
        .unwrap();
        assert!(slot.upgrade().is_some(), "kept until written");
        flush_all();
        assert!(slot.upgrade().is_none(), "dropped once written");
    }

    #[test]
    fn a_full_buffer_is_written_at_once() {
        // A buffer of its own: the flusher (or another test's `flush_all`) may empty this
        // thread's shared one at any moment.
        let slot = Mutex::new(Vec::new());
        let line = vec![b' '; 1024];
        for _ in 0..(FULL / 1024 - 1) {
            assert_eq!(append(&slot, &line), None, "kept below the size");
        }
        assert_eq!(lock(&slot).len(), FULL - 1024);
        assert_eq!(append(&slot, &line).map(|b| b.len()), Some(FULL));
        assert!(lock(&slot).is_empty(), "written once full");
    }
}
