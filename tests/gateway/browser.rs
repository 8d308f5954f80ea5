//! Browser flows in real headless Chromium. Skipped, saying so, where Chromium is not
//! installed (`.ci/run` installs it).

use crate::harness::*;
use std::time::Duration;

/// Flags for a headless Chromium on this machine's closed network: without the
/// background-networking ones it keeps trying to reach Google's hosts.
pub const SANDBOXED_HEADLESS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Chromium's binary, if this machine has one.
pub fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

/// Loads `url` headless, lets its scripts and redirects run, and returns the final DOM.
async fn dump_dom(url: &str) -> Option<String> {
    let bin = chromium()?;
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(bin)
        .arg("--headless")
        .args(SANDBOXED_HEADLESS)
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("chromium hung")
        .unwrap();
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

#[tokio::test]
async fn a_browser_signs_in_with_the_mock_and_lands_on_the_success_url() {
    if chromium().is_none() {
        eprintln!(
            "SKIPPED: no Chromium on this machine (apt-get install chromium); .ci/run installs it"
        );
        return;
    }
    let (up, g) = start_with(|o| {
        o.extra = "oauth:\n  success_url: \"/public/welcome\"\n  providers:\n    mock: { kind: mock, client_id: c, client_secret: s, personas: [ { sub: \"p-1\", email: \"ann@example.test\", name: \"Ann\" } ] }\n".into();
    })
    .await;
    let port = g.base.rsplit(':').next().unwrap();
    let dom = dump_dom(&format!("http://localhost:{port}/auth/mock"))
        .await
        .unwrap();
    assert!(
        dom.contains("upstream saw /public/welcome"),
        "the callback page exchanged the code and moved on:\n{dom}"
    );
    let seen = up.last();
    assert_eq!(seen.path, "/public/welcome");
    assert_eq!(seen.headers["sec-fetch-site"], "same-origin");
}
