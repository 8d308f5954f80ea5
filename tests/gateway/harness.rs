//! Test harness: a real recording upstream, and the real `portcullis` binary on ephemeral
//! ports with a temp SQLite database — or, in the `gateway_pg` run of the same tests, a
//! database of its own on a real PostgreSQL the harness starts — killed when the guard drops.

use axum::extract::Request;
use axum::response::IntoResponse;
use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SECRET: &str = "integration-test-secret-that-is-long-enough";
pub const ADMIN_EMAIL: &str = "root@example.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub path: String,
    pub headers: http::HeaderMap,
}

/// A real HTTP server standing in for the protected app. `/slow` waits 3 s.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let record = record.clone();
            async move {
                let path = req.uri().path().to_string();
                // The page shows the identity the gateway vouched for, as an app would.
                let identity: String = req
                    .headers()
                    .iter()
                    .filter(|(k, _)| k.as_str().starts_with("x-auth-"))
                    .map(|(k, v)| format!("\n{k}: {}", v.to_str().unwrap_or("?")))
                    .collect();
                record.lock().unwrap().push(Seen {
                    method: req.method().clone(),
                    path: path.clone(),
                    headers: req.headers().clone(),
                });
                if path.starts_with("/slow") {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                (
                    http::StatusCode::OK,
                    format!("upstream saw {path}{identity}"),
                )
                    .into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { addr, seen }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream saw nothing")
    }
}

/// A recording upstream and a gateway in front of it, on the default config.
pub async fn start() -> (Upstream, Gateway) {
    start_with(|_| {}).await
}

/// A recording upstream and a gateway in front of it, its config changed by `change`.
pub async fn start_with(change: impl FnOnce(&mut Options)) -> (Upstream, Gateway) {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    change(&mut o);
    let g = Gateway::start(o).await;
    (up, g)
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A port free now and never handed out before in this run: the OS may give the same
/// ephemeral port to two callers that have not bound it yet (a gateway and an edge proxy
/// starting side by side), and the later one then talks to the other's process.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Knobs for one gateway's config.
pub struct Options {
    pub upstream: String,
    pub routes: String,
    pub extra: String,
    pub secret: Option<String>,
    pub grace: &'static str,
    pub read_timeout: &'static str,
    /// More entries under `upstreams:`, each line indented two spaces.
    pub more_upstreams: String,
    /// More lines under `tokens:`, each indented two spaces.
    pub more_tokens: String,
    /// Defaults to `http://localhost:{port}`.
    pub public_url: Option<String>,
    /// Another gateway's database file, to run two instances on one store.
    pub database: Option<PathBuf>,
    /// A database URL to use as is (a test's own PostgreSQL).
    pub database_url: Option<String>,
    /// More keys of the `database:` section, e.g. `  outage_grace: 2s\n`.
    pub database_extra: String,
    /// `RUST_LOG` for the process.
    pub log_filter: &'static str,
    /// More keys of the `server:` section, each line indented two spaces.
    pub server_extra: String,
    /// More environment for the process.
    pub env: Vec<(String, String)>,
}

impl Options {
    pub fn new(upstream: SocketAddr) -> Self {
        Options {
            upstream: format!("\"{upstream}\""),
            routes: DEFAULT_ROUTES.to_string(),
            extra: String::new(),
            secret: Some(SECRET.to_string()),
            grace: "10s",
            read_timeout: "1s",
            more_upstreams: String::new(),
            more_tokens: String::new(),
            public_url: None,
            database: None,
            database_url: None,
            database_extra: String::new(),
            log_filter: "info",
            server_extra: String::new(),
            env: Vec::new(),
        }
    }
}

pub const DEFAULT_ROUTES: &str = r#"
  - { name: public, path: "/public/**", upstream: app, auth: none }
  - { name: admin, path: "/admin/**", methods: [GET, POST], upstream: app, auth: { roles: [admin] } }
  - { name: maybe, path: "/maybe/**", upstream: app, auth: optional }
  - { name: app, path: "/**", upstream: app, auth: required }
"#;

pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub admin: String,
    pub child: Option<Child>,
    pub config: PathBuf,
    pub client: reqwest::Client,
    pub log_filter: &'static str,
    pub env: Vec<(String, String)>,
}

/// Waits until both listeners answer; fails with the process log if it exits or stalls.
pub async fn wait_ready(child: &mut Child, base: &str, admin: &str, log: &std::path::Path) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        let ready = client
            .get(format!("{admin}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
            && tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
                .await
                .is_ok();
        if ready {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("gateway exited with {status}:\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "gateway did not become ready:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portcullis")
}

pub fn write_config(dir: &std::path::Path, o: &Options, port: u16, admin_port: u16) -> PathBuf {
    let secret = o
        .secret
        .as_ref()
        .map(|s| format!("  secret: \"{s}\"\n"))
        .unwrap_or_default();
    let yaml = format!(
        r#"server:
  listen: "127.0.0.1:{port}"
  admin_listen: "127.0.0.1:{admin_port}"
{public_url}  data_dir: "{data}"
  grace_period: "{grace}"
  max_body_size: 65536
  threads: 2
{server_extra}database:
  url: "{db}"
{db_extra}tokens:
{secret}  expiration: "1 hour"
  expiration_long: "7 days"
{more_tokens}
upstreams:
  app: {{ addrs: [{up}], connect_timeout: "1s", read_timeout: "{read}" }}
{more}
routes:{routes}
{extra}
"#,
        data = dir.join("data").display(),
        db = database_url(o, dir),
        db_extra = o.database_extra,
        server_extra = o.server_extra,
        public_url = o
            .public_url
            .as_ref()
            .map(|u| format!("  public_url: \"{u}\"\n"))
            .unwrap_or_default(),
        grace = o.grace,
        up = o.upstream,
        read = o.read_timeout,
        more = o.more_upstreams,
        more_tokens = o.more_tokens,
        routes = o.routes,
        extra = o.extra,
    );
    let path = dir.join("portcullis.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The test's database: a SQLite file, or in the PostgreSQL run a database on the suite's
/// cluster named after that file (so instances given the same file share one database).
fn database_url(o: &Options, dir: &std::path::Path) -> String {
    if let Some(url) = &o.database_url {
        return url.clone();
    }
    let file = o
        .database
        .clone()
        .unwrap_or_else(|| dir.join("data/portcullis.db"));
    if !crate::ON_POSTGRES {
        return format!("sqlite://{}", file.display());
    }
    let Some(pg) = crate::pg::shared() else {
        eprintln!(
            "SKIPPED: the PostgreSQL run of the suite needs initdb and pg_ctl (apt-get install postgresql); .ci/run installs them"
        );
        std::process::exit(0);
    };
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    file.hash(&mut h);
    pg.database(&format!("gw_{:016x}", h.finish()))
}

impl Gateway {
    pub async fn start(o: Options) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin_port) = (free_port(), free_port());
        let config = write_config(dir.path(), &o, port, admin_port);
        let mut g = Gateway {
            base: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            dir,
            child: None,
            config,
            client: reqwest::Client::new(),
            log_filter: o.log_filter,
            env: o.env.clone(),
        };
        g.spawn().await;
        g
    }

    /// Starts (or restarts) the process on the same config and data.
    pub async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("gateway.log")).unwrap();
        let child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("PORTCULLIS_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("PORTCULLIS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", self.log_filter)
            // Tests of expiries move the gateway's clock instead of sleeping.
            .env("PORTCULLIS_TEST_CLOCK", "1")
            // Structured logs, so tests can read the access log field by field.
            .env("PORTCULLIS_LOG_JSON", "true")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let log = self.dir.path().join("gateway.log");
        wait_ready(self.child.as_mut().unwrap(), &self.base, &self.admin, &log).await;
    }

    /// Writes a new config file for this instance (same ports and data), e.g. before SIGHUP.
    pub fn rewrite_config(&self, o: &Options) {
        let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        write_config(self.dir.path(), o, port(&self.base), port(&self.admin));
    }

    /// Waits until the log has a line containing `needle`.
    pub async fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit; returns how long that took.
    pub async fn wait_exit(&mut self, limit: Duration) -> Duration {
        let start = Instant::now();
        let child = self.child.as_mut().unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "gateway still running after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut r = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.post(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    /// A GET on the admin listener.
    pub async fn admin_get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.admin))
            .send()
            .await
            .unwrap()
    }

    /// Moves the gateway's clock forward (sessions, idle and age limits, backoff, fresh
    /// sign-ins, one-time links all read it), instead of sleeping through an expiry.
    pub async fn advance_clock(&self, by: Duration) {
        let r = self
            .client
            .post(format!(
                "{}/test/clock?advance_ms={}",
                self.admin,
                by.as_millis()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the test clock is off in this build");
    }

    /// The Prometheus text from the admin listener.
    pub async fn metrics(&self) -> String {
        let r = self.admin_get("/metrics").await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// Logs in and returns the token.
    pub async fn login(&self, email: &str, password: &str, remember: bool) -> String {
        let body = serde_json::json!({"email": email, "password": password, "remember": remember});
        let r = until_served(|| self.post_json("/api/login", body.clone(), None)).await;
        assert_eq!(r.status(), 200, "login failed");
        r.json::<String>().await.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD, false).await
    }

    /// Adds a user through the CLI (the only way before the users API) and logs them in.
    pub fn add_user(&self, email: &str, role: &str, password: &str) {
        let mut child = Command::new(bin())
            .args([
                "user",
                "add",
                "--email",
                email,
                "--name",
                "Test User",
                "--role",
                role,
                "--password-stdin",
                "--config",
            ])
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Asserts the standard error body and returns it.
pub async fn error_body(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["statusCode"], status);
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(v["message"], v["statusMessage"]);
    assert!(v["error"].as_str().is_some());
    v
}

/// Decodes a JWT payload without verifying it (to read exp/iat in tests).
pub fn payload(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// The status code of a raw HTTP/1.1 answer; 0 when there is none.
pub fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Asks for a magic link for `email` and returns the token of the `nth` mail.
pub async fn magic_link_token(g: &Gateway, smtp: &SmtpServer, nth: usize, email: &str) -> String {
    g.call(
        http::Method::POST,
        "/api/auth/magic-link",
        None,
        Some(serde_json::json!({ "email": email })),
    )
    .await;
    query_param(&smtp.nth(nth).await.link(), "token")
}

/// Sends raw bytes and returns what came back (for requests reqwest will not make).
/// `clients` keep-alive clients at once, each sending `each` GETs one after another to
/// `path(client, n)`, with `token` as Bearer if given; every answer must be 200.
pub async fn get_concurrently(
    g: &Gateway,
    clients: usize,
    each: usize,
    path: impl Fn(usize, usize) -> String,
    token: Option<&str>,
) {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = g.client.clone();
            let urls: Vec<String> = (0..each).map(|n| g.url(&path(c, n))).collect();
            let token = token.map(str::to_string);
            tokio::spawn(async move {
                for url in urls {
                    let mut req = client.get(&url);
                    if let Some(t) = &token {
                        req = req.bearer_auth(t);
                    }
                    let r = req.send().await.unwrap();
                    assert_eq!(r.status(), 200, "{url}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

pub async fn raw_request(base: &str, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    // The gateway may answer and close before it has read everything; that is fine.
    let _ = s.write_all(bytes).await;
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    while let Ok(Ok(n)) =
        tokio::time::timeout(std::time::Duration::from_secs(3), s.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Sends a request again while the gateway sheds it with 503 + `Retry-After`, as a client
/// should: on a loaded test host a password check can wait past the hashing queue's deadline
/// and be refused by design (`auth::password::QUEUE_DEADLINE`). Nothing was changed by a
/// refused request, so sending it again is safe. Any other answer is returned as it is.
pub async fn until_served<F, Fut>(send: F) -> reqwest::Response
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    for _ in 0..20 {
        let r = send().await;
        let shed = r.status() == 503 && r.headers().contains_key("retry-after");
        if !shed {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("still refused as busy after 20 tries");
}

impl Gateway {
    /// Any method, optional Bearer token, optional JSON body.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut r = self.client.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// Creates a user through the admin API; returns its id.
    pub async fn create_user(&self, admin: &str, email: &str, role: &str, password: &str) -> i64 {
        let body = serde_json::json!({"email": email, "name": "Created", "password": password, "role": role});
        let r = until_served(|| {
            self.call(
                http::Method::POST,
                "/api/nuxt-users",
                Some(admin),
                Some(body.clone()),
            )
        })
        .await;
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()["user"]["id"]
            .as_i64()
            .unwrap()
    }
}

/// The `name=value` part of a `Set-Cookie` header, and the whole header.
pub fn set_cookie(r: &reqwest::Response) -> (String, String) {
    let full = r.headers()["set-cookie"].to_str().unwrap().to_string();
    (full.split(';').next().unwrap().to_string(), full)
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Delivered {
    pub fn subject(&self) -> String {
        let m = mailparse::parse_mail(&self.raw).unwrap();
        mailparse::MailHeaderMap::get_first_value(&m.headers[..], "Subject").unwrap_or_default()
    }

    /// The decoded text/plain part.
    pub fn text(&self) -> String {
        let m = mailparse::parse_mail(&self.raw).unwrap();
        let part = m
            .subparts
            .iter()
            .find(|p| p.ctype.mimetype == "text/plain")
            .unwrap_or(&m);
        part.get_body().unwrap()
    }

    /// The first http(s) link in the text part.
    pub fn link(&self) -> String {
        let text = self.text();
        let start = text.find("http").expect("no link in the message");
        text[start..].split_whitespace().next().unwrap().to_string()
    }
}

#[derive(Clone)]
struct Sink {
    inbox: Arc<Mutex<Vec<Delivered>>>,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.buf.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox.lock().unwrap().push(Delivered {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.buf),
        });
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on a loopback port, in this process, that keeps what it receives.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Delivered>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let inbox: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = mailin_embedded::Server::new(Sink {
            inbox: inbox.clone(),
            to: Vec::new(),
            buf: Vec::new(),
        });
        server
            .with_name("smtp.test")
            .with_tcp_listener(listener)
            .with_num_threads(2);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    /// The `mail:` config that sends through this server.
    pub fn config(&self) -> String {
        format!("mail: {{ from: \"Portcullis <no-reply@example.test>\", smtp: {{ host: \"127.0.0.1\", port: {}, security: none }} }}", self.port)
    }

    pub fn count(&self) -> usize {
        self.inbox.lock().unwrap().len()
    }

    /// Waits for message number `n` (1-based) to arrive.
    pub async fn nth(&self, n: usize) -> Delivered {
        self.next_matching(n - 1, |_| true).await
    }

    /// The first message after the first `after` that `wanted` picks: mail is sent after the
    /// answer, so a notice from an earlier step may land between a count and the next mail.
    pub async fn next_matching(
        &self,
        after: usize,
        wanted: impl Fn(&Delivered) -> bool,
    ) -> Delivered {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .inbox
                .lock()
                .unwrap()
                .iter()
                .skip(after)
                .find(|m| wanted(m))
                .cloned();
            if let Some(m) = found {
                return m;
            }
            assert!(Instant::now() < deadline, "no such message after {after}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A query parameter of a link.
/// A gateway whose mail goes to a fresh SMTP server, with `extra` config; the links in its
/// mail point at `http://localhost:{port}`.
pub async fn gateway_with_mail(extra: &str) -> (Upstream, SmtpServer, Gateway) {
    let up = Upstream::start().await;
    let smtp = SmtpServer::start();
    let mut o = Options::new(up.addr);
    o.extra = format!("{}\n{extra}", smtp.config());
    let g = Gateway::start(o).await;
    (up, smtp, g)
}

pub fn query_param(link: &str, key: &str) -> String {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} not in {link}"));
    percent_decode(raw)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
