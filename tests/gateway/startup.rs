//! Start-up failures: each is one clear line on stderr naming what failed, a non-zero exit
//! within 5 s, no panic, no colour codes, and no process left behind.

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `serve` on `yaml`; returns stderr after asserting a fast, clean failure.
fn fails_fast(dir: &std::path::Path, yaml: &str) -> String {
    let config = dir.join("portcullis.yaml");
    std::fs::write(&config, yaml).unwrap();
    let start = Instant::now();
    let mut child = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .env_remove("PORTCULLIS_LOG_JSON")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after 5 s:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = child.wait_with_output().unwrap().stderr;
    let err = String::from_utf8_lossy(&err).to_string();
    assert!(!status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains('\x1b'), "colour codes in a file: {err:?}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_string()
}

fn config(dir: &std::path::Path, listen: u16, admin: u16, extra: &str) -> String {
    format!(
        "server:\n  listen: \"127.0.0.1:{listen}\"\n  admin_listen: \"127.0.0.1:{admin}\"\n  data_dir: \"{}\"\n{extra}tokens:\n  secret: \"{SECRET}\"\nupstreams:\n  app: {{ addrs: [\"127.0.0.1:1\"] }}\nroutes:\n  - {{ path: \"/**\", upstream: app, auth: required }}\n",
        dir.join("data").display()
    )
}

#[test]
fn start_up_failures_are_one_line_and_a_quick_exit() {
    if crate::ON_POSTGRES {
        return; // store-independent: the SQLite pass runs it
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().port();
    let line = fails_fast(d, &config(d, taken, free_port(), ""));
    assert!(
        line.contains(&format!("127.0.0.1:{taken}")) && line.contains("server.listen"),
        "{line}"
    );
    let line = fails_fast(d, &config(d, free_port(), taken, ""));
    assert!(
        line.contains(&format!("127.0.0.1:{taken}")) && line.contains("server.admin_listen"),
        "{line}"
    );
    // A data directory that cannot be a directory (root may write anywhere else).
    let yaml = config(d, free_port(), free_port(), "")
        .replace(&d.join("data").display().to_string(), "/dev/null/data");
    let line = fails_fast(d, &yaml);
    assert!(line.contains("server.data_dir /dev/null/data"), "{line}");
    // A database that does not answer: named, password hidden.
    let closed = free_port();
    let line = fails_fast(
        d,
        &config(
            d,
            free_port(),
            free_port(),
            &format!("database:\n  url: \"postgres://u:hunter2@127.0.0.1:{closed}/db\"\n"),
        ),
    );
    assert!(
        line.contains("database.url") && line.contains("u:***@"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
    // A key file that cannot be read.
    let yaml = config(d, free_port(), free_port(), "").replace(
        &format!("  secret: \"{SECRET}\"\n"),
        "  algorithm: EdDSA\n  private_key_file: \"/nonexistent/key.pem\"\n  public_key_file: \"/nonexistent/key.pub\"\n",
    );
    let err = fails_fast(d, &yaml);
    assert!(err.contains("/nonexistent/key.pem"), "{err}");
}
