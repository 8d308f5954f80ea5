//! Hot reload (SIGHUP) and the graceful upgrade (`serve --upgrade` + SIGQUIT), on the real
//! binary with requests in flight the whole time.

use crate::harness::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests `url` in a loop on fresh connections until stopped; counts answers that are not
/// `expect` (including connection errors) and keeps the first few for the failure message.
struct Hammer {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Hammer {
    fn start(url: String, token: Option<String>, expect: u16) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let task = tokio::spawn(async move {
            // No keep-alive: every request needs the listening socket, which is what a reload
            // or an upgrade must never close.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let mut failures = Vec::new();
            while !s.load(Ordering::Acquire) {
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                match req.send().await {
                    Ok(r) if r.status().as_u16() == expect => {}
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    // With its causes (reset, closed before a response, refused): a failure
                    // here is rare, and the top-level message alone does not say which.
                    Err(e) => failures.push(format!("error {e}: {:?}", std::error::Error::source(&e))),
                }
                n.fetch_add(1, Ordering::AcqRel);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            failures
        });
        Hammer { stop, sent, task }
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Release);
        let failures = self.task.await.unwrap();
        (self.sent.load(Ordering::Acquire), failures)
    }
}

async fn reloads(g: &Gateway, outcome: &str) -> u64 {
    let text = g.metrics().await;
    let line = format!("portcullis_config_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Waits until the reload counter for `outcome` reaches `n`, then checks it went no further:
/// the counter moves after the new config serves (and after its audit event is written).
async fn until_reloads(g: &Gateway, outcome: &str, n: u64) {
    let what = format!("{outcome} reloads reaching {n}");
    crate::cluster::within(Duration::from_secs(10), &what, || async {
        reloads(g, outcome).await >= n
    })
    .await;
    assert_eq!(reloads(g, outcome).await, n);
}

/// Waits until `path` answers `status` (a reload is applied asynchronously to the signal).
async fn until_status(g: &Gateway, path: &str, token: Option<&str>, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if g.get(path, token).await.status() == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered {status}:\n{}",
            g.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sighup_swaps_routes_upstreams_identity_and_limits_with_no_failed_request() {
    let (a, b) = (Upstream::start().await, Upstream::start().await);
    let mut o = Options::new(a.addr);
    o.read_timeout = "10s";
    o.more_upstreams = format!("  other: {{ addrs: [\"{}\"] }}\n", b.addr);
    let g = Gateway::start(o).await;
    let token = g.admin_token().await;
    assert_eq!(
        g.get("/fresh/x", None).await.status(),
        401,
        "not public yet"
    );

    // A slow request on the old routes, and steady traffic across the reload.
    let client = g.client.clone();
    let slow_url = g.url("/public/slow");
    let slow = tokio::spawn(async move { client.get(slow_url).send().await.unwrap() });
    let public = Hammer::start(g.url("/public/steady"), None, 200);
    let private = Hammer::start(g.url("/app/steady"), Some(token.clone()), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a_before = a.count();

    let mut next = Options::new(a.addr);
    next.read_timeout = "10s";
    next.more_upstreams = format!("  other: {{ addrs: [\"{}\"] }}\n", b.addr);
    next.routes = r#"
  - { name: public, path: "/public/**", upstream: other, auth: none }
  - { name: fresh, path: "/fresh/**", upstream: other, auth: none }
  - { name: limited, path: "/limited/**", upstream: other, auth: none, rate_limit: { per_minute: 1, burst: 2 } }
  - { name: app, path: "/**", upstream: other, auth: required }
"#
    .into();
    next.extra =
        "identity_headers:\n  prefix: \"X-User-\"\nsession_cache:\n  max_entries: 7\n".into();
    g.rewrite_config(&next);
    g.signal("HUP");
    until_status(&g, "/fresh/x", None, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (sent_public, failed_public) = public.finish().await;
    let (sent_private, failed_private) = private.finish().await;
    assert!(
        failed_public.is_empty() && failed_private.is_empty(),
        "requests failed across the reload: {failed_public:?} {failed_private:?}"
    );
    assert!(
        sent_public > 20 && sent_private > 20,
        "traffic kept flowing"
    );
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 200, "the request in flight finished");
    assert_eq!(slow.text().await.unwrap(), "upstream saw /public/slow");
    assert!(
        a.seen
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.path == "/public/slow"),
        "the request in flight stayed on the upstream it started with"
    );

    // New routes and upstream: the public route now goes to `other`.
    let a_after = a.count();
    let b_before = b.count();
    assert_eq!(g.get("/public/after", None).await.status(), 200);
    assert_eq!(a.count(), a_after, "the old upstream gets nothing new");
    assert_eq!(b.count(), b_before + 1);
    assert!(a_after >= a_before);

    // New identity headers; a client-sent copy under the new prefix is stripped.
    let r = g
        .client
        .get(g.url("/app/who"))
        .bearer_auth(&token)
        .header("X-User-Role", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = b.last();
    assert_eq!(seen.headers["x-user-role"], "admin");
    assert_eq!(seen.headers.get_all("x-user-role").iter().count(), 1);
    assert!(seen.headers.get("x-auth-user-id").is_none());
    assert!(seen.headers.get("x-user-user-id").is_some());

    // The new route's rate limit.
    let codes = [
        g.get("/limited/1", None).await,
        g.get("/limited/2", None).await,
        g.get("/limited/3", None).await,
    ];
    assert_eq!(codes[0].status(), 200);
    assert_eq!(codes[1].status(), 200);
    assert_eq!(codes[2].status(), 429);
    assert!(codes[2].headers().contains_key("retry-after"));

    // A start-only setting is named, not applied.
    g.wait_log("session_cache.max_entries").await;
    until_reloads(&g, "applied", 1).await;
    assert_eq!(reloads(&g, "rejected").await, 0);
}

#[tokio::test]
async fn an_invalid_config_is_refused_with_every_problem_logged_and_the_old_one_stays() {
    let (up, g) = start().await;
    let token = g.admin_token().await;

    let mut bad = Options::new(up.addr);
    bad.routes = r#"
  - { name: public, path: "/public/**", upstream: nowhere, auth: none }
  - { name: app, path: "/**", upstream: app, auth: sometimes }
"#
    .into();
    g.rewrite_config(&bad);
    g.signal("HUP");
    g.wait_log("config reload refused; the running config stays")
        .await;
    let log = g.log();
    assert!(log.contains("routes[0].upstream"), "{log}");
    assert!(log.contains("routes[1].auth"), "{log}");
    until_reloads(&g, "rejected", 1).await;
    assert_eq!(reloads(&g, "applied").await, 0);
    // The running rules are untouched.
    assert_eq!(g.get("/public/x", None).await.status(), 200);
    assert_eq!(g.get("/app/x", None).await.status(), 401);
    assert_eq!(g.get("/app/x", Some(&token)).await.status(), 200);

    // Unparseable YAML too, and the process is still alive afterwards.
    std::fs::write(&g.config, "routes: [ {").unwrap();
    g.signal("HUP");
    until_reloads(&g, "rejected", 2).await;
    assert_eq!(g.get("/public/x", None).await.status(), 200);

    // A fixed file applies on the next signal.
    let mut good = Options::new(up.addr);
    good.routes = "\n  - { name: all, path: \"/**\", upstream: app, auth: none }\n".into();
    g.rewrite_config(&good);
    g.signal("HUP");
    until_status(&g, "/app/x", None, 200).await;
    until_reloads(&g, "applied", 1).await;
}

#[tokio::test]
async fn graceful_upgrade_hands_the_listener_to_a_new_process_without_a_failed_request() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.read_timeout = "10s";
    let mut old = Gateway::start(o).await;
    let token = old.admin_token().await;
    let steady = Hammer::start(old.url("/app/steady"), Some(token.clone()), 200);
    let client = old.client.clone();
    let slow_url = old.url("/public/slow");

    // The new process waits for the old one's sockets.
    let log = old.dir.path().join("upgraded.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut new = std::process::Command::new(bin())
        .args(["serve", "--upgrade", "--config"])
        .arg(&old.config)
        .env("RUST_LOG", "info")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let sock = old.dir.path().join("data/upgrade.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(
            Instant::now() < deadline,
            "the new process never listened on {sock:?}"
        );
        assert!(
            new.try_wait().unwrap().is_none(),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slow = tokio::spawn(async move { client.get(slow_url).send().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    old.signal("QUIT");
    let took = old.wait_exit(Duration::from_secs(15)).await;
    assert_eq!(
        slow.await.unwrap().status(),
        200,
        "in flight on the old one"
    );

    // Only the new process is left, serving the same port and the same sessions.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sent, failures) = steady.finish().await;
    let new_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed: {:?}\n{new_log}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(sent > 50, "traffic kept flowing ({sent})");
    assert!(new.try_wait().unwrap().is_none(), "{new_log}");
    assert_eq!(old.get("/app/x", Some(&token)).await.status(), 200);
    assert!(
        took < Duration::from_secs(12),
        "old one exited after {took:?}"
    );
    // The admin listener moves over once the old process has let it go.
    let deadline = Instant::now() + Duration::from_secs(10);
    let healthz = format!("{}/healthz", old.admin);
    while !reqwest::get(&healthz)
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "{new_log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = new.kill();
    let _ = new.wait();
}
