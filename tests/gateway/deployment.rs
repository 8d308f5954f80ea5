//! Secure by default once it leaves localhost: the reference config moved to a public URL is
//! production's without a switch, and each development convenience it still has is refused
//! with its key and fix; an explicit development beyond loopback runs, with a warning at every
//! start and a banner on the gateway's pages; loopback stays development.

use crate::harness::*;
use serde_norway::Value;
use std::process::Command;

/// `config/portcullis.yaml` as shipped, changed by `edit`, written to a directory of its own.
fn reference(edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/portcullis.yaml"))
        .unwrap();
    let mut v: Value = serde_norway::from_str(&text).unwrap();
    edit(&mut v);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    std::fs::write(&path, serde_norway::to_string(&v).unwrap()).unwrap();
    (dir, path)
}

/// The reference config on a real host, as an operator adapting it would leave it.
fn on_a_public_host(v: &mut Value) {
    v["server"]["public_url"] = "https://id.example.com".into();
    v["server"]["listen"] = "0.0.0.0:8080".into();
}

/// `check-config`'s verdict and everything it printed.
fn check(path: &std::path::Path) -> (bool, String) {
    let o = Command::new(bin())
        .args(["check-config", "--config"])
        .arg(path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[test]
fn the_reference_config_on_a_public_host_refuses_each_development_convenience() {
    // As shipped it is development: loopback everywhere.
    let (_d, path) = reference(|_| {});
    let (ok, out) = check(&path);
    assert!(ok && !out.contains("warning"), "{out}");

    // Moved to a public host: production, so the mock provider and the mail written to
    // files are refused, each named with its fix.
    let (_d, path) = reference(on_a_public_host);
    let (ok, out) = check(&path);
    assert!(!ok, "{out}");
    assert!(out.contains("oauth.providers.mock.kind") && out.contains("refused in production"), "{out}");
    assert!(out.contains("mail.smtp") && out.contains("mail.outbox: true"), "{out}");
    // `serve` refuses the same config before it listens anywhere.
    let o = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mail.smtp") && err.contains("oauth.providers.mock.kind"), "{err}");

    // The documentation's example secret, and a cookie without Secure on https.
    let (_d, path) = reference(|v| {
        on_a_public_host(v);
        v["tokens"]["secret"] = "change-me-to-32-or-more-random-bytes-please".into();
        v["cookie"]["secure"] = false.into();
    });
    let (ok, out) = check(&path);
    assert!(!ok);
    assert!(out.contains("tokens.secret") && out.contains("example value"), "{out}");
    assert!(out.contains("cookie.secure") && out.contains("https public_url"), "{out}");

    // Each fixed as its message says: valid, with the files kept on purpose as a warning.
    let (_d, path) = reference(|v| {
        on_a_public_host(v);
        v["oauth"]["providers"]
            .as_mapping_mut()
            .unwrap()
            .remove("mock");
        v["mail"]["outbox"] = true.into();
        v["tokens"]["secret"] = "kq3Z9v0mB1x8rT7yLw2pN6aF4hJ5cD0eGs".into();
    });
    let (ok, out) = check(&path);
    assert!(ok, "{out}");
    assert!(out.contains("warning: mail.outbox is true"), "{out}");
    // The same with SMTP: no warning at all.
    let (_d, path) = reference(|v| {
        on_a_public_host(v);
        v["oauth"]["providers"]
            .as_mapping_mut()
            .unwrap()
            .remove("mock");
        v["mail"]["smtp"] = serde_norway::from_str("{ host: smtp.example.com }").unwrap();
    });
    let (ok, out) = check(&path);
    assert!(ok && !out.contains("warning"), "{out}");
}

#[tokio::test]
async fn explicit_development_beyond_loopback_runs_with_a_warning_at_every_start_and_a_banner() {
    let (_up, mut g) = start_with(|o| {
        o.public_url = Some("http://id.example.test".into());
        o.server_extra = "  environment: development\n".into();
        o.extra = crate::oauth::MOCK.into();
    })
    .await;
    let warning = "server.environment is development while the gateway is reachable beyond this machine";
    for start in 0..2 {
        if start == 1 {
            g.signal("KILL");
            g.wait_exit(std::time::Duration::from_secs(10)).await;
            g.spawn().await;
        }
        let log = g.log();
        let line = log.lines().find(|l| l.contains(warning)).unwrap_or_else(|| panic!("{log}"));
        assert!(line.contains("\"level\":\"WARN\""), "{line}");
        let page = g.get("/login", None).await.text().await.unwrap();
        assert!(page.contains("development mode: not for real users"), "{page}");
    }
}

#[tokio::test]
async fn loopback_is_development_and_the_mock_signs_in_as_before() {
    let (_up, g) = start_with(|o| {
        o.extra = crate::oauth::MOCK.into();
    })
    .await;
    let landed = crate::oauth::sign_in(&g, "").await;
    assert!(landed.contains("code="), "{landed}");
    let page = g.get("/login", None).await.text().await.unwrap();
    assert!(!page.contains("development mode"), "no banner on loopback");
    assert!(!g.log().contains("server.environment is development"));
}

#[tokio::test]
async fn production_by_default_refuses_the_mock_on_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(([127, 0, 0, 1], 9).into());
    o.public_url = Some("https://id.example.test".into());
    o.extra = format!("{}mail: {{ outbox: true }}\n", crate::oauth::MOCK);
    let path = write_config(dir.path(), &o, free_port(), free_port());
    let (ok, out) = check(&path);
    assert!(!ok && out.contains("oauth.providers.mock.kind"), "{out}");
    // Without the mock it starts, saying where mail goes.
    let (_up, g) = start_with(|o| {
        o.public_url = Some("https://id.example.test".into());
        o.extra = "mail: { outbox: true }\n".into();
    })
    .await;
    g.wait_log("mail.outbox is true").await;
}
