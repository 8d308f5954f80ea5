//! HTTPS: certificates made by `openssl` in the test, checked by real clients (curl for
//! HTTP/2 and TLS versions, reqwest with rustls for cookies and kept-alive connections).
//! SNI chooses among certificates, SIGHUP installs renewed files for new connections while
//! open ones go on, old protocols are refused and counted, check-config names bad files.

use crate::harness::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub fn have(cmd: &str) -> bool {
    let there = Command::new(cmd).arg("--version").output().is_ok();
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "{cmd} is required (PORTCULLIS_REQUIRE_APPS is set)"
    );
    there
}

/// A self-signed certificate for `name` (P-256), valid `days`: `<stem>.pem`, `<stem>.key`.
pub fn certificate(dir: &Path, stem: &str, name: &str, days: u32) {
    certificate_for(dir, stem, name, &format!("DNS:{name}"), days);
}

/// A self-signed certificate whose subjectAltName is `san` (`DNS:a.test,IP:127.0.0.1`).
fn certificate_for(dir: &Path, stem: &str, name: &str, san: &str, days: u32) {
    certificate_with(dir, stem, name, san, days, &[]);
}

/// [`certificate_for`] with more `-addext` extensions.
pub fn certificate_with(dir: &Path, stem: &str, name: &str, san: &str, days: u32, extensions: &[&str]) {
    let extra = extensions.iter().flat_map(|e| ["-addext", e]);
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName={san}")])
        // A leaf, not a CA: rustls (webpki) refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .args(extra)
        .args(["-days", &days.to_string(), "-keyout"])
        .arg(dir.join(format!("{stem}.key")))
        .arg("-out")
        .arg(dir.join(format!("{stem}.pem")))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

fn tls_config(dir: &Path, port: u16, extra: &str) -> String {
    format!(
        "  tls:\n    listen: \"127.0.0.1:{port}\"\n    cert_file: \"{d}/a.pem\"\n    key_file: \"{d}/a.key\"\n    certificates:\n      - {{ hosts: [\"b.test\", \"*.c.test\"], cert_file: \"{d}/b.pem\", key_file: \"{d}/b.key\" }}\n{extra}",
        d = dir.display()
    )
}

/// curl's answer for `host` resolved to loopback: `<status> <http version>`, or its error.
fn curl(port: u16, host: &str, ca: &Path, path: &str, args: &[&str]) -> Result<String, String> {
    let resolve = format!("{host}:{port}:127.0.0.1");
    let args: Vec<&str> = ["--resolve", resolve.as_str()].into_iter().chain(args.iter().copied()).collect();
    curl_url(&format!("https://{host}:{port}{path}"), ca, &args)
}

pub fn https_client(ca: &Path, port: u16) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("a.test", ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An HTTPS gateway: certificates for `a.test` (the default) and `b.test` made in a directory
/// of their own, the TLS listener on a free port with `tls_extra` lines, `change` for the
/// rest. `(certificates' directory, TLS port, upstream, gateway)`.
pub async fn https_gateway(
    tls_extra: &str,
    change: impl FnOnce(&mut Options),
) -> (tempfile::TempDir, u16, Upstream, Gateway) {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    certificate(dir, "a", "a.test", 90);
    certificate(dir, "b", "b.test", 90);
    let tls = free_port();
    let (up, g) = start_with(|o| {
        o.server_extra = tls_config(dir, tls, tls_extra);
        o.public_url = Some(format!("https://a.test:{tls}"));
        // A public URL: production, where mail must go somewhere.
        o.extra = "mail: { outbox: true }\n".into();
        change(o);
    })
    .await;
    (certs, tls, up, g)
}

// Several threads: curl runs blocking, and the recording app lives on the test's runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_http2_sni_reload_and_modern_protocols_only() {
    if !have("openssl") || !have("curl") {
        eprintln!("SKIPPED: openssl and curl are needed");
        return;
    }
    let (certs, tls, _up, mut g) = https_gateway("", |_| {}).await;
    let dir = certs.path();

    // ALPN: HTTP/2 for clients that offer it, HTTP/1.1 for the others.
    assert_eq!(curl(tls, "a.test", &dir.join("a.pem"), "/public/x", &["--http2"]).unwrap(), "200 2");
    assert_eq!(
        curl(tls, "a.test", &dir.join("a.pem"), "/public/x", &["--http1.1"]).unwrap(),
        "200 1.1"
    );
    assert_eq!(curl(tls, "a.test", &dir.join("a.pem"), "/app/x", &[]).unwrap(), "401 2");
    // SNI: b.test (and *.c.test) get b's certificate, anything else the default.
    assert_eq!(curl(tls, "b.test", &dir.join("b.pem"), "/public/x", &[]).unwrap(), "200 2");
    assert!(curl(tls, "b.test", &dir.join("a.pem"), "/public/x", &[]).is_err());
    assert!(curl(tls, "x.c.test", &dir.join("b.pem"), "/public/x", &[])
        .unwrap_err()
        .contains("x.c.test"), "b's certificate, which does not name x.c.test");
    // HTTP/2 for a host the connection's certificate does not cover (a reused connection,
    // RFC 9113 §9.1.1): 421, so the client opens one of its own. HTTP/1.1 is not asked to.
    let a = dir.join("a.pem");
    let other = ["-H", "Host: b.test"];
    assert_eq!(
        curl(tls, "a.test", &a, "/public/x", &["--http2", other[0], other[1]]).unwrap(),
        "421 2"
    );
    assert_eq!(
        curl(tls, "a.test", &a, "/public/x", &["--http1.1", other[0], other[1]]).unwrap(),
        "200 1.1"
    );
    // TLS 1.0 and 1.1 are refused, and counted.
    assert!(curl(tls, "a.test", &dir.join("a.pem"), "/public/x", &["--tlsv1.0", "--tls-max", "1.1"]).is_err());
    let m = g.metrics().await;
    let failures = m
        .lines()
        .find(|l| l.starts_with("portcullis_tls_handshake_failures_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(failures >= 1.0, "{m}");

    // The session cookie is Secure and host-prefixed on HTTPS.
    let c = https_client(&dir.join("a.pem"), tls);
    let r = c
        .post(format!("https://a.test:{tls}/api/nuxt-users/session"))
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, full) = set_cookie(&r);
    assert!(full.starts_with("__Host-portcullis_session=") && full.contains("Secure"), "{full}");

    // A renewed certificate: SIGHUP, and new connections get it; the open one goes on.
    let kept = https_client(&dir.join("a.pem"), tls);
    let url = format!("https://a.test:{tls}/public/x");
    assert_eq!(kept.get(&url).send().await.unwrap().status(), 200);
    certificate(dir, "a2", "a.test", 90);
    std::fs::copy(dir.join("a2.pem"), dir.join("a.pem")).unwrap();
    std::fs::copy(dir.join("a2.key"), dir.join("a.key")).unwrap();
    g.signal("HUP");
    g.wait_log("TLS certificates reloaded").await;
    assert!(!g.log().contains("only takes effect on restart"), "{}", g.log());
    assert_eq!(curl(tls, "a.test", &dir.join("a2.pem"), "/public/x", &[]).unwrap(), "200 2");
    assert_eq!(kept.get(&url).send().await.unwrap().status(), 200, "the open connection");
    // A broken file on reload: the running certificate stays.
    std::fs::write(dir.join("a.pem"), "not a certificate").unwrap();
    g.signal("HUP");
    g.wait_log("TLS certificates not reloaded").await;
    assert_eq!(curl(tls, "a.test", &dir.join("a2.pem"), "/public/x", &[]).unwrap(), "200 2");
    g.signal("TERM");
    g.wait_exit(Duration::from_secs(15)).await;
}

/// curl's answer for a URL as given (no `--resolve`): `<status> <http version>`, or its error.
fn curl_url(url: &str, ca: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .arg("--cacert")
        .arg(ca)
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

// curl runs blocking, and the recording app lives on the test's runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_that_connect_by_ip_address_are_served() {
    if !have("openssl") || !have("curl") {
        eprintln!("SKIPPED: openssl and curl are needed");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    certificate_for(dir, "ip", "gateway", "DNS:localhost,IP:127.0.0.1,IP:::1", 90);
    let tls = free_port();
    // Both families on one listener: `[::]` takes IPv4 clients as mapped addresses.
    let (_up, mut g) = start_with(|o| {
        o.server_extra = format!(
            "  tls:\n    listen: \"[::]:{tls}\"\n    cert_file: \"{d}/ip.pem\"\n    key_file: \"{d}/ip.key\"\n",
            d = dir.display()
        );
        o.public_url = Some(format!("https://127.0.0.1:{tls}"));
        // `[::]` is every interface: production, where mail must go somewhere.
        o.extra = "mail: { outbox: true }\n".into();
    })
    .await;
    let ca = dir.join("ip.pem");
    for host in ["127.0.0.1", "[::1]", "localhost"] {
        let url = format!("https://{host}:{tls}/public/x");
        assert_eq!(curl_url(&url, &ca, &["--http2"]).unwrap(), "200 2", "{url}");
        assert_eq!(curl_url(&url, &ca, &["--http1.1"]).unwrap(), "200 1.1", "{url}");
    }
    // An address the certificate does not name is still another host's: 421 over HTTP/2.
    let url = format!("https://127.0.0.1:{tls}/public/x");
    assert_eq!(
        curl_url(&url, &ca, &["--http2", "-H", "Host: 10.0.0.1"]).unwrap(),
        "421 2"
    );
    assert_eq!(
        curl_url(&url, &ca, &["--http2", "-H", "Host: [::2]"]).unwrap(),
        "421 2"
    );
    // Its expiry is exported for the alert on certificates about to expire (90 days here).
    let expires = |m: String| -> f64 {
        m.lines()
            .find_map(|l| l.strip_prefix("portcullis_tls_certificate_expires_timestamp_seconds "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no certificate expiry in\n{m}"))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let left = expires(g.metrics().await) - now;
    assert!((89.0 * 86400.0..=90.0 * 86400.0).contains(&left), "{left}");
    // A renewed certificate naming only the addresses, read the same way after SIGHUP.
    certificate_for(dir, "ip2", "gateway", "IP:127.0.0.1,IP:::1", 90);
    std::fs::copy(dir.join("ip2.pem"), dir.join("ip.pem")).unwrap();
    std::fs::copy(dir.join("ip2.key"), dir.join("ip.key")).unwrap();
    g.signal("HUP");
    g.wait_log("TLS certificates reloaded").await;
    let ca = dir.join("ip2.pem");
    for host in ["127.0.0.1", "[::1]"] {
        let url = format!("https://{host}:{tls}/public/x");
        assert_eq!(curl_url(&url, &ca, &["--http2"]).unwrap(), "200 2", "{url}");
    }
    g.signal("TERM");
    g.wait_exit(Duration::from_secs(15)).await;
}

#[tokio::test]
async fn the_plain_listener_can_send_everyone_to_https() {
    if !have("openssl") {
        return;
    }
    let (_certs, tls, up, g) = https_gateway("  redirect_to_https: true\n", |_| {}).await;
    let r = no_redirects()
        .get(g.url("/app/x?y=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://a.test:{tls}/app/x?y=1").as_str()
    );
    // ACME HTTP-01 challenges stay on plain HTTP (here: the public route's rules).
    let r = no_redirects()
        .get(g.url("/.well-known/acme-challenge/token"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 308);
    assert_eq!(up.count(), 0);
}

/// A config file with these `server:` lines (its directory lives as long as the handle).
fn config_file(server_extra: String) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut o = Options::new(([127, 0, 0, 1], 9).into());
    o.server_extra = server_extra;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &o, free_port(), free_port());
    (dir, path)
}

fn check_config(path: &Path) -> std::process::Output {
    Command::new(bin())
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .unwrap()
}

#[tokio::test]
async fn check_config_names_bad_certificates_and_serve_refuses_them() {
    if !have("openssl") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    certificate(dir, "a", "a.test", 90);
    certificate(dir, "b", "b.test", 90);
    certificate(dir, "soon", "soon.test", 3);
    let check = |server_extra: String| {
        let (_cfg_dir, path) = config_file(server_extra);
        let out = check_config(&path);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let serve = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        (out.status.success(), text, serve.status.success())
    };
    let t = |cert: &str, key: &str, hosts: &str| {
        format!(
            "  tls:\n    listen: \"127.0.0.1:{}\"\n    cert_file: \"{d}/{cert}\"\n    key_file: \"{d}/{key}\"\n    certificates:\n      - {{ hosts: [{hosts}], cert_file: \"{d}/b.pem\", key_file: \"{d}/b.key\" }}\n",
            free_port(),
            d = dir.display()
        )
    };
    let (ok, text, _) = check(t("a.pem", "b.key", "\"b.test\""));
    assert!(!ok && text.contains("server.tls.cert_file") && text.contains("does not belong"), "{text}");
    let (ok, text, serves) = check(t("missing.pem", "a.key", "\"b.test\""));
    assert!(!ok && !serves && text.contains("missing.pem"), "{text}");
    let (ok, text, _) = check(t("a.pem", "a.key", "\"*.*.b.test\""));
    assert!(!ok && text.contains("server.tls.certificates[0].hosts"), "{text}");
    // Valid, but about to expire: a warning, not an error.
    let (_cfg_dir, path) = config_file(t("soon.pem", "soon.key", "\"b.test\""));
    let out = check_config(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("warning:") && text.contains("soon.pem expires on"), "{text}");
}

/// Over HTTP/2 one connection carries many requests, so an event stream whose session ends
/// cannot be ended by closing the connection: that one stream is reset within a second, and
/// another stream on the same connection (another session's) goes on.
#[tokio::test]
async fn an_event_stream_over_http2_ends_with_its_session_and_only_that_stream() {
    if !have("openssl") {
        eprintln!("SKIPPED: openssl is needed");
        return;
    }
    let events = crate::tunnels::raw_app(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n8\r\ndata: 1\n\r\n",
        Duration::from_secs(60),
        b"0\r\n\r\n",
    )
    .await;
    let (certs, tls, _up, g) = https_gateway("", |o| {
        o.routes = r#"
  - { name: events, path: "/events/**", upstream: events, auth: required }
  - { name: app, path: "/**", upstream: app, auth: required }
"#
        .into();
        o.more_upstreams = format!("  events: {{ addrs: [\"{events}\"], read_timeout: 120s }}");
    })
    .await;
    let (ended, kept) = (g.admin_token().await, g.admin_token().await);
    let client = https_client(&certs.path().join("a.pem"), tls);
    let url = format!("https://a.test:{tls}/events/feed");
    let mut streams = Vec::new();
    for token in [&ended, &kept] {
        let mut r = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert_eq!(&r.chunk().await.unwrap().unwrap()[..], b"data: 1\n");
        streams.push(r);
    }
    let mut kept_stream = streams.pop().unwrap();
    let mut ended_stream = streams.pop().unwrap();
    let m = g.metrics().await;
    assert_eq!(crate::tunnels::metric(&m, "portcullis_tunnels_open"), 2.0);

    assert_eq!(g.post("/api/logout", Some(&ended)).await.status(), 200);
    let start = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(1), ended_stream.chunk())
        .await
        .expect("the stream was still open a second after the logout");
    assert!(!matches!(end, Ok(Some(_))), "more data after the logout: {end:?}");
    eprintln!("HTTP/2 event stream ended {:?} after the logout", start.elapsed());
    // The other stream is still open, and the connection still serves requests.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), kept_stream.chunk()).await.is_err(),
        "the other session's stream ended too"
    );
    let r = client
        .get(format!("https://a.test:{tls}/app/x"))
        .bearer_auth(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.version()), (200, http::Version::HTTP_2));
    let m = g.metrics().await;
    assert_eq!(
        crate::tunnels::metric(&m, "portcullis_tunnels_closed_total{reason=\"revoked\"}"),
        1.0
    );
    assert_eq!(crate::tunnels::metric(&m, "portcullis_tunnels_open"), 1.0);
}

/// Every refusal for load is answered after a one-second pause, so a client retrying at once
/// draws one a second per HTTP/1.1 connection. An HTTP/2 connection carries up to 100
/// streams: at most four auth-API requests of one connection are served at a time, the rest
/// wait, and the connection's proxied requests go on meanwhile.
#[tokio::test]
async fn an_http2_connection_draws_refusals_no_faster_than_four_at_a_time() {
    if !have("openssl") {
        eprintln!("SKIPPED: openssl is needed");
        return;
    }
    let (certs, tls, _up, g) = https_gateway("", |o| {
        o.extra.push_str("rate_limits: { login: { per_minute: 1, burst: 1 } }\n");
    })
    .await;
    let token = g.admin_token().await;
    let client = https_client(&certs.path().join("a.pem"), tls);
    let base = format!("https://a.test:{tls}");
    // One request first, so the flood shares its (HTTP/2) connection.
    let r = client.get(format!("{base}/app/x")).bearer_auth(&token).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.version()), (200, http::Version::HTTP_2));
    let start = std::time::Instant::now();
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let r = client
                .post(format!("{base}/api/login"))
                .json(&serde_json::json!({"email": "nobody@example.test", "password": "wrong-password"}))
                .send();
            tokio::spawn(async move {
                let r = r.await.unwrap();
                (r.status().as_u16(), r.version(), start.elapsed())
            })
        })
        .collect();
    // The connection's other requests are not held up behind the queue.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    let r = client.get(format!("{base}/app/y")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let proxied = asked.elapsed();
    assert!(proxied < Duration::from_millis(900), "a proxied request waited {proxied:?}");
    tokio::time::sleep(Duration::from_millis(2500).saturating_sub(start.elapsed())).await;
    let mut answered = Vec::new();
    for t in flood {
        if t.is_finished() {
            answered.push(t.await.unwrap());
        } else {
            t.abort();
        }
    }
    eprintln!(
        "{} of 40 login attempts answered in 2.5 s on one connection; a proxied request {proxied:?}",
        answered.len()
    );
    assert!((4..=14).contains(&answered.len()), "{answered:?}");
    for (status, version, _) in &answered {
        assert!([401, 429].contains(status), "{answered:?}");
        assert_eq!(*version, http::Version::HTTP_2);
    }
}
