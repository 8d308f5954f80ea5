//! Forward-auth behind real edge proxies: Debian's nginx (`auth_request`) and Caddy
//! (`forward_auth`) each protect the recording app, ask the gateway about every request, copy
//! the identity headers it answers with, and send browsers to the gateway's sign-in page. The
//! configs are the ones shipped in `deploy/forward-auth/`, with ports filled in.

use crate::harness::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends.
struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn found(cmd: &str) -> bool {
    let there = ["/usr/sbin", "/usr/bin", "/usr/local/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(cmd).exists());
    // CI installs every edge proxy: there, a missing one fails instead of skipping.
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "{cmd} is required (PORTCULLIS_REQUIRE_APPS is set)"
    );
    there
}

async fn wait_listening(p: &mut Proc, port: u16, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = p.0.try_wait().unwrap() {
            panic!(
                "{} exited with {status}: {}",
                p.1,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "{} did not start", p.1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `deploy/<file>` with the example's addresses replaced by this test's.
fn example(file: &str, edge: u16, gateway: u16, app: std::net::SocketAddr) -> String {
    let text = std::fs::read_to_string(format!("{}/deploy/forward-auth/{file}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    text.replace("127.0.0.1:8000", &format!("127.0.0.1:{edge}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{gateway}"))
        .replace("127.0.0.1:3000", &app.to_string())
}

async fn nginx(dir: &std::path::Path, edge: u16, gateway: u16, app: std::net::SocketAddr) -> Proc {
    let site = example("nginx-auth-request.conf", edge, gateway, app);
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/nginx.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n{site}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new(if found("nginx") { "nginx" } else { "/usr/sbin/nginx" })
        .args(["-p", &dir.display().to_string(), "-c", &conf.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut p = Proc(child, "nginx");
    wait_listening(&mut p, edge, &dir.join("nginx.log")).await;
    p
}

async fn caddy(dir: &std::path::Path, edge: u16, gateway: u16, app: std::net::SocketAddr) -> Proc {
    let site = example("Caddyfile", edge, gateway, app);
    let conf = dir.join("Caddyfile");
    std::fs::write(
        &conf,
        format!("{{\n  admin off\n  auto_https off\n}}\n{site}"),
    )
    .unwrap();
    let log = dir.join("caddy.log");
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&conf)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut p = Proc(child, "caddy");
    wait_listening(&mut p, edge, &log).await;
    p
}

/// A gateway that answers forward-auth checks from this machine, and sends browsers back to
/// the edge after signing in.
async fn gateway(up: &Upstream, edges: &[u16]) -> Gateway {
    let mut o = Options::new(up.addr);
    let origins: Vec<String> = edges
        .iter()
        .map(|p| format!("\"http://127.0.0.1:{p}\""))
        .collect();
    o.server_extra = format!(
        "  trusted_proxies: [\"127.0.0.1/32\"]\n  redirect_origins: [{}]\n",
        origins.join(", ")
    );
    o.extra = "api:\n  routes:\n    forward-auth: true\n    auth-request: true\n".into();
    Gateway::start(o).await
}

/// Signs in through the gateway's sign-in page, as the browser the edge sent there would;
/// returns the session cookie and where the page sends the browser back to.
async fn sign_in_at(location: &str, email: &str, password: &str) -> (String, String) {
    let c = no_redirects();
    let page = c.get(location).send().await.unwrap();
    assert_eq!(page.status(), 200, "the sign-in page opens");
    let (csrf, _) = set_cookie(&page);
    let token = csrf.trim_start_matches("portcullis_csrf=").to_string();
    let url = url::Url::parse(location).unwrap();
    let back = url
        .query_pairs()
        .find(|(k, _)| k == "returnTo")
        .map(|(_, v)| v.to_string())
        .expect("returnTo");
    let r = c
        .post(format!("{}login", url.join("/").unwrap()))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("returnTo", back.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    (set_cookie(&r).0, to)
}

/// The same journey through either edge: refusals, the sign-in round trip, identity headers
/// at the app, roles, forged identity headers, logout.
async fn journey(edge: u16, g: &Gateway, up: &Upstream) {
    let base = format!("http://127.0.0.1:{edge}");
    let c = no_redirects();
    let before = up.count();

    // An API client without credentials: 401, and the app saw nothing.
    let r = c.get(format!("{base}/app/data")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A browser: to the gateway's sign-in page, coming back to the original URL.
    let r = c
        .get(format!("{base}/app/page?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    // The gateway's public URL (here `http://localhost:<port>`, the harness's default).
    let port = g.base.rsplit(':').next().unwrap();
    assert!(
        location.starts_with(&format!("http://localhost:{port}/login?returnTo=")),
        "{location}"
    );
    assert_eq!(up.count(), before, "no refused request reached the app");

    let (cookie, back) = sign_in_at(&location, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(back, format!("{base}/app/page?x=1"), "back to where the browser was");
    let r = c
        .get(&back)
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.last();
    assert_eq!(seen.path, "/app/page");
    assert_eq!(seen.headers["x-auth-email"], ADMIN_EMAIL);
    assert_eq!(seen.headers["x-auth-role"], "admin");

    // A Bearer token works the same; a user without the role gets 403.
    let admin = g.admin_token().await;
    let email = format!("edge-{edge}@example.test");
    g.create_user(&admin, &email, "user", "edge-user-password-1")
        .await;
    let user = g.login(&email, "edge-user-password-1", false).await;
    let r = c
        .get(format!("{base}/admin/x"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(format!("{base}/app/x"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], email.as_str());

    // Identity headers a client sends never reach the app as the gateway's.
    let r = c
        .get(format!("{base}/public/x"))
        .header("x-auth-email", "forged@example.test")
        .header("x-auth-role", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.last();
    assert_eq!(seen.path, "/public/x");
    for h in ["x-auth-email", "x-auth-role"] {
        assert!(
            seen.headers.get(h).is_none_or(|v| v.is_empty()),
            "{h} reached the app: {:?}",
            seen.headers.get(h)
        );
    }

    // Logging out at the gateway ends access through the edge at once.
    let session = cookie.trim_start_matches("portcullis_session=");
    assert_eq!(g.post("/api/logout", Some(session)).await.status(), 200);
    let r = c
        .get(format!("{base}/app/page"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn nginx_auth_request_protects_an_app() {
    if !found("nginx") {
        eprintln!("SKIPPED: nginx is not installed (apt-get install nginx-light); .ci/run installs it");
        return;
    }
    let up = Upstream::start().await;
    let edge = free_port();
    let g = gateway(&up, &[edge]).await;
    let dir = tempfile::tempdir().unwrap();
    let port = g.base.rsplit(':').next().unwrap().parse().unwrap();
    let _nginx = nginx(dir.path(), edge, port, up.addr).await;
    journey(edge, &g, &up).await;
}

#[tokio::test]
async fn caddy_forward_auth_protects_an_app() {
    if !found("caddy") {
        eprintln!("SKIPPED: caddy is not installed (apt-get install caddy); .ci/run installs it");
        return;
    }
    let up = Upstream::start().await;
    let edge = free_port();
    let g = gateway(&up, &[edge]).await;
    let dir = tempfile::tempdir().unwrap();
    let port = g.base.rsplit(':').next().unwrap().parse().unwrap();
    let _caddy = caddy(dir.path(), edge, port, up.addr).await;
    journey(edge, &g, &up).await;
}

#[tokio::test]
async fn forward_auth_answers_only_trusted_proxies_and_needs_the_original_request() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.server_extra = "  trusted_proxies: [\"10.0.0.0/8\"]\n".into();
    o.extra = "api:\n  routes:\n    forward-auth: true\n".into();
    let g = Gateway::start(o).await;
    let r = g
        .client
        .get(g.url("/auth/forward"))
        .header("x-forwarded-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "127.0.0.1 is not a trusted proxy here");
    // Off unless configured: the path is the app's.
    assert_eq!(g.get("/auth/request", None).await.status(), 401);

    let (_up, g) = start_with(|o| {
        o.server_extra = "  trusted_proxies: [\"127.0.0.1/32\"]\n".into();
        o.extra = "api:\n  routes:\n    forward-auth: \"/_check\"\n".into();
    })
    .await;
    assert_eq!(g.get("/_check", None).await.status(), 400, "no X-Forwarded-Uri");
    let ask = |uri: &'static str| {
        g.client
            .get(g.url("/_check"))
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-host", "app.test")
            .send()
    };
    assert_eq!(ask("/public/x").await.unwrap().status(), 200);
    assert_eq!(ask("/app/x").await.unwrap().status(), 401);
    assert_eq!(ask("/public/..%2fadmin").await.unwrap().status(), 400);
    // The gateway's own paths are the apps' when asked about: decided by the routes.
    assert_eq!(ask("/api/login").await.unwrap().status(), 401);
    let token = g.admin_token().await;
    let r = g
        .client
        .get(g.url("/_check"))
        .header("x-forwarded-uri", "/admin/x")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-email"], ADMIN_EMAIL);
}
