//! Operating the gateway: rate limits, metrics, health, graceful stop, restarts, the CLI.

use crate::harness::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn login_is_rate_limited_per_client_with_retry_after() {
    let (_up, g) = start_with(|o| {
        o.extra = "rate_limits: { login: { per_minute: 2, burst: 2 } }".into();
    })
    .await;
    for _ in 0..2 {
        let r = g
            .post_json(
                "/api/login",
                json!({"email": "x@example.test", "password": "nope-nope"}),
                None,
            )
            .await;
        assert_eq!(r.status(), 400);
    }
    let r = g
        .post_json(
            "/api/login",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            None,
        )
        .await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "retry-after {retry}");
    error_body(r, 429).await;
    let metrics = g.metrics().await;
    assert!(
        metrics.contains("portcullis_login_attempts_total{outcome=\"rate_limited\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_login_attempts_total{outcome=\"bad_credentials\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_login_flood_is_paced_while_signed_in_traffic_goes_on() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    // One hashing thread: its queue (8) fills at once under 60 concurrent logins. Each login
    // holds a place in the account's backoff count until it succeeds; with enough free places
    // for all 60, what is under test is the hashing queue.
    o.extra = "rate_limits: { login: { per_minute: 100000, burst: 100000 }, account: { free_failures: 100 } }\npasswords: { max_concurrent_hashes: 1 }".into();
    let g = Gateway::start(o).await;
    let token = g.admin_token().await;
    let started = std::time::Instant::now();
    let flood: Vec<_> = (0..60)
        .map(|_| {
            let (client, url) = (g.client.clone(), g.url("/api/login"));
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                let retry = r.headers().get("retry-after").is_some();
                (r.status().as_u16(), retry, started.elapsed())
            })
        })
        .collect();
    // Signed-in requests are served during the flood, not after it.
    for _ in 0..5 {
        assert_eq!(g.get("/app/x", Some(&token)).await.status(), 200);
    }
    let served = started.elapsed();
    let mut ok = 0;
    let mut refused = Vec::new();
    for f in flood {
        match f.await.unwrap() {
            (200, _, _) => ok += 1,
            (503, true, at) => refused.push(at),
            other => panic!("unexpected answer to a flooded login: {other:?}"),
        }
    }
    assert!(ok >= 1, "logins that got a slot succeed");
    assert!(!refused.is_empty(), "logins beyond the queue are refused");
    // Each refusal is held for the pause, so a client retrying at once cannot turn refusals
    // into a flood of its own; the signed-in requests did not wait behind them.
    let first_refusal = refused.iter().min().copied().unwrap();
    assert!(
        first_refusal >= std::time::Duration::from_secs(1),
        "a refusal came after {first_refusal:?}"
    );
    assert!(
        served < first_refusal,
        "signed-in requests took {served:?}, the first refusal came at {first_refusal:?}"
    );
    let metrics = g.metrics().await;
    assert!(
        metrics.contains("portcullis_login_attempts_total{outcome=\"busy\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_and_health_are_on_the_admin_listener() {
    let (_up, g) = start().await;
    let t = g.admin_token().await;
    g.get("/app", Some(&t)).await;
    g.get("/app", None).await;
    g.get("/public/x", None).await;
    assert_eq!(g.admin_get("/healthz").await.status(), 200);
    let m = g.metrics().await;
    for line in [
        "portcullis_auth_decisions_total{outcome=\"allow\"} 1",
        "portcullis_auth_decisions_total{outcome=\"deny_unauthenticated\"} 1",
        "portcullis_auth_decisions_total{outcome=\"allow_public\"} 1",
        "portcullis_login_attempts_total{outcome=\"success\"} 1",
        "portcullis_proxy_requests_total{decision=\"forward\",method=\"GET\",route=\"app\",status=\"2xx\"} 1",
        "portcullis_proxy_requests_total{decision=\"deny\",method=\"GET\",route=\"app\",status=\"4xx\"} 1",
        "portcullis_auth_failures_total{reason=\"missing\"} 1",
        "portcullis_api_requests_total{endpoint=\"/api/login\",outcome=\"success\"} 1",
        "portcullis_sessions_active 1",
    ] {
        assert!(m.contains(line), "missing {line}\n{m}");
    }
    assert!(!m.contains(&t), "no token in metrics");
    // Login filled the cache: the proxied request was a hit, and nothing went to the store.
    assert!(
        m.contains("portcullis_session_cache_lookups_total{result=\"hit\"} 1"),
        "{m}"
    );
    assert!(!m.contains("result=\"miss\""), "{m}");
    for _ in 0..20 {
        g.get("/app", Some(&t)).await;
    }
    let m = g.metrics().await;
    assert!(
        m.contains("portcullis_session_cache_lookups_total{result=\"hit\"} 21"),
        "{m}"
    );
    assert!(
        !m.contains("result=\"miss\""),
        "steady state does no store read\n{m}"
    );
    assert!(!g.log().contains(&t), "no token in logs");
    // The admin endpoints are not on the public port.
    assert_eq!(g.get("/metrics", None).await.status(), 401);
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_then_exits_promptly() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.routes = "\n  - { path: \"/**\", upstream: app, auth: none }\n".into();
    o.read_timeout = "10s";
    let mut g = Gateway::start(o).await;
    let client = g.client.clone();
    let url = g.url("/slow");
    let inflight =
        tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.signal("TERM");
    let took = g.wait_exit(Duration::from_secs(9)).await;
    assert_eq!(
        inflight.await.unwrap().unwrap(),
        200,
        "the request in flight completed"
    );
    assert!(
        took < Duration::from_secs(6),
        "exited {took:?} after SIGTERM; grace is 10s"
    );
    assert!(
        tokio::net::TcpStream::connect(g.base.trim_start_matches("http://"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sigint_on_an_idle_gateway_exits_at_once() {
    let up = Upstream::start().await;
    let mut g = Gateway::start(Options::new(up.addr)).await;
    g.signal("INT");
    let took = g.wait_exit(Duration::from_secs(9)).await;
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_generated_secret_is_kept_so_restarts_keep_sessions() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.secret = None;
    let mut g = Gateway::start(o).await;
    let t = g.admin_token().await;
    let revoked = g.admin_token().await;
    assert_eq!(g.post("/api/logout", Some(&revoked)).await.status(), 200);
    let secret_file = g.dir.path().join("data/jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret_file)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(g.log().contains("generated a signing secret"));
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        !g.log().contains(secret.trim()),
        "the secret is never logged"
    );
    g.signal("TERM");
    g.wait_exit(Duration::from_secs(9)).await;
    g.spawn().await;
    assert_eq!(
        g.get("/app", Some(&t)).await.status(),
        200,
        "session survives a restart"
    );
    assert_eq!(
        g.get("/app", Some(&revoked)).await.status(),
        401,
        "so does its revocation"
    );
}

#[tokio::test]
async fn a_short_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new("127.0.0.1:1".parse().unwrap());
    o.secret = Some("too-short".into());
    let cfg = write_config(dir.path(), &o, free_port(), free_port());
    let out = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tokens.secret") && err.contains("32"), "{err}");
    let out = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("PORTCULLIS_JWT_SECRET", "short-too")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn check_config_accepts_the_reference_config_and_lists_every_problem() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/portcullis.yaml");
    let out = Command::new(bin())
        .args(["check-config", "--config", shipped])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "upstreams: { app: { addrs: [\"127.0.0.1:3000\"] } }\nroutes:\n  - { path: \"/a\", upstream: app, auth: none }\n  - { path: \"/b\", upstream: app, auth: none }\n  - { path: \"/c\", upstream: ghost, auth: { roles: [] } }\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("routes[2].upstream") && err.contains("routes[2].auth.roles"),
        "{err}"
    );

    std::fs::write(&bad, "server:\n  listen: \"127.0.0.1:1\"\n  colour: blue\n").unwrap();
    let out = Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("colour"), "{err}");
}

#[tokio::test]
async fn cli_adds_and_lists_users_in_the_configs_database() {
    let (up, g) = start().await;
    g.add_user("Cli@Example.test", "editor", "cli-password-1");
    let t = g.login("cli@example.test", "cli-password-1", false).await;
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-role"], "editor");

    let out = Command::new(bin())
        .args(["user", "list", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("cli@example.test") && list.contains("editor") && list.contains(ADMIN_EMAIL),
        "{list}"
    );
    assert!(!list.contains("argon2"));

    let dup = Command::new(bin())
        .args([
            "user",
            "add",
            "--email",
            "cli@example.test",
            "--name",
            "X",
            "--password-stdin",
            "--config",
        ])
        .arg(&g.config)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!dup.status.success());
}

/// The README's first command: the shipped config, nothing else installed. The built-in
/// whoami upstream shows the identity headers; the first admin's password is printed once.
#[tokio::test]
async fn the_shipped_config_serves_on_embedded_defaults() {
    let cwd = tempfile::tempdir().unwrap();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/portcullis.yaml");
    let (port, admin_port) = (free_port(), free_port());
    let (base, admin) = (
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{admin_port}"),
    );
    let start = |log_name: &str| {
        let log = std::fs::File::create(cwd.path().join(log_name)).unwrap();
        Command::new(bin())
            .args(["serve", "--config", shipped])
            .current_dir(cwd.path())
            .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
            .env_remove("PORTCULLIS_ADMIN_EMAIL")
            .env_remove("PORTCULLIS_ADMIN_PASSWORD")
            .env_remove("PORTCULLIS_JWT_SECRET")
            .env_remove("PORTCULLIS_DATABASE_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let mut child = start("first.log");
    wait_ready(&mut child, &base, &admin, &cwd.path().join("first.log")).await;
    let out = std::fs::read_to_string(cwd.path().join("first.log")).unwrap();
    let password = out
        .lines()
        .find_map(|l| l.split("password: ").nth(1))
        .unwrap_or_else(|| panic!("no generated password printed:\n{out}"))
        .trim()
        .to_string();
    assert_eq!(
        out.matches(&password).count(),
        1,
        "printed once, not logged again"
    );
    assert!(cwd.path().join("data/portcullis.db").exists());

    let client = reqwest::Client::new();
    let token: String = client
        .post(format!("{base}/api/login"))
        .json(&json!({"email": "admin@localhost", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let echo = client
        .get(format!("{base}/hello"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    let echo = echo.text().await.unwrap();
    assert!(echo.starts_with("GET /hello HTTP/1.1"), "{echo}");
    assert!(
        echo.contains("x-auth-email: admin@localhost") && echo.contains("x-auth-role: admin"),
        "{echo}"
    );
    assert_eq!(
        client
            .get(format!("{base}/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // A second start finds the admin and creates nothing.
    let mut child = start("second.log");
    wait_ready(&mut child, &base, &admin, &cwd.path().join("second.log")).await;
    assert!(!std::fs::read_to_string(cwd.path().join("second.log"))
        .unwrap()
        .contains("Created the first admin"));
    let r = client
        .get(format!("{base}/hello"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the generated secret was kept");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Access-log lines go out in batches; SIGTERM right after the last answer still leaves one
/// line per request in the log.
#[tokio::test]
async fn sigterm_loses_no_access_log_line() {
    let up = Upstream::start().await;
    let mut g = Gateway::start(Options::new(up.addr)).await;
    get_concurrently(&g, 8, 100, |c, n| format!("/public/line-{c}-{n}"), None).await;
    g.signal("TERM");
    g.wait_exit(Duration::from_secs(9)).await;
    let mut seen = std::collections::HashSet::new();
    for line in g.log().lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["target"] == "access" {
            if let Some(p) = v["path"].as_str().and_then(|p| p.strip_prefix("/public/line-")) {
                assert!(seen.insert(p.to_string()), "{p} logged twice");
            }
        }
    }
    assert_eq!(seen.len(), 800, "one access-log line per request");
}
