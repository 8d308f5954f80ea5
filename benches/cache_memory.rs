//! The session cache at 1,000,000 live sessions: bytes per session (heap bytes asked for, and
//! resident memory grown), then lookup time at that size. `cargo bench --bench cache_memory`
//! (SESSIONS=n to change the size). One user per three sessions, as with people on a few devices.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::Criterion;
use portcullis::auth::{CachedUser, SessionCache, SessionEntry};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use uuid::Uuid;

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn resident_bytes() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: isize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let n: usize = std::env::var("SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let now = portcullis::store::now();
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    // From before the cache exists: it reserves its table for the cap up front.
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    let cache = SessionCache::new(n);
    for (i, id) in ids.iter().enumerate() {
        cache.put_session(
            *id,
            SessionEntry {
                user_id: (i / 3) as i64,
                token_id: Uuid::new_v4(),
                expires_at: now + 3600,
                remember: false,
                revoked: false,
                amr: portcullis::auth::Amr::PWD,
            },
        );
        // Every live session has been seen; its last-seen time is kept too.
        cache.touch(*id, now);
    }
    let (heap1, rss1) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    let users = n / 3;
    for u in 0..users {
        cache.put_user(CachedUser {
            id: u as i64,
            email: format!("user{u}@example.com"),
            name: format!("User Number {u}"),
            role: "user".into(),
            active: true,
            picture: None,
            email_verified: true,
            groups: Vec::new(),
            header_values: Default::default(),
        });
    }
    let (heap2, rss2) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    assert_eq!(cache.len(), n, "nothing was evicted");

    let per = |bytes: isize, count: usize| bytes as f64 / count as f64;
    println!("session cache with {n} live sessions and {users} users:");
    println!(
        "  per session (session + last-seen entries): {:.0} B heap, {:.0} B resident",
        per(heap1 - heap0, n),
        per(rss1 - rss0, n)
    );
    println!(
        "  per user: {:.0} B heap, {:.0} B resident",
        per(heap2 - heap1, users),
        per(rss2 - rss1, users)
    );
    println!(
        "  per session, users included: {:.0} B heap, {:.0} B resident",
        per(heap2 - heap0, n),
        per(rss2 - rss0, n)
    );

    // At the cap: a stream of sessions loaded on misses (a restart, a crowd) must keep the
    // cache bounded at a steady cost per insert.
    let cap = 100_000;
    let churn = SessionCache::new(cap);
    let started = std::time::Instant::now();
    for i in 0..(10 * cap) {
        churn.fill_session(
            Uuid::new_v4(),
            SessionEntry {
                user_id: i as i64,
                token_id: Uuid::nil(),
                expires_at: now + 3600,
                remember: false,
                revoked: false,
                amr: portcullis::auth::Amr::PWD,
            },
        );
    }
    println!(
        "  churn: {} inserts into a cache capped at {cap}: {:.0} ns each, {} held at the end",
        10 * cap,
        started.elapsed().as_nanos() as f64 / (10 * cap) as f64,
        churn.len()
    );
    drop(churn);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("session_cache_1m");
    let mut i = 0usize;
    g.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            cache.session(black_box(&ids[i])).unwrap()
        })
    });
    let absent = Uuid::new_v4();
    g.bench_function("lookup_miss", |b| {
        b.iter(|| cache.session(black_box(&absent)))
    });
    g.finish();
    c.final_summary();
}
