//! The system calls a proxied request costs, counted by `strace -c -f` attached to the real
//! gateway (its default thread count, access log on) while clients send a fixed number of
//! keep-alive requests. Counts, not times: what must not come back is a call per request that
//! is not the exchange itself — a `write(2)` per access-log line, an eventfd `write` waking
//! another worker's runtime, a `getpeername(2)` per pooled-connection reuse.
//! Skipped, saying so, without `strace` (`.ci/run` installs it).

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const CLIENTS: usize = 16;
const EACH: usize = 125;

/// What `strace -y` printed: eventfd writes, writes to the log file, `getpeername` calls.
#[derive(Debug, Default)]
struct Seen {
    wakeups: u64,
    log_writes: u64,
    other_writes: u64,
    /// The log flusher's sleeps.
    flusher_wakeups: u64,
    getpeername: u64,
}

/// The thread id of the gateway's log flusher.
fn flusher(pid: i32) -> String {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| t.unwrap().path())
        .find(|t| std::fs::read_to_string(t.join("comm")).unwrap().trim() == "portcullis-log")
        .and_then(|t| Some(t.file_name()?.to_str()?.to_string()))
        .expect("a portcullis-log thread")
}

fn seen(trace: &str, flusher: &str) -> Seen {
    let mut s = Seen::default();
    for line in trace.lines() {
        // `1234 write(27<anon_inode:[eventfd]>, "\1\0…", 8) = 8`, resumed calls included.
        if line.contains("getpeername(") {
            s.getpeername += 1;
        } else if line.contains("clock_nanosleep(") && line.starts_with(&format!("{flusher} ")) {
            s.flusher_wakeups += 1;
        } else if line.contains(" write(") {
            if line.contains("eventfd") {
                s.wakeups += 1;
            } else if line.contains("gateway.log") {
                s.log_writes += 1;
            } else {
                s.other_writes += 1;
            }
        }
    }
    s
}

async fn requests(g: &Gateway, path: &'static str, token: Option<&str>) {
    get_concurrently(g, CLIENTS, EACH, |_, _| path.to_string(), token).await;
}

#[tokio::test]
async fn a_proxied_request_costs_no_log_write_wakeup_or_peer_check() {
    if crate::ON_POSTGRES {
        eprintln!("skipped: system calls do not depend on the store; the SQLite pass counts them");
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let up = Upstream::start().await;
    let g = Gateway::start(Options::new(up.addr)).await;
    let token = g.admin_token().await;
    // Warm: upstream connections pooled, the token cached.
    requests(&g, "/public/warm", None).await;
    requests(&g, "/app/warm", Some(&token)).await;

    let trace = g.dir.path().join("strace.out");
    let mut strace = Command::new("strace")
        .args(["-f", "-y", "-e", "trace=write,getpeername,clock_nanosleep", "-o"])
        .arg(&trace)
        .args(["-p", &g.pid().to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // strace attaches to each thread; give it the time to.
    tokio::time::sleep(Duration::from_millis(700)).await;
    requests(&g, "/public/x", None).await;
    requests(&g, "/app/x", Some(&token)).await;
    Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status()
        .unwrap();
    strace.wait().unwrap();

    let s = seen(
        &std::fs::read_to_string(&trace).unwrap(),
        &flusher(g.pid()),
    );
    let n = (2 * CLIENTS * EACH) as u64;
    let report = format!("{n} requests: {s:?}");
    assert!(s.log_writes > 0, "strace saw the log being written: {report}");
    // Before: ~2.3 per request (a connection accepted on one thread, served on another).
    assert!(s.wakeups < n / 20, "eventfd wake-ups: {report}");
    // Before: one per request. Now the flusher's clock sets them (one write each time it
    // comes by, every 10 ms), not the requests: however fast or slow this machine serves.
    assert!(
        s.log_writes <= s.flusher_wakeups + n / 100,
        "log writes: {report}"
    );
    // Before: one per pooled-connection reuse, i.e. per request.
    assert!(s.getpeername < n / 100, "getpeername: {report}");
    eprintln!("{report}");
}
